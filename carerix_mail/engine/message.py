"""Message helpers that never raise on bad input.

Every public function here takes whatever bytes a mail server hands over and returns
what it could make of them plus a tuple of ``problems`` (short English strings).
None of them raises, whatever the input: a message that cannot be parsed in full is
reported through :attr:`ParsedMessage.raw_fallback_reason`, and the caller stores
the raw ``.eml`` with that reason, so no mail is ever lost to a parser error.

Cost is bounded: :func:`parse_headers` reads only the header block (up to
:data:`MAX_HEADER_BYTES`) so it does not grow with the body, addresses are capped
(:data:`MAX_ADDRESSES`), and :func:`safe_parse` walks MIME parts iteratively over
the raw bytes (no recursion, no quadratic string building) with caps on parts,
depth and time.

Plain Python (stdlib only); never imports odoo.
"""

import binascii
import codecs
import datetime
import hashlib
import mimetypes
import re
import time
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value, parsedate_tz

MAX_HEADER_BYTES = 256 * 1024
"""Header bytes considered by :func:`parse_headers`; the rest is ignored."""
MAX_PART_HEADER_BYTES = 64 * 1024
"""Header bytes considered per MIME part by :func:`safe_parse`."""
MAX_ADDRESSES = 1000
"""Addresses kept over From, To, Cc and Reply-To together."""
MAX_ADDRESS_HEADER_CHARS = 128 * 1024
"""Characters of one address header that are parsed."""
MAX_IDS = 500
"""Message-IDs kept from References (the first one and the most recent ones)."""
MAX_MESSAGE_ID_CHARS = 995
TIME_CHECK_EVERY = 16
"""safe_parse looks at the clock every this many MIME parts."""

_REPLY_PREFIXES = (
    "re",
    "fwd",
    "fw",
    "aw",
    "wg",
    "antw",
    "antwoord",
    "doorst",
    "tr",
    "sv",
    "vs",
    "rv",
    "ref",
)
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:%s)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+"
    % "|".join(sorted(_REPLY_PREFIXES, key=len, reverse=True)),
    re.IGNORECASE,
)
_WS_RE = re.compile(r"\s+")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_LINE_SPLIT_RE = re.compile(rb"\r\n|\n|\r")
_HEADER_NAME_RE = re.compile(rb"^[!-9;-~]+$")  # printable ASCII except ":"
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ENCODED_GAP_RE = re.compile(r"(\?=)\s+(=\?)")
_ANGLE_ID_RE = re.compile(r"<([^<>]*)>")
_ADDRESS_TOKEN_RE = re.compile(
    r'"(?:\\.|[^"\\])*"?|\((?:\\.|[^()\\])*\)?|<[^<>]*>?|[,;:]|[^",;:<(]+|.', re.S
)
_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_KNOWN_MAIN_TYPES = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "application",
        "multipart",
        "message",
        "font",
        "model",
    }
)
_LOCAL_BAD_CHARS = frozenset('<>()[],;:"\\')
_DOMAIN_LABEL_RE = re.compile(r"^[^\s<>()\[\],;:\"\\@/]+$")
_CHARSET_ALIASES = {
    "unknown-8bit": None,
    "x-unknown": None,
    "unknown": None,
    "default": None,
    "us-ascii": None,  # commonly mislabelled 8-bit text: utf-8, else cp1252
    "ascii": None,
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "windows-874": "cp874",
    "ks_c_5601-1987": "cp949",
}
_SINGLE_HEADERS = (
    (b"message-id", "Message-ID"),
    (b"subject", "Subject"),
    (b"from", "From"),
    (b"date", "Date"),
)
# A Date header holding another date is taken as no date: the mail was then
# received now. Mail did not exist before 1970.
MIN_DATE_YEAR = 1970
_WRITTEN_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3,}\.?\s+(\d{3,})\b")
# Headers whose values identify a message's content (see _dedup_key).
_CONTENT_HEADERS = (b"from", b"to", b"cc", b"date", b"subject")


@dataclass(frozen=True)
class Address:
    """One mailbox of an address header; ``email`` is normalized."""

    name: str
    email: str


