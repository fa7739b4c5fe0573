"""Propose a role (inbox / sent / ignore) for an IMAP folder.

The proposal comes first from the RFC 6154 special-use flags the server announces
(``\\Sent``, ``\\Drafts``, ``\\Trash``, ...), then from well-known folder names in
English, Dutch, German and French (Gmail, Outlook/Exchange, Dovecot, Courier, ...).
It is only a proposal: the user can override every folder by hand, and maps extra
inboxes that way. Plain Python; never imports odoo.
"""

import base64
import unicodedata

ROLES = ("inbox", "sent", "ignore")

# Folders that cannot be selected at all.
_UNSELECTABLE_FLAGS = frozenset({"\\noselect", "\\nonexistent"})
# RFC 6154 special-use flags (and Gmail's XLIST spelling) that are never synced.
_IGNORE_FLAGS = frozenset(
    {
        "\\drafts",
        "\\trash",
        "\\junk",
        "\\spam",
        "\\all",
        "\\allmail",
        "\\archive",
        "\\flagged",
        "\\starred",
        "\\important",
    }
)
_SENT_FLAGS = frozenset({"\\sent"})
_INBOX_FLAGS = frozenset({"\\inbox"})  # Gmail XLIST

_SENT_NAMES_RAW = (
    # English
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Sent-Mail",
    "Sent Email",
    # Dutch
    "Verzonden",
    "Verzonden items",
    "Verzonden berichten",
    "Verzonden e-mail",
    # German
    "Gesendet",
    "Gesendete Objekte",
    "Gesendete Elemente",
    "Gesendete Nachrichten",
    # French
    "Envoyés",
    "Éléments envoyés",
    "Messages envoyés",
    "Courrier envoyé",
)
# Full names (path included) recognised as a whole, delimiter or not.
_SENT_FULL_NAMES_RAW = (
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
)


def _fold(text):
    """Case-, accent- and whitespace-insensitive form of a folder name."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


_SENT_NAMES = frozenset(_fold(name) for name in _SENT_NAMES_RAW)
_SENT_FULL_NAMES = frozenset(_fold(name) for name in _SENT_FULL_NAMES_RAW)


def _decode_modified_utf7(name):
    """Decode an IMAP modified UTF-7 name (RFC 3501 5.1.3); return it unchanged if
    it is not one."""
    if "&" not in name:
        return name
    out = []
    i = 0
    while i < len(name):
        char = name[i]
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            return name
        chunk = name[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            try:
                data = chunk.replace(",", "/")
                data += "=" * (-len(data) % 4)
                out.append(base64.b64decode(data, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                return name
        i = end + 1
    return "".join(out)


def _flag_set(flags):
    result = set()
    for flag in flags or ():
        if isinstance(flag, (bytes, bytearray)):
            flag = bytes(flag).decode("ascii", "replace")
        result.add(str(flag).strip().casefold())
    return result


def _is_sent_name(name, delimiter):
    folded = _fold(name)
    if folded in _SENT_FULL_NAMES or folded in _SENT_NAMES:
        return True
    if delimiter:
        last = name.rsplit(delimiter, 1)[-1]
        if _fold(last) in _SENT_NAMES:
            return True
    # "INBOX.Sent" / "INBOX/Sent Items" when the delimiter is unknown.
    for sep in (".", "/"):
        head, found, tail = name.partition(sep)
        if found and _fold(head) == "inbox" and _fold(tail) in _SENT_NAMES:
            return True
    return False


def guess_role(name, flags=(), delimiter=None):
    """Propose a role for an IMAP folder: one of :data:`ROLES`.

    :param name: folder name as listed by the server (str; bytes are decoded, a
        modified UTF-7 name is decoded too)
    :param flags: iterable of flags as bytes or str, e.g. ``b"\\\\Sent"``,
        ``b"\\\\HasNoChildren"``; compared case-insensitively
    :param delimiter: hierarchy delimiter of the folder (``"/"``, ``"."``) or None

    Order: a ``\\Noselect`` folder is ignored (it holds no mail); ``INBOX`` is the
    inbox; the ``\\Sent`` flag means sent; ``\\Drafts``, ``\\Trash``, ``\\Junk``,
    ``\\All``, ``\\Archive``, ``\\Flagged`` mean ignore (flags win over names); then
    the full name and its last path component are matched against well-known sent
    folder names. Everything else is ignored: the user maps extra inboxes by hand.
    """
    try:
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("utf-8", "replace")
        name = str(name or "")
        if isinstance(delimiter, (bytes, bytearray)):
            delimiter = bytes(delimiter).decode("ascii", "replace")
        flag_set = _flag_set(flags)
        if flag_set & _UNSELECTABLE_FLAGS:
            return "ignore"
        if name.strip().casefold() == "inbox":
            return "inbox"
        if flag_set & _SENT_FLAGS:
            return "sent"
        if flag_set & _IGNORE_FLAGS:
            return "ignore"
        if flag_set & _INBOX_FLAGS:
            return "inbox"
        for candidate in {name, _decode_modified_utf7(name)}:
            if _is_sent_name(candidate, delimiter):
                return "sent"
    except Exception:  # a proposal must never break folder discovery
        return "ignore"
    return "ignore"
