"""Translations of the addons: check them, write the templates, merge an export.

python scripts/i18n.py check
    Every ``i18n/*.po`` parses, has no fuzzy entry, keeps the ``%(name)s`` /
    ``%s`` placeholders of its source text and translates every term (a term
    that reads the same in the translation has an empty msgstr and the
    comment ``# Same as the source text.``). Every addon's ``i18n/ADDON.pot``
    holds exactly the terms of its ``.po`` files. Part of the lint stage of
    scripts/test.sh (OCA's ``oca-checks-po`` checks the layout there too).

python scripts/i18n.py pot
    Writes each addon's ``i18n/ADDON.pot`` from its ``nl.po`` and rewrites
    every ``.po`` / ``.pot`` in OCA's layout (entries sorted by msgid, lines
    wrapped at 78 columns, no msgstr equal to its msgid). Run it after
    changing ``nl.po`` by hand or after merging branches that did.

python scripts/i18n.py merge ADDON EXPORT.po
    Merges an export (``odoo --i18n-export=EXPORT.po --modules=ADDON
    --language=nl_NL``) into ADDON/i18n/nl.po: existing translations are
    kept, new terms are added untranslated, terms gone from the code are
    dropped; then writes the ``.pot`` as ``pot`` does. Prints the terms that
    still need a translation.
"""

import re
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%[sdr]|\{\{.*?\}\}")
SOURCE_LANGUAGE = "nl.po"
# Marks a term whose translation is its source text (OCA's layout clears such
# a msgstr, and Odoo then shows the source text).
SAME = "Same as the source text."
POT_HEADER = (
    "Translation of Odoo Server.\n"
    "This file contains the translation of the following modules:\n"
    "\t* {addon}\n"
)


def _placeholders(text):
    return sorted(PLACEHOLDER.findall(text))


def _addons():
    """The addons of the repository that have translations."""
    return sorted(
        path.parent.parent
        for path in ROOT.glob(f"*/i18n/{SOURCE_LANGUAGE}")
        if (path.parent.parent / "__manifest__.py").exists()
    )


def _key(entry):
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


def _pretty(po, template=False):
    """The text of ``po`` in OCA's layout (what ``oca-checks-po`` expects)."""
    po.sort(key=lambda entry: entry.msgid)
    if not template:
        for entry in po:
            if entry.msgstr and entry.msgstr == entry.msgid:
                entry.msgstr = ""
                entry.tcomment = SAME
    return str(po)


def _write(path, po, template=False):
    text = _pretty(po, template)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


def _template(addon, source):
    """The ``.pot`` of ``addon``: the terms of ``source`` without translations."""
    pot = polib.POFile(wrapwidth=source.wrapwidth)
    pot.header = POT_HEADER.format(addon=addon.name)
    pot.metadata = {
        key: value
        for key, value in source.metadata.items()
        if key not in ("Language", "Plural-Forms")
    }
    pot.metadata["Plural-Forms"] = ""
    for entry in source:
        if entry.obsolete:
            continue
        pot.append(
            polib.POEntry(
                msgctxt=entry.msgctxt,
                msgid=entry.msgid,
                msgid_plural=entry.msgid_plural,
                msgstr="",
                msgstr_plural=dict.fromkeys(entry.msgstr_plural, ""),
                occurrences=entry.occurrences,
                comment=entry.comment,
                flags=entry.flags,
            )
        )
    return pot


def write_templates(addons=None):
    for addon in addons or _addons():
        for path in sorted((addon / "i18n").glob("*.po")):
            _write(path, polib.pofile(str(path)))
        source = polib.pofile(str(addon / "i18n" / SOURCE_LANGUAGE))
        _write(addon / "i18n" / f"{addon.name}.pot", _template(addon, source), True)
    return 0


def _entry_problems(path, entry):
    where = f"{path.relative_to(ROOT)}: {entry.msgid[:60]!r}"
    if entry.fuzzy:
        return [f"{where}: fuzzy"]
    if not entry.msgstr and not entry.msgstr_plural:
        if entry.tcomment == SAME:
            return []
        return [f"{where}: not translated"]
    if _placeholders(entry.msgid) != _placeholders(entry.msgstr):
        return [f"{where}: placeholders differ"]
    return []


def _template_problems(addon, terms):
    """The differences between the ``.pot`` of ``addon`` and its ``.po`` files."""
    path = addon / "i18n" / f"{addon.name}.pot"
    name = path.relative_to(ROOT)
    if not path.exists():
        return [f"{name}: missing; run python scripts/i18n.py pot"]
    pot = {_key(e): e for e in polib.pofile(str(path)) if not e.obsolete}
    problems = []
    for po_name, po_terms in terms.items():
        missing = po_terms - pot.keys()
        extra = pot.keys() - po_terms
        problems += [f"{name}: lacks {key[1][:60]!r} of {po_name}" for key in missing]
        problems += [f"{name}: {key[1][:60]!r} not in {po_name}" for key in extra]
    problems += [
        f"{name}: {key[1][:60]!r} has a msgstr" for key, e in pot.items() if e.msgstr
    ]
    if problems:
        problems.append(f"{name}: out of date; run python scripts/i18n.py pot")
    return problems


def check():
    problems = []
    files = sorted(ROOT.glob("*/i18n/*.po"))
    terms = {}
    for path in files:
        try:
            po = polib.pofile(str(path))
        except (OSError, ValueError) as error:
            problems.append(f"{path}: does not parse: {error}")
            continue
        entries = [entry for entry in po if not entry.obsolete]
        terms[path] = {_key(entry) for entry in entries}
        for entry in entries:
            problems += _entry_problems(path, entry)
    for addon in _addons():
        addon_terms = {
            path.relative_to(ROOT): keys
            for path, keys in terms.items()
            if path.parent.parent == addon
        }
        problems += _template_problems(addon, addon_terms)
    for problem in problems:
        print(problem)
    print(f"translations: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


def merge(addon, export):
    target = ROOT / addon / "i18n" / SOURCE_LANGUAGE
    fresh = polib.pofile(export)
    old = {}
    if target.exists():
        old = {(e.msgctxt, e.msgid): e for e in polib.pofile(str(target))}
    missing = []
    for entry in fresh:
        known = old.get((entry.msgctxt, entry.msgid))
        entry.msgstr = known.msgstr if known else ""
        if known and not known.msgstr and known.tcomment == SAME:
            entry.msgstr = entry.msgid
        if not entry.msgstr:
            missing.append(entry.msgid)
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    target.parent.mkdir(exist_ok=True)
    fresh.save(str(target))
    write_templates([ROOT / addon])
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    print(f"{target}: {len(fresh)} terms, {len(missing)} untranslated")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "check":
        sys.exit(check())
    if len(sys.argv) == 2 and sys.argv[1] == "pot":
        sys.exit(write_templates())
    if len(sys.argv) == 4 and sys.argv[1] == "merge":
        sys.exit(merge(sys.argv[2], sys.argv[3]))
    print(__doc__)
    sys.exit(2)