@dataclass(frozen=True)
class MessageInfo:
    """What :func:`parse_headers` found in a message's header block."""

    message_id: str | None
    dedup_key: str
    in_reply_to: tuple = ()
    references: tuple = ()
    from_: tuple = ()
    to: tuple = ()
    cc: tuple = ()
    reply_to: tuple = ()
    subject: str = ""
    normalized_subject: str = ""
    date: datetime.datetime | None = None
    problems: tuple = ()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMessage:
    """Result of :func:`safe_parse`.

    ``problems`` holds the header problems (``info.problems``) followed by the MIME
    ones. When ``raw_fallback_reason`` is set, the parse stopped early (or failed):
    the fields hold what was found before that, and the caller should keep the raw
    message with the reason.
    """

    info: MessageInfo
    body_text: str = ""
    body_html: str = ""
    attachments: tuple = ()
    problems: tuple = ()
    raw_fallback_reason: str | None = None


# ---------------------------------------------------------------------------
# small tolerant decoders


def _as_bytes(raw):
    if raw is None:
        return b""
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    try:
        return bytes(raw)
    except Exception:
        return b""


def _lookup_charset(charset):
    """A Python text codec name for a MIME charset, or None if unknown."""
    if not charset:
        return None
    name = str(charset).strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix
    if name in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # base64, rot13, zlib ...: not a charset
    return name


def decode_bytes(data, charset=None):
    """Decode bytes to str without ever failing.

    A known charset decodes with replacement characters for invalid bytes. An
    unknown or missing charset tries UTF-8 and falls back to cp1252 / latin-1.
    NUL and unpaired surrogates (from NUL bytes, or codecs such as utf-7 and
    unicode_escape), which no database text can hold, become U+FFFD.
    Returns ``(text, problem_or_None)``.
    """
    text, problem = _decode_bytes(data, charset)
    if _UNSTORABLE_RE.search(text):
        text = _UNSTORABLE_RE.sub("\ufffd", text)
        problem = problem or "NUL or unpaired surrogate characters replaced"
    return text, problem


def _decode_bytes(data, charset):
    data = _as_bytes(data)
    codec = _lookup_charset(charset)
    if codec:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            return data.decode(codec, "replace"), "invalid %s bytes replaced" % codec
        except Exception:  # pylint: disable=except-pass
            pass  # broken codec implementation: fall through
    problem = None
    if charset and not codec and str(charset).strip().lower() not in _CHARSET_ALIASES:
        problem = "unknown charset %r" % str(charset)[:40]
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:  # pylint: disable=except-pass
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text, problem or "undeclared 8-bit text decoded as latin-1"


def _b64decode_lenient(data):
    """Decode base64, skipping garbage; returns (bytes, problem_or_None)."""
    try:
        return binascii.a2b_base64(data), None
    except (binascii.Error, ValueError):  # pylint: disable=except-pass
        pass
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    rest = len(cleaned) % 4
    if rest == 1:
        cleaned = cleaned[:-1]
    elif rest:
        cleaned += b"=" * (4 - rest)
    try:
        return binascii.a2b_base64(cleaned), "bad base64 data"
    except (binascii.Error, ValueError):
        return data, "undecodable base64 data kept as is"


def _decode_encoded_word(charset, encoding, text):
    if encoding in "bB":
        data, problem = _b64decode_lenient(text.encode("ascii", "replace"))
    else:
        data = binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
        problem = None
    decoded, charset_problem = decode_bytes(data, charset)
    return decoded, problem or charset_problem


def decode_rfc2047(value):
    """Decode RFC 2047 encoded words in a header value, tolerating broken ones.

    Returns ``(text, problems)``; an encoded word that cannot be decoded is kept as
    written.
    """
    problems = []
    if not value or "=?" not in value:
        return value or "", problems
    value = _ENCODED_GAP_RE.sub(r"\1\2", value)  # whitespace between words vanishes
    out = []
    pos = 0
    for match in _ENCODED_WORD_RE.finditer(value):
        out.append(value[pos : match.start()])
        try:
            decoded, problem = _decode_encoded_word(*match.groups())
            if problem:
                problems.append("encoded word: " + problem)
            out.append(decoded)
        except Exception:
            problems.append("broken encoded word kept as is")
            out.append(match.group(0))
        pos = match.end()
    out.append(value[pos:])
    return "".join(out), problems


def _header_text(value):
    """Header bytes to str: ASCII, else UTF-8 (RFC 6532), else cp1252/latin-1."""
    try:
        return value.decode("ascii"), None
    except UnicodeDecodeError:  # pylint: disable=except-pass
        pass
    text, problem = decode_bytes(value, None)
    return text, "raw 8-bit bytes decoded as latin-1" if problem else None


