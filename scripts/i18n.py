"""Translations of the addons: check them, or merge a fresh export into them.

python scripts/i18n.py check
    Every ``i18n/*.po`` parses, has no empty or fuzzy entry, and keeps the
    ``%(name)s`` / ``%s`` placeholders of its source text. Part of the lint
    stage of scripts/test.sh.

python scripts/i18n.py merge ADDON EXPORT.po
    Merges an export (``odoo --i18n-export=EXPORT.po --modules=ADDON
    --language=nl_NL``) into ADDON/i18n/nl.po: existing translations are
    kept, new terms are added untranslated, terms gone from the code are
    dropped. Prints the terms that still need a translation.
"""

import re
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%[sdr]|\{\{.*?\}\}")


def _placeholders(text):
    return sorted(PLACEHOLDER.findall(text))


def check():
    problems = []
    files = sorted(ROOT.glob("*/i18n/*.po"))
    for path in files:
        try:
            po = polib.pofile(str(path))
        except (OSError, ValueError) as error:
            problems.append(f"{path}: does not parse: {error}")
            continue
        for entry in po:
            where = f"{path.relative_to(ROOT)}: {entry.msgid[:60]!r}"
            if entry.obsolete:
                continue
            if not entry.msgstr:
                problems.append(f"{where}: not translated")
            elif entry.fuzzy:
                problems.append(f"{where}: fuzzy")
            elif _placeholders(entry.msgid) != _placeholders(entry.msgstr):
                problems.append(f"{where}: placeholders differ")
    for problem in problems:
        print(problem)
    print(f"translations: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


def merge(addon, export):
    target = ROOT / addon / "i18n" / "nl.po"
    fresh = polib.pofile(export)
    old = {}
    if target.exists():
        old = {(e.msgctxt, e.msgid): e.msgstr for e in polib.pofile(str(target))}
    missing = []
    for entry in fresh:
        entry.msgstr = old.get((entry.msgctxt, entry.msgid), "")
        if not entry.msgstr:
            missing.append(entry.msgid)
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    target.parent.mkdir(exist_ok=True)
    fresh.save(str(target))
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    print(f"{target}: {len(fresh)} terms, {len(missing)} untranslated")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        sys.exit(check())
    if len(sys.argv) == 4 and sys.argv[1] == "merge":
        sys.exit(merge(sys.argv[2], sys.argv[3]))
    print(__doc__)
    sys.exit(2)
