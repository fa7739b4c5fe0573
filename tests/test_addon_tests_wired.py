"""``odoo --test-enable`` runs only the test modules that an addon's
``tests/__init__.py`` imports: every ``test_*.py`` must be imported there."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("addon", ["carerix_mail", "carerix_mail_recruitment"])
def test_every_test_module_is_imported(addon):
    tests = ROOT / addon / "tests"
    tree = ast.parse((tests / "__init__.py").read_text())
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module
        for alias in node.names
    }
    modules = {path.stem for path in tests.glob("test_*.py")}
    assert modules, tests
    assert sorted(modules - imported) == []