def _clean_text(text):
    """One line of text: no control characters, whitespace collapsed."""
    if not text:
        return ""
    return _WS_RE.sub(" ", _CTRL_RE.sub("", text)).strip()


# ---------------------------------------------------------------------------
# normalizers


def normalize_subject(subject):
    """Strip leading reply / forward prefixes (``Re:``, ``Fwd:``, ``AW:``, ``WG:``,
    ``Antw:``, ``Doorst:``, ``TR:``, ``SV:``, ``VS:``, ``RV:``, ``Ref:``, also
    ``Re[2]:`` and chains such as ``Re: Fwd:``) and collapse whitespace. List tags
    such as ``[jobs]`` are kept. Never raises; returns ``""`` for None.
    """
    try:
        text = _clean_text(str(subject or ""))
        return _PREFIX_RE.sub("", text).strip()
    except Exception:
        return ""


def normalize_email(value):
    """Normalize one email address: stripped, without ``<>`` or ``mailto:``,
    lower-cased, punycode domain decoded (IDNA). Returns None when ``value`` is not
    a plausible address (no ``@``, quotes, spaces, empty parts, ...).
    """
    try:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", "replace")
        text = str(value or "").strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1].strip()
        if text[:7].lower() == "mailto:":
            text = text[7:]
        if not text or len(text) > 320 or "@" not in text:
            return None
        local, domain = text.rsplit("@", 1)
        if (
            not local
            or not domain
            or len(local) > 128
            or any(c in _LOCAL_BAD_CHARS or c == "@" for c in local)
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text)
        ):
            return None
        domain = domain.rstrip(".").lower()
        labels = domain.split(".")
        decoded = []
        for label in labels:
            if not label or len(label) > 63 or not _DOMAIN_LABEL_RE.match(label):
                return None
            if label.startswith("xn--"):
                try:
                    label = label.encode("ascii").decode("idna").lower()
                except (UnicodeError, ValueError):  # pylint: disable=except-pass
                    pass  # keep the punycode form
            decoded.append(label)
        return local.lower() + "@" + ".".join(decoded)
    except Exception:
        return None


def normalize_message_id(value):
    """Normalize a Message-ID: the first ``<...>`` (or the whole value), with all
    whitespace and CR/LF removed, without angle brackets, the domain part
    lower-cased and the local part kept as is. Returns None when absent or garbage.
    """
    try:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", "replace")
        text = str(value or "")
        if len(text) > 4 * MAX_MESSAGE_ID_CHARS:
            text = text[: 4 * MAX_MESSAGE_ID_CHARS]
        text = "".join(text.split())
        match = _ANGLE_ID_RE.search(text)
        if match:
            text = match.group(1)
        else:
            text = text.strip("<>")
        text = _CTRL_RE.sub("", text)
        if (
            not text
            or len(text) > MAX_MESSAGE_ID_CHARS
            or "<" in text
            or ">" in text
            or not any(c.isalnum() for c in text)
        ):
            return None
        if "@" in text:
            local, domain = text.rsplit("@", 1)
            text = local + "@" + domain.lower()
        return text
    except Exception:
        return None


def _parse_id_list(value, limit=MAX_IDS):
    """Message-IDs of an In-Reply-To / References value, in order, deduplicated."""
    text = "".join(value.split())
    found = _ANGLE_ID_RE.findall(text)
    if not found:
        found = [tok for tok in value.split() if "@" in tok]
    ids = []
    seen = set()
    for raw_id in found:
        norm = normalize_message_id(raw_id)
        if norm and norm not in seen:
            seen.add(norm)
            ids.append(norm)
    if len(ids) > limit:
        ids = ids[:1] + ids[-(limit - 1) :]
    return tuple(ids)


# ---------------------------------------------------------------------------
# header block


def _find_header_end(buf, start, end):
    """(end of header block, start of body) for buf[start:end]."""
    if buf.startswith(b"\n", start) or buf.startswith(b"\r\n", start):
        body = start + (1 if buf[start : start + 1] == b"\n" else 2)
        return start, min(body, end)
    match = _HEADER_END_RE.search(buf, start, end)
    if match:
        return match.start(), match.end()
    if buf.find(b"\n", start, end) < 0:  # old Mac: CR-only line endings
        hit = buf.find(b"\r\r", start, end)
        if hit >= 0:
            return hit, hit + 2
    return end, end


