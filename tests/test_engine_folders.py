"""Role proposals for IMAP folders: flags first, then well-known names."""

import pytest

from carerix_mail.engine.folders import ROLES, guess_role

CASES = [
    # name, flags, delimiter, expected role
    ("INBOX", (), "/", "inbox"),
    ("inbox", (), ".", "inbox"),
    ("Inbox", [b"\\HasNoChildren"], "/", "inbox"),
    ("INBOX", [b"\\Trash"], "/", "inbox"),  # INBOX is INBOX whatever the flags
    # RFC 6154 flags
    ("Anything", [b"\\Sent"], "/", "sent"),
    ("Anything", ["\\sent"], "/", "sent"),  # str, lower case
    ("Anything", [b"\\SENT", b"\\HasNoChildren"], "/", "sent"),
    ("Drafts", [b"\\Drafts"], "/", "ignore"),
    ("Prullenbak", [b"\\Trash"], "/", "ignore"),
    ("Spam", [b"\\Junk"], "/", "ignore"),
    ("[Gmail]/All Mail", [b"\\All", b"\\HasNoChildren"], "/", "ignore"),
    ("Archief", [b"\\Archive"], "/", "ignore"),
    ("[Gmail]/Starred", [b"\\Flagged"], "/", "ignore"),
    ("[Gmail]", [b"\\Noselect", b"\\HasChildren"], "/", "ignore"),
    # flags override names
    ("Sent", [b"\\Drafts"], "/", "ignore"),
    ("Sent Items", [b"\\Trash"], "/", "ignore"),
    ("Verzonden items", [b"\\Noselect"], "/", "ignore"),
    ("Drafts", [b"\\Sent"], "/", "sent"),
    ("Outbox-copy", [b"\\Sent"], None, "sent"),
    # English names
    ("Sent", (), "/", "sent"),
    ("sent", (), "/", "sent"),
    ("Sent Items", (), "/", "sent"),
    ("Sent Messages", (), "/", "sent"),
    ("Sent Mail", (), "/", "sent"),
    ("  sent   items ", (), "/", "sent"),
    # Gmail / Google Mail
    ("[Gmail]/Sent Mail", [b"\\HasNoChildren"], "/", "sent"),
    ("[Google Mail]/Sent Mail", (), "/", "sent"),
    ("[Gmail]/Sent Mail", (), None, "sent"),
    ("[Gmail]/Verzonden berichten", (), "/", "sent"),
    # Dutch
    ("Verzonden", (), "/", "sent"),
    ("Verzonden items", (), "/", "sent"),
    ("VERZONDEN BERICHTEN", (), "/", "sent"),
    # German
    ("Gesendet", (), "/", "sent"),
    ("Gesendete Objekte", (), "/", "sent"),
    ("Gesendete Elemente", (), ".", "sent"),
    # French, accents or not
    ("Envoyés", (), "/", "sent"),
    ("Envoyes", (), "/", "sent"),
    ("Éléments envoyés", (), "/", "sent"),
    ("elements envoyes", (), "/", "sent"),
    ("Messages envoyés", (), "/", "sent"),
    ("&AMk-l&AOk-ments envoy&AOk-s", (), "/", "sent"),  # modified UTF-7
    # Courier / Dovecot "." hierarchy
    ("INBOX.Sent", (), ".", "sent"),
    ("INBOX.Sent Items", (), ".", "sent"),
    ("INBOX/Verzonden", (), "/", "sent"),
    ("INBOX.Sent", (), None, "sent"),
    ("INBOX.Drafts", (), ".", "ignore"),
    ("INBOX.Klanten", (), ".", "ignore"),
    # everything else
    ("Drafts", (), "/", "ignore"),
    ("Trash", (), "/", "ignore"),
    ("Klanten/Acme", (), "/", "ignore"),
    ("Sentiment analysis", (), "/", "ignore"),
    ("Unsent", (), "/", "ignore"),
    ("Sent/Old", (), "/", "ignore"),
    ("", (), "/", "ignore"),
    # bytes input
    (b"INBOX", [b"\\HasNoChildren"], b"/", "inbox"),
    (b"Sent Items", None, b"/", "sent"),
]


@pytest.mark.parametrize(("name", "flags", "delimiter", "expected"), CASES)
def test_guess_role(name, flags, delimiter, expected):
    assert guess_role(name, flags, delimiter) == expected


def test_roles_constant():
    assert ROLES == ("inbox", "sent", "ignore")
    assert {case[3] for case in CASES} <= set(ROLES)
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("name", "flags"),
    [(None, None), (123, [object()]), ("Sent", [None, 5]), ("&garbage-", ())],
)
def test_guess_role_never_raises(name, flags):
    assert guess_role(name, flags, None) in ROLES
