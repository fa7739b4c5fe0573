"""Counts the Odoo test methods in a directory without importing Odoo.

Used to say how many Odoo tests were not run when Odoo is absent.
"""

import ast
import sys
from pathlib import Path


def count_tests(directory):
    total = 0
    for path in Path(directory).glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                total += sum(
                    1
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and item.name.startswith("test")
                )
    return total


if __name__ == "__main__":
    print(sum(count_tests(d) for d in (sys.argv[1:] or ["carerix_mail/tests"])))