def _parse_header_block(buf, start, end, cap):
    """Parse the header block of buf[start:end].

    Returns ``(headers, body_start, problems)`` where headers is a list of
    ``(lower_name, value_bytes)`` with folding undone.
    """
    problems = []
    header_end, body_start = _find_header_end(buf, start, end)
    if header_end - start > cap:
        # cut at a line end, else (one huge line) after a list separator
        cut = buf.rfind(b"\n", start, start + cap)
        if cut < start + cap // 2:
            cut = max(cut, buf.rfind(b",", start, start + cap))
        header_end = cut if cut > start else start + cap
        problems.append("header block truncated at %d bytes" % cap)
    block = buf[start:header_end]
    if b"\x00" in block:
        problems.append("NUL bytes in header")
        block = block.replace(b"\x00", b"")
    headers = []
    current = None
    bad_lines = 0
    for index, line in enumerate(_LINE_SPLIT_RE.split(block)):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current[1].append(line)
            else:
                bad_lines += 1
            continue
        if index == 0 and line.startswith(b"From "):
            continue  # mbox separator line
        name, colon, value = line.partition(b":")
        name = name.rstrip(b" \t")
        if not colon or not _HEADER_NAME_RE.match(name):
            bad_lines += 1
            current = None
            continue
        current = (name.lower(), [value])
        headers.append(current)
    if bad_lines:
        problems.append("%d malformed header line(s) skipped" % bad_lines)
    return [(n, b"".join(v).strip()) for n, v in headers], body_start, problems


def _first(headers, name):
    for key, value in headers:
        if key == name:
            return value
    return None


def _all(headers, name):
    return [value for key, value in headers if key == name]


# ---------------------------------------------------------------------------
# addresses


def _split_address_list(text):
    """Split an address header into mailbox strings (top-level commas; group
    names ``name:`` and ``;`` dropped). Linear in the length of ``text``."""
    pieces = []
    current = []
    for token in _ADDRESS_TOKEN_RE.findall(text):
        if token == "," or token == ";":
            pieces.append("".join(current))
            current = []
        elif token == ":":
            current = []  # "group name:" - the name is not a mailbox
        else:
            current.append(token)
    pieces.append("".join(current))
    return [piece.strip() for piece in pieces if piece.strip()]


def _parse_mailbox(piece):
    """(display name, address text) of one mailbox string."""
    tokens = _ADDRESS_TOKEN_RE.findall(piece)
    angle = None
    for index in range(len(tokens) - 1, -1, -1):
        if tokens[index].startswith("<"):
            angle = index
            break
    if angle is not None:
        addr = tokens[angle].strip("<>").strip()
        if ":" in addr and addr.startswith("@"):
            addr = addr.split(":", 1)[1]  # obsolete source route
        name_tokens = tokens[:angle]
        comment = ""
    else:
        name_tokens = []
        comments = [t for t in tokens if t.startswith("(")]
        comment = comments[0].strip("()") if comments else ""
        words = "".join(t for t in tokens if not t.startswith("(")).split()
        with_at = [w for w in words if "@" in w]
        addr = with_at[0] if len(with_at) == 1 else " ".join(words)
        if len(with_at) == 1:
            name_tokens = [w + " " for w in words if w is not with_at[0]]
    name_parts = []
    for token in name_tokens:
        if token.startswith('"'):
            token = re.sub(r"\\(.)", r"\1", token.strip('"'))
        elif token.startswith("("):
            continue
        name_parts.append(token)
    name = "".join(name_parts) or comment
    return name, addr


def _parse_addresses(value, field_name, problems, budget):
    """Addresses of one header value; ``budget`` is a one-item list counting down
    the addresses still allowed."""
    text, problem = _header_text(value)
    if problem:
        problems.append("%s: %s" % (field_name, problem))
    if len(text) > MAX_ADDRESS_HEADER_CHARS:
        cut = text.rfind(",", 0, MAX_ADDRESS_HEADER_CHARS)
        text = text[: cut if cut > 0 else MAX_ADDRESS_HEADER_CHARS]
        problems.append("%s header truncated" % field_name)
    result = []
    invalid = 0
    for piece in _split_address_list(text):
        if budget[0] <= 0:
            problems.append("more than %d addresses, rest ignored" % MAX_ADDRESSES)
            break
        try:
            name, addr = _parse_mailbox(piece)
            email = normalize_email(addr)
        except Exception:
            email = None
        if not email:
            invalid += 1
            continue
        name, _word_problems = decode_rfc2047(name)
        budget[0] -= 1
        result.append(Address(_clean_text(name).strip("\"' "), email))
    if invalid:
        problems.append("%s: %d invalid address(es) skipped" % (field_name, invalid))
    return tuple(result)


