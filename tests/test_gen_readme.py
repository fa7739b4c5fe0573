"""scripts/gen_readme.py: README.rst built from readme/*.md, and its check."""

import shutil

import gen_readme
import pytest

ADDON = "carerix_mail_recruitment"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A copy of one addon's manifest, fragments and README, seen as the repository."""
    addon = tmp_path / ADDON
    shutil.copytree(gen_readme.ROOT / ADDON / "readme", addon / "readme")
    for name in ("__manifest__.py", "README.rst"):
        shutil.copy(gen_readme.ROOT / ADDON / name, addon)
    monkeypatch.setattr(gen_readme, "ROOT", tmp_path)
    return addon


def test_markdown_subset_to_rst():
    text = (
        "Intro with `code`, **bold**, *italic* and [a link](https://x.example/a).\n"
        "- first item\n"
        "  continued\n"
        "- second\n"
        "After the list.\n"
        "\n"
        "### Steps\n"
        "1. one\n"
        "2. two\n"
        "\n"
        "```sh\n"
        "pip install x\n"
        "```\n"
    )
    assert gen_readme.markdown_to_rst(text) == (
        "Intro with ``code``, **bold**, *italic* and "
        "`a link <https://x.example/a>`__.\n"
        "\n"
        "- first item\n"
        "  continued\n"
        "- second\n"
        "\n"
        "After the list.\n"
        "\n"
        "Steps\n"
        "~~~~~\n"
        "\n"
        "1. one\n"
        "2. two\n"
        "\n"
        "::\n"
        "\n"
        "    pip install x\n"
    )


@pytest.mark.parametrize(
    "text",
    ["- item\n  - nested\n", "> quoted\n", "<b>html</b>\n", "```\nnot closed\n"],
)
def test_unsupported_markdown_fails_loudly(text):
    with pytest.raises(gen_readme.FragmentError):
        gen_readme.markdown_to_rst(text)


def test_readme_follows_the_fragments(repo, capsys):
    assert gen_readme.main(["--check"]) == 0, capsys.readouterr().out
    usage = repo / "readme" / "USAGE.md"
    usage.write_text(usage.read_text() + "\nA new paragraph.\n")
    assert gen_readme.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "+A new paragraph." in out
    assert f"{ADDON}/README.rst: out of date" in out

    assert gen_readme.main([]) == 0
    readme = (repo / "README.rst").read_text()
    assert "Usage\n=====\n" in readme
    assert readme.index("A new paragraph.") > readme.index("Usage\n=====")
    assert readme.index("A new paragraph.") < readme.index("Credits\n=======")
    assert gen_readme.main(["--check"]) == 0


def test_invalid_rst_fails_the_check(repo, capsys):
    (repo / "readme" / "USAGE.md").write_text("An *unclosed emphasis.\n")
    assert gen_readme.main([]) == 1
    assert "Inline emphasis start-string without end-string" in capsys.readouterr().out


def test_readme_holds_the_manifest_and_every_fragment(repo):
    readme = gen_readme.render(repo)
    assert readme.startswith(
        "==========================\n"
        "Carerix Mail - Recruitment\n"
        "==========================\n"
    )
    for title in ("Configuration", "Usage", "Credits"):
        assert f"\n{title}\n{'=' * len(title)}\n" in readme
    for title in ("Authors", "Contributors", "Maintainers"):
        assert f"\n{title}\n{'-' * len(title)}\n" in readme
    assert "maturity-Beta-yellow" in readme
    assert "licence-LGPL--3-blue" in readme
    assert ".. contents::" in readme
