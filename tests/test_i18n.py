"""scripts/i18n.py: the .pot of each addon follows its nl.po, the check sees drift."""

import shutil

import i18n
import polib
import pytest

ADDON = "carerix_mail_recruitment"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A copy of one addon's manifest and translations, seen as the repository."""
    addon = tmp_path / ADDON
    shutil.copytree(i18n.ROOT / ADDON / "i18n", addon / "i18n")
    shutil.copy(i18n.ROOT / ADDON / "__manifest__.py", addon)
    monkeypatch.setattr(i18n, "ROOT", tmp_path)
    return addon


def _edit(path, change):
    po = polib.pofile(str(path))
    change(po)
    po.save(str(path))


def test_a_term_missing_from_the_pot_fails_the_check(repo, capsys):
    pot = repo / "i18n" / f"{ADDON}.pot"
    _edit(pot, lambda po: po.remove(po[0]))
    assert i18n.check() == 1
    out = capsys.readouterr().out
    assert f"{ADDON}.pot: lacks" in out
    assert "run python scripts/i18n.py pot" in out

    assert i18n.write_templates() == 0
    assert i18n.check() == 0, capsys.readouterr().out


def test_a_new_term_in_nl_po_goes_into_the_pot(repo, capsys):
    nl = repo / "i18n" / "nl.po"
    entry = polib.POEntry(msgid="Brand-new term", msgstr="Gloednieuwe term")
    _edit(nl, lambda po: po.append(entry))
    assert i18n.check() == 1
    assert "lacks 'Brand-new term'" in capsys.readouterr().out

    i18n.write_templates()
    assert i18n.check() == 0, capsys.readouterr().out
    pot = polib.pofile(str(repo / "i18n" / f"{ADDON}.pot"))
    assert pot.find("Brand-new term").msgstr == ""
    assert [e.msgid for e in pot] == sorted(e.msgid for e in pot)


def test_a_term_gone_from_nl_po_leaves_the_pot(repo, capsys):
    nl = repo / "i18n" / "nl.po"
    gone = polib.pofile(str(nl))[0].msgid
    _edit(nl, lambda po: po.remove(po[0]))
    assert i18n.check() == 1
    assert "not in" in capsys.readouterr().out

    i18n.write_templates()
    assert i18n.check() == 0
    assert polib.pofile(str(repo / "i18n" / f"{ADDON}.pot")).find(gone) is None


def test_an_untranslated_term_fails_unless_marked_the_same(repo, capsys):
    nl = repo / "i18n" / "nl.po"
    _edit(nl, lambda po: po.append(polib.POEntry(msgid="Status", msgstr="")))
    i18n.write_templates()
    assert i18n.check() == 1
    assert "'Status': not translated" in capsys.readouterr().out

    def same(po):
        po.find("Status").msgstr = "Status"

    _edit(nl, same)
    i18n.write_templates()
    entry = polib.pofile(str(nl)).find("Status")
    assert (entry.msgstr, entry.tcomment) == ("", i18n.SAME)
    assert i18n.check() == 0, capsys.readouterr().out