# ---------------------------------------------------------------------------
# date


def _parse_date(text):
    """Aware datetime for a Date header value (naive values are taken as UTC).

    Raises ValueError for a date outside :data:`MIN_DATE_YEAR` to 9999 in UTC
    (OverflowError when it cannot even be converted to UTC), and for a year
    written with three or more digits that the standard parser would read as
    another one (``0000`` read as 2000).
    """
    parts = parsedate_tz(text)
    if parts is not None:
        year = _written_year(text)
        if year is not None and year != parts[0]:
            raise ValueError("year %d" % year)
        offset = parts[9] or 0
        moment = datetime.datetime(*parts[:6])
        tzinfo = datetime.timezone(datetime.timedelta(seconds=offset))
        moment = moment.replace(tzinfo=tzinfo)
    else:
        moment = datetime.datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
    if moment.astimezone(datetime.timezone.utc).year < MIN_DATE_YEAR:
        raise ValueError("before %d" % MIN_DATE_YEAR)
    return moment


def _written_year(text):
    """The year of an RFC 5322 date as written (``dd Mon yyyy``), when it has
    three or more digits; None otherwise."""
    match = _WRITTEN_YEAR.search(text)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------
# dedup key


def _unfold_value(value):
    return b" ".join(value.split())


def _content_digest(raw, headers, body_start):
    """sha256 over From/To/Cc/Date/Subject values and the body (line endings
    normalized, trailing whitespace ignored); over the whole message when it
    has none of those headers."""
    digest = hashlib.sha256()
    identified = False
    for name in _CONTENT_HEADERS:
        for value in _all(headers, name):
            identified = True
            digest.update(name + b":" + _unfold_value(value) + b"\n")
    digest.update(b"\n")
    # Without any of those headers (garbage, no header block), the whole
    # message is its content: else all such mail would share one key.
    body = raw[body_start:] if identified else raw
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    digest.update(body.rstrip(b" \t\r\n"))
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# parse_headers


def _required_text(headers, name, label, problems):
    """The text of the first ``name`` header, or None with the problem
    "no ``label``" noted."""
    value = _first(headers, name)
    if value is None:
        problems.append(f"no {label}")
        return None
    return _header_text(value)[0]


def _info_message_id(headers, problems):
    text = _required_text(headers, b"message-id", "Message-ID", problems)
    if text is None:
        return None
    message_id = normalize_message_id(text)
    if message_id is None:
        problems.append("invalid Message-ID")
    return message_id


def _info_ids(headers, name):
    text = " ".join(_header_text(value)[0] for value in _all(headers, name))
    return _parse_id_list(text) if text else ()


def _info_addresses(headers, name, label, problems, budget):
    values = _all(headers, name)
    if name == b"from":
        values = values[:1]
    addresses = []
    for value in values:
        addresses.extend(_parse_addresses(value, label, problems, budget))
    if name == b"from" and not addresses:
        problems.append("no valid From address")
    return tuple(addresses)


def _info_subject(headers, problems):
    value = _first(headers, b"subject")
    if value is None:
        return ""
    text, problem = _header_text(value)
    if problem:
        problems.append("Subject: " + problem)
    text, word_problems = decode_rfc2047(text)
    problems.extend("Subject: " + p for p in word_problems)
    return _clean_text(text)


def _info_date(headers, problems):
    text = _required_text(headers, b"date", "Date", problems)
    if text is None:
        return None
    text = _clean_text(text)
    try:
        return _parse_date(text)
    except (ValueError, TypeError, OverflowError, IndexError):
        problems.append("invalid Date %r" % text[:60])
        return None


