"""Fails when an XML file of the repository does not parse."""

import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", ".git", "node_modules", ".artifacts"}


def main():
    bad = 0
    count = 0
    for path in sorted(ROOT.rglob("*.xml")):
        if SKIP & set(path.relative_to(ROOT).parts):
            continue
        count += 1
        try:
            ElementTree.parse(path)
        except ElementTree.ParseError as exc:
            bad += 1
            print(f"{path.relative_to(ROOT)}: {exc}")
    print(f"XML: {count} files, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