def _parse_info(raw, headers, body_start, problems):
    """Build a MessageInfo from a parsed header block; every field in its own try,
    a field that fails keeps its default and becomes a problem."""
    for name, label in _SINGLE_HEADERS:
        if len(_all(headers, name)) > 1:
            problems.append("duplicate %s header" % label)
    budget = [MAX_ADDRESSES]
    steps = (
        ("message_id", "Message-ID", lambda: _info_message_id(headers, problems)),
        ("in_reply_to", "In-Reply-To", lambda: _info_ids(headers, b"in-reply-to")),
        ("references", "References", lambda: _info_ids(headers, b"references")),
        ("subject", "Subject", lambda: _info_subject(headers, problems)),
        ("date", "Date", lambda: _info_date(headers, problems)),
    )
    address_steps = tuple(
        (
            key,
            label,
            lambda n=name, lb=label: _info_addresses(headers, n, lb, problems, budget),
        )
        for key, name, label in (
            ("from_", b"from", "From"),
            ("to", b"to", "To"),
            ("cc", b"cc", "Cc"),
            ("reply_to", b"reply-to", "Reply-To"),
        )
    )
    fields = {}
    for key, label, step in steps + address_steps:
        try:
            fields[key] = step()
        except Exception as exc:
            problems.append("%s: %s" % (label, type(exc).__name__))
    fields.setdefault("message_id", None)
    fields["normalized_subject"] = normalize_subject(fields.get("subject"))
    try:
        fields["dedup_key"] = _dedup_key(raw, fields["message_id"], headers, body_start)
    except Exception:
        fields["dedup_key"] = "sha256:" + hashlib.sha256(raw).hexdigest()
    return MessageInfo(problems=tuple(problems), **fields)


def _dedup_key(raw, message_id, headers, body_start):
    """Identity of a message for deduplication per owner.

    A Message-ID alone is not identity (anyone can send a mail with a guessed
    Message-ID), so the key combines the normalized ``message_id`` with a
    content hash:

    - with a Message-ID: ``"mid:<normalized message-id>:<sha256 hex>"``;
    - without one: ``"sha256:<sha256 hex>"``.

    The content hash covers only what does not change in transit: the values of
    From, To, Cc, Date and Subject (unfolded) and the body after the first blank
    line, with CRLF turned into LF and trailing whitespace ignored. Received,
    Return-Path, Delivered-To, X-* and every other header a server adds or rewrites
    are left out, so the same mail fetched twice, from another folder or over POP
    instead of IMAP gets the same key, while a mail that reuses a known Message-ID
    with other content gets another key.
    """
    content = _content_digest(raw, headers, body_start)
    if message_id:
        return "mid:%s:%s" % (message_id, content)
    return "sha256:" + content


def parse_headers(raw):
    """Parse the header block of a raw message into a :class:`MessageInfo`.

    Only the headers are read (up to :data:`MAX_HEADER_BYTES`, a problem is noted
    when more was there), so the cost does not grow with the body size; the body is
    only hashed for :attr:`MessageInfo.dedup_key`. Never raises: every field is
    parsed on its own and what fails becomes a problem.
    """
    raw = _as_bytes(raw)
    problems = []
    try:
        headers, body_start, block_problems = _parse_header_block(
            raw, 0, len(raw), MAX_HEADER_BYTES
        )
        problems.extend(block_problems)
        return _parse_info(raw, headers, body_start, problems)
    except Exception as exc:
        problems.append("could not parse headers: %s" % type(exc).__name__)
        return MessageInfo(
            message_id=None,
            dedup_key="sha256:" + hashlib.sha256(raw).hexdigest(),
            problems=tuple(problems),
        )


# ---------------------------------------------------------------------------
# safe_parse


class _Stop(Exception):
    """Internal: a cap was reached; ``args[0]`` is the fallback reason."""


def _part_message(headers):
    """An email.message.Message holding the MIME headers of a part, for its
    parameter parsing (RFC 2231 continuations and charsets)."""
    message = Message()
    for name in (b"content-type", b"content-disposition"):
        value = _first(headers, name)
        if value is not None:
            text = _header_text(value[:8192])[0]
            message[name.decode()] = _CTRL_RE.sub("", text)
    return message


def _content_type(headers, default):
    value = _first(headers, b"content-type")
    if value is None:
        return default, None
    main = _header_text(value[:8192])[0].split(";", 1)[0]
    main = "".join(main.split()).lower()
    if _CONTENT_TYPE_RE.match(main) and main.split("/")[0] in _KNOWN_MAIN_TYPES:
        return main, None
    return "application/octet-stream", "odd Content-Type %r" % main[:40]


def _safe_filename(name):
    name = _clean_text(name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    return name[:255]


def _filename(message):
    try:
        value = message.get_param("filename", None, "content-disposition")
        if value is None:
            value = message.get_param("name", None, "content-type")
        if value is None:
            return ""
        text = collapse_rfc2231_value(value)
        text, _problems = decode_rfc2047(str(text))
        return _safe_filename(text)
    except Exception:
        return ""


def _param(message, name, header="content-type"):
    try:
        value = message.get_param(name, None, header)
        if value is None:
            return None
        return str(collapse_rfc2231_value(value)).strip().strip("\"'")
    except Exception:
        return None


def _decode_transfer(data, encoding):
    encoding = (encoding or "").strip().lower()
    if encoding == "base64":
        return _b64decode_lenient(data)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data), None
    if encoding in ("", "7bit", "8bit", "binary"):
        return data, None
    return data, "unknown Content-Transfer-Encoding %r" % encoding[:30]


def _find_parts(buf, start, end, boundary, limit, deadline):
    """Spans of the parts of a multipart body buf[start:end].

    Returns ``(spans, closed, found_any)``; at most ``limit`` spans.
    """
    delimiter = b"--" + boundary
    spans = []
    part_start = None
    closed = False
    found_any = False
    pos = start
    while True:
        hit = buf.find(delimiter, pos, end)
        if hit < 0:
            break
        after = hit + len(delimiter)
        pos = after
        if hit != start and buf[hit - 1 : hit] not in (b"\n", b"\r"):
            continue
        tail = buf[after : after + 2]
        is_close = tail == b"--"
        if not is_close and tail[:1] not in (b"", b"\r", b"\n", b" ", b"\t"):
            continue  # a longer boundary that merely starts with ours
        found_any = True
        if part_start is not None:
            part_end = hit
            if buf[part_end - 1 : part_end] == b"\n":
                part_end -= 1
            if buf[part_end - 1 : part_end] == b"\r":
                part_end -= 1
            spans.append((part_start, max(part_start, part_end)))
            if len(spans) > limit:
                return spans, closed, found_any
            if len(spans) % 256 == 0 and time.monotonic() > deadline:
                raise _Stop("parse time budget exceeded")
        if is_close:
            closed = True
            break
        line_end = buf.find(b"\n", after, end)
        part_start = end if line_end < 0 else line_end + 1
    if not closed and part_start is not None and part_start < end:
        spans.append((part_start, end))
    return spans, closed, found_any


def _default_filename(content_type, number):
    if content_type == "message/rfc822":
        return "message-%d.eml" % number
    try:
        ext = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    except Exception:
        ext = ".bin"
    return "attachment-%d%s" % (number, ext)


class _MimeWalker:
    """One iterative walk over the MIME tree of a raw message (see safe_parse)."""

    def __init__(self, raw, max_parts, max_depth, deadline):
        self.raw = raw
        self.max_parts = max_parts
        self.max_depth = max_depth
        self.deadline = deadline
        self.problems = []
        self.texts = []
        self.htmls = []
        self.attachments = []
        self.pending = None  # fallback reason noted while the walk went on
        self.count = 0
        # work items: (buffer, start, end, depth, default content type)
        self.stack = [(raw, 0, len(raw), 0, "text/plain")]

    def note(self, problem):
        self.problems.append("part %d: %s" % (self.count, problem))

    def run(self):
        while self.stack:
            buf, start, end, depth, default_type = self.stack.pop()
            self.count += 1
            if self.count > self.max_parts:
                raise _Stop("too many MIME parts (more than %d)" % self.max_parts)
            if self.count % TIME_CHECK_EVERY == 0 and time.monotonic() > self.deadline:
                raise _Stop("parse time budget exceeded")
            top = self.count == 1
            headers, body_start, part_problems = _parse_header_block(
                buf, start, end, MAX_HEADER_BYTES if top else MAX_PART_HEADER_BYTES
            )
            if not top:  # the top block's problems are already in info.problems
                for problem in part_problems:
                    self.note(problem)
            content_type, problem = _content_type(headers, default_type)
            if problem:
                self.note(problem)
            message = _part_message(headers)
            if content_type.startswith("multipart/"):
                self.multipart(buf, body_start, end, depth, content_type, message)
            else:
                self.leaf(buf, body_start, end, headers, content_type, message)
        return self.pending

    def multipart(self, buf, start, end, depth, content_type, message):
        if depth >= self.max_depth:
            raise _Stop("MIME nesting deeper than %d levels" % self.max_depth)
        boundary = _param(message, "boundary")
        spans = []
        found_any = False
        remaining = self.max_parts - self.count
        if boundary:
            boundary = boundary.encode("utf-8", "replace")[:200]
            spans, closed, found_any = _find_parts(
                buf, start, end, boundary, remaining, self.deadline
            )
            if found_any and not closed:
                self.note("multipart not closed (truncated?)")
        if len(spans) > remaining:
            spans = spans[: max(remaining, 0)]
            self.pending = "too many MIME parts (more than %d)" % self.max_parts
            if not spans:
                return
        if not spans and found_any:
            self.note("empty multipart")
            return
        if not spans:
            self.note("multipart boundary not found")
            # read the body as plain text rather than lose it (the leading newline
            # makes an empty header block)
            body = b"\n" + buf[start:end]
            self.stack.append((body, 0, len(body), depth + 1, "text/plain"))
            return
        child_default = "text/plain"
        if content_type == "multipart/digest":
            child_default = "message/rfc822"
        for span_start, span_end in reversed(spans):
            self.stack.append((buf, span_start, span_end, depth + 1, child_default))

    def leaf(self, buf, start, end, headers, content_type, message):
        disposition = ""
        value = _first(headers, b"content-disposition")
        if value is not None:
            disposition = _header_text(value[:8192])[0].split(";", 1)[0]
            disposition = disposition.strip().lower()
        filename = _filename(message)
        encoding = _first(headers, b"content-transfer-encoding")
        encoding = _header_text(encoding)[0] if encoding is not None else ""
        data, problem = _decode_transfer(buf[start:end], encoding)
        if problem:
            self.note(problem)

        is_attachment = disposition == "attachment" or bool(filename)
        if content_type in ("text/plain", "text/html") and not is_attachment:
            text, problem = decode_bytes(data, _param(message, "charset"))
            if problem:
                self.note(problem)
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            (self.texts if content_type == "text/plain" else self.htmls).append(text)
            return

        if content_type in ("message/rfc822", "message/global"):
            if not data.strip():
                self.note("empty attached message")
                return
            if not filename:
                filename = _safe_filename(parse_headers(data).subject)[:200]
                filename = (filename + ".eml") if filename else ""
        content_id = _first(headers, b"content-id")
        if content_id is not None:
            content_id = _header_text(content_id)[0]
            content_id = "".join(content_id.split()).strip("<>") or None
        inline = disposition == "inline" or (not disposition and content_id is not None)
        number = len(self.attachments) + 1
        self.attachments.append(
            Attachment(
                filename=filename or _default_filename(content_type, number),
                content_type=content_type,
                data=data,
                content_id=content_id,
                inline=inline,
            )
        )


def safe_parse(raw, max_parts=1000, max_depth=20, time_budget=5.0):
    """Full MIME parse of a raw message for archiving. Never raises.

    Parts are walked iteratively over the raw bytes (a stack, no recursion), up to
    ``max_parts`` parts and ``max_depth`` levels of nested multiparts; the clock is
    checked every :data:`TIME_CHECK_EVERY` parts against ``time_budget`` seconds.
    Past a cap the walk stops, keeps what it found and sets ``raw_fallback_reason``;
    an unexpected error sets it to ``"could not parse: <Class>: <message>"``.

    ``text/plain`` and ``text/html`` parts that are not attachments become
    ``body_text`` / ``body_html`` (several are joined with a newline); every other
    leaf becomes an :class:`Attachment`. An attached ``message/rfc822`` is kept
    whole as an ``.eml`` attachment (its own parts are not unpacked). Unknown or
    malformed content types are treated as ``application/octet-stream``
    attachments; a missing Content-Type means ``text/plain`` (RFC 2045).
    """
    raw = _as_bytes(raw)
    try:
        deadline = time.monotonic() + max(0.0, float(time_budget))
    except (TypeError, ValueError):
        deadline = time.monotonic() + 5.0
    info = parse_headers(raw)
    walker = _MimeWalker(raw, max_parts, max_depth, deadline)
    try:
        reason = walker.run()  # a walk that completed keeps its result
    except _Stop as stop:
        reason = stop.args[0]
    except Exception as exc:
        reason = "could not parse: %s: %s" % (type(exc).__name__, str(exc)[:200])
    try:
        body_text = "\n".join(walker.texts)
        body_html = "\n".join(walker.htmls)
    except Exception:
        body_text, body_html = "", ""
    return ParsedMessage(
        info=info,
        body_text=body_text,
        body_html=body_html,
        attachments=tuple(walker.attachments),
        problems=tuple(info.problems) + tuple(walker.problems),
        raw_fallback_reason=reason,
    )
