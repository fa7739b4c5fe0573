"""Message helpers on good, malformed and hostile input: they never raise.

Samples live in ``tests/samples/good`` and ``tests/samples/bad`` (small files); the
huge torture cases (1 MB header, 10,000 parts, deep nesting, 25 MB attachment) are
generated here at test time so that nothing big is committed.
"""

import base64
import datetime
import random
import time
from pathlib import Path

import pytest

from carerix_mail.engine import message as message_module
from carerix_mail.engine.message import (
    MAX_ADDRESSES,
    Address,
    MessageInfo,
    ParsedMessage,
    decode_bytes,
    decode_rfc2047,
    normalize_email,
    normalize_message_id,
    normalize_subject,
    parse_headers,
    safe_parse,
)

SAMPLES = Path(__file__).parent / "samples"
BAD = sorted((SAMPLES / "bad").glob("*.eml"))
GOOD = sorted((SAMPLES / "good").glob("*.eml"))
PER_MESSAGE_SECONDS = 5.0


def sample(path):
    return (SAMPLES / path).read_bytes()


def parse(path):
    return safe_parse(sample(path))


def timed(func, *args, **kwargs):
    started = time.monotonic()
    result = func(*args, **kwargs)
    return result, time.monotonic() - started


def test_sample_counts():
    assert len(BAD) >= 40
    assert len(GOOD) >= 5


# ---------------------------------------------------------------------------
# every sample: no exception, bounded time, sane types


@pytest.mark.parametrize("path", BAD + GOOD, ids=lambda p: p.parent.name + "/" + p.stem)
def test_sample_never_raises(path):
    raw = path.read_bytes()
    info, seconds = timed(parse_headers, raw)
    assert seconds < PER_MESSAGE_SECONDS
    assert isinstance(info, MessageInfo)
    assert info.dedup_key.startswith(("mid:", "sha256:"))
    assert all(isinstance(p, str) for p in info.problems)
    assert all(isinstance(a, Address) and "@" in a.email for a in info.from_ + info.to)
    assert info.date is None or info.date.tzinfo is not None

    parsed, seconds = timed(safe_parse, raw)
    assert seconds < PER_MESSAGE_SECONDS
    assert isinstance(parsed, ParsedMessage)
    assert parsed.info == info
    assert isinstance(parsed.body_text, str)
    assert isinstance(parsed.body_html, str)
    assert all(isinstance(a.data, bytes) and a.filename for a in parsed.attachments)
    assert all(
        "/" not in a.filename and "\\" not in a.filename for a in parsed.attachments
    )


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_samples_parse_cleanly(path):
    parsed = safe_parse(path.read_bytes())
    assert parsed.raw_fallback_reason is None
    assert parsed.problems == ()
    assert parsed.info.message_id
    assert parsed.info.from_
    assert parsed.info.date is not None
    assert parsed.body_text.strip()


# ---------------------------------------------------------------------------
# good samples


def test_plain():
    parsed = parse("good/plain.eml")
    info = parsed.info
    assert info.message_id == "plain-1@example.nl"
    assert info.from_ == (Address("Jan Jansen", "jan@example.nl"),)
    assert info.to == (Address("", "rec@agency.example"),)
    assert info.subject == "Application for the developer position"
    assert info.date == datetime.datetime(
        2024, 1, 2, 8, 30, tzinfo=datetime.timezone.utc
    )
    assert parsed.body_text.startswith("Dear recruiter,\n\nPlease find")
    assert "\r" not in parsed.body_text
    assert parsed.attachments == ()


def test_alternative_with_inline_cid_image():
    parsed = parse("good/alternative_inline_cid.eml")
    assert parsed.body_text == "Salary: € 4000"
    assert 'src="cid:logo@employer"' in parsed.body_html
    (logo,) = parsed.attachments
    assert logo.filename == "logo.png"
    assert logo.content_type == "image/png"
    assert logo.content_id == "logo@employer"
    assert logo.inline is True
    assert logo.data.startswith(b"\x89PNG")


def test_pdf_attachment():
    parsed = parse("good/attachment_pdf.eml")
    assert parsed.body_text == "CV attached."
    (cv,) = parsed.attachments
    assert (cv.filename, cv.content_type, cv.inline) == (
        "cv.pdf",
        "application/pdf",
        False,
    )
    assert cv.data.startswith(b"%PDF-1.4")
    assert parsed.info.cc == (Address("Boss", "boss@agency.example"),)


def test_reply_threading_headers():
    info = parse_headers(sample("good/reply.eml"))
    assert info.in_reply_to == ("plain-1@example.nl",)
    assert info.references == ("root-0@example.nl", "plain-1@example.nl")
    assert info.normalized_subject == "Application for the developer position"


def test_dutch_confidential_reply():
    info = parse_headers(sample("good/dutch_confidential_reply.eml"))
    assert info.subject == "Re: Vertrouwelijk: sollicitatie"
    assert info.normalized_subject == "Vertrouwelijk: sollicitatie"
    assert info.from_ == (Address("José de Vries", "jose@example.nl"),)
    assert info.in_reply_to == ("conf-0@agency.example",)
    parsed = safe_parse(sample("good/dutch_confidential_reply.eml"))
    assert "geïnteresseerd" in parsed.body_text


def test_forwarded_message_kept_as_eml():
    parsed = parse("good/forwarded_message.eml")
    assert parsed.body_text == "FYI"
    (forwarded,) = parsed.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.filename == "My CV.eml"
    assert parse_headers(forwarded.data).message_id == "pdf-1@example.nl"


# ---------------------------------------------------------------------------
# bad samples: specific expectations


def test_invalid_utf8_body_gets_replacement_characters():
    parsed = parse("bad/invalid_utf8_body.eml")
    assert "\ufffd" in parsed.body_text
    assert parsed.body_text.startswith("caf")
    assert any("invalid utf-8" in p for p in parsed.problems)


def test_unknown_charsets():
    parsed = parse("bad/unknown_charset_body.eml")
    assert parsed.body_text.startswith("Qaplaé hello")
    info = parse_headers(sample("bad/unknown_charset_subject.eml"))
    assert info.subject == "Qaplaé ok"
    parsed = parse("bad/charset_is_bytes_codec.eml")
    assert parsed.body_text == "aGVsbG8="  # "base64" is no charset: text kept
    assert any("unknown charset 'rot13'" in p for p in parsed.problems)


def test_broken_encoded_words():
    info = parse_headers(sample("bad/rfc2047_bad_base64.eml"))
    assert info.subject.endswith("and Hello")
    info = parse_headers(sample("bad/rfc2047_unterminated.eml"))
    assert info.subject == "=?utf-8?q?caf=C3=A9 never ends"
    info = parse_headers(sample("bad/rfc2047_invalid_utf8_inside.eml"))
    assert info.subject == "bad\ufffd\ufffdbytes"


def test_raw_8bit_headers():
    info = parse_headers(sample("bad/raw_8bit_latin1_header.eml"))
    assert info.subject == "Café crème"
    assert "Subject: raw 8-bit bytes decoded as latin-1" in info.problems
    info = parse_headers(sample("bad/raw_8bit_utf8_header.eml"))
    assert info.subject == "Café crème"
    assert info.from_ == (Address("Jörg Müller", "jorg@bücher.example"),)


@pytest.mark.parametrize(
    "name", ["content_type_bin_plain.eml", "content_type_pdf_semicolon.eml"]
)
def test_odd_content_types_become_octet_stream_attachments(name):
    parsed = parse("bad/" + name)
    assert parsed.raw_fallback_reason is None
    (attachment,) = parsed.attachments
    assert attachment.content_type == "application/octet-stream"
    assert attachment.data
    assert any("odd Content-Type" in p for p in parsed.problems)


def test_missing_content_type_in_part_is_text_plain():
    parsed = parse("bad/content_type_missing_in_part.eml")
    assert parsed.body_text == "plain by default"
    assert [a.filename for a in parsed.attachments] == ["notes.txt"]


def test_nested_and_empty_rfc822():
    parsed = parse("bad/nested_rfc822.eml")
    assert parsed.body_text == "see forwarded"
    (middle,) = parsed.attachments
    assert middle.filename == "Middle.eml"
    inner = safe_parse(middle.data)
    assert inner.body_text == "middle text"
    assert parse_headers(inner.attachments[0].data).subject == "Inner most"

    parsed = parse("bad/empty_rfc822.eml")
    assert parsed.attachments == ()
    assert any("empty attached message" in p for p in parsed.problems)
    parsed = parse("bad/rfc822_top_level_empty.eml")
    assert parsed.raw_fallback_reason is None


def test_message_ids():
    assert parse_headers(sample("bad/message_id_crlf.eml")).message_id == (
        "abcdef@example.nl"
    )
    info = parse_headers(sample("bad/message_id_garbage.eml"))
    assert info.message_id is None
    assert "invalid Message-ID" in info.problems
    assert info.dedup_key.startswith("sha256:")
    info = parse_headers(sample("bad/no_message_id.eml"))
    assert info.message_id is None
    assert "no Message-ID" in info.problems


@pytest.mark.parametrize("name", ["bad_date.eml", "date_out_of_range.eml"])
def test_bad_dates(name):
    info = parse_headers(sample("bad/" + name))
    assert info.date is None
    assert any(p.startswith("invalid Date") for p in info.problems)


@pytest.mark.parametrize(
    "value",
    [
        "Fri, 31 Dec 9999 23:59:59 -1400",  # past year 9999 in UTC
        "Mon, 1 Jan 0001 00:00:00 +0100",  # before year 1 in UTC
        "Sat, 01 Jan 0000 00:00:00 +0000",  # year 0, read as 2000 by email.utils
        "Tue, 5 Jan 0099 10:00:00 +0000",  # year 99, read as 1999
        "Wed, 31 Dec 1969 22:00:00 +0000",  # before any mail
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_out_of_range_dates_are_no_date(value):
    raw = b"From: a@example.nl\r\nDate: %s\r\nSubject: when\r\n\r\nbody\r\n"
    info = parse_headers(raw % value.encode())
    assert info.date is None
    assert "invalid Date %r" % value in info.problems


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sat, 1 Jan 00 10:00:00 +0000", "2000-01-01T10:00:00+00:00"),  # 2 digits
        ("Thu, 01 Jan 1970 00:00:00 +0000", "1970-01-01T00:00:00+00:00"),
        ("Fri, 31 Dec 9999 23:59:59 +0000", "9999-12-31T23:59:59+00:00"),
        ("Tue, 2 Jan 2024 09:30:00 +0100 (CET)", "2024-01-02T09:30:00+01:00"),
    ],
)
def test_dates_at_the_edges_are_kept(value, expected):
    raw = b"From: a@example.nl\r\nDate: %s\r\nSubject: when\r\n\r\nbody\r\n"
    info = parse_headers(raw % value.encode())
    assert info.date.isoformat() == expected
    assert not any(p.startswith("invalid Date") for p in info.problems)


def test_missing_and_garbage_from():
    for name in ("missing_from.eml", "from_garbage.eml"):
        info = parse_headers(sample("bad/" + name))
        assert info.from_ == ()
        assert "no valid From address" in info.problems
    info = parse_headers(sample("bad/from_garbage.eml"))
    assert "From: 4 invalid address(es) skipped" in info.problems


def test_duplicate_headers():
    info = parse_headers(sample("bad/duplicate_headers.eml"))
    assert info.subject == "first subject"
    assert info.message_id == "dup1@x.nl"
    assert [a.email for a in info.from_] == ["first@example.nl"]
    assert [a.email for a in info.to] == ["a@x.nl", "b@x.nl"]
    assert "duplicate Subject header" in info.problems


def test_malformed_header_lines_are_skipped():
    info = parse_headers(sample("bad/header_without_colon.eml"))
    assert info.subject == "still parsed"
    assert "2 malformed header line(s) skipped" in info.problems
    assert parse_headers(sample("bad/non_ascii_header_name.eml")).subject == "right"
    assert parse_headers(sample("bad/leading_continuation_line.eml")).subject == "lead"
    assert parse_headers(sample("bad/mbox_from_line.eml")).problems == ()


def test_line_endings():
    parsed = parse("bad/bare_lf.eml")
    assert (parsed.body_text, parsed.body_html) == ("lf text", "<p>lf html</p>")
    parsed = parse("bad/cr_only_line_endings.eml")
    assert parsed.info.subject == "old mac"
    assert parsed.body_text.strip() == "body"
    assert parse_headers(sample("bad/mixed_line_endings.eml")).subject == "mixed"


def test_nul_bytes():
    parsed = parse("bad/nul_bytes.eml")
    assert parsed.info.subject == "nul here"
    assert "NUL bytes in header" in parsed.problems


def test_truncated_multipart_keeps_the_parts():
    parsed = parse("bad/truncated_multipart.eml")
    assert parsed.body_text == "first part"
    assert [a.filename for a in parsed.attachments] == ["cv.pdf"]
    assert parsed.attachments[0].data.startswith(b"%PDF-1.4")
    assert any("not closed" in p for p in parsed.problems)


@pytest.mark.parametrize(
    "name",
    [
        "boundary_param_missing.eml",
        "boundary_not_in_body.eml",
        "content_type_garbage_params.eml",
    ],
)
def test_missing_boundary_body_kept_as_text(name):
    parsed = parse("bad/" + name)
    assert parsed.body_text.strip()
    assert any("boundary not found" in p for p in parsed.problems)


def test_transfer_encodings_broken():
    parsed = parse("bad/base64_garbage.eml")
    assert parsed.body_text.startswith("Hello ")
    assert any("bad base64" in p for p in parsed.problems)
    parsed = parse("bad/quoted_printable_broken.eml")
    assert parsed.body_text.startswith("café =ZZ bad")
    parsed = parse("bad/unknown_transfer_encoding.eml")
    assert parsed.attachments[0].data.startswith(b"begin 644")


def test_filenames():
    parsed = parse("bad/rfc2231_filenames.eml")
    assert [a.filename for a in parsed.attachments] == [
        "€ offer.pdf",
        "Curriculum vitae Jörg.pdf",
    ]
    parsed = parse("bad/path_traversal_filename.eml")
    assert [a.filename for a in parsed.attachments] == ["passwd", "cv.pdf"]
    assert parse("bad/rfc2231_bad_charset.eml").attachments[0].filename.endswith(".pdf")


def test_boundary_that_prefixes_another():
    parsed = parse("bad/boundary_prefix_nested.eml")
    assert (parsed.body_text, parsed.body_html) == ("inner text", "<b>inner</b>")
    assert [a.filename for a in parsed.attachments] == ["x.png"]


def test_inline_part_without_filename_gets_a_name():
    parsed = parse("bad/attachment_no_filename_cid.eml")
    (image,) = parsed.attachments
    assert (image.filename, image.content_id, image.inline) == (
        "attachment-1.gif",
        "img1",
        True,
    )


def test_digest_parts_are_messages():
    parsed = parse("bad/multipart_digest.eml")
    assert [a.filename for a in parsed.attachments] == ["d1.eml", "d2.eml"]


def test_addresses():
    info = parse_headers(sample("bad/address_list_weird.eml"))
    assert info.from_ == (Address("Jansen, Jan (HR)", "jan.jansen@example.nl"),)
    assert [a.email for a in info.to] == [
        "a@x.nl",
        "b@x.nl",
        "c@bücher.example",
        "d@x.nl",
        "e@x.nl",
        "f@x.nl",
    ]
    assert info.to[1].name == "B, b"
    assert info.to[5].name == "Frank"
    # a quoted address as local part is refused, never read as alice@example.org
    assert info.cc == (Address("Smith, J", "js@x.nl"),)
    assert "Cc: 1 invalid address(es) skipped" in info.problems
    assert info.reply_to == (Address("", "jobs@agency.example"),)


def test_references():
    info = parse_headers(sample("bad/references_messy.eml"))
    assert info.in_reply_to == ("parent@example.nl",)
    assert info.references == ("root@x.nl", "a@x.nl", "b@x.nl", "c@x.nl")


def test_long_folded_subject():
    info = parse_headers(sample("bad/long_folded_subject.eml"))
    assert info.subject.startswith("start wörd0wörd1")
    assert info.subject.endswith("wörd299")


def test_empty_and_garbage_input():
    for raw in (b"", b"\r\n\r\n", None, "str input", bytearray(b"Subject: x\n\n")):
        parsed = safe_parse(raw)
        assert parsed.raw_fallback_reason is None
        assert parsed.info.dedup_key
    assert parse_headers(bytearray(b"Subject: x\n\n")).subject == "x"
    parsed = parse("bad/binary_garbage.eml")
    assert parsed.info.message_id is None


# ---------------------------------------------------------------------------
# normalizers


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Hello", "Hello"),
        ("RE: RE: re: Hello", "Hello"),
        ("Re[2]: Hello", "Hello"),
        ("Re(3): Hello", "Hello"),
        ("Re: Fwd: Hello", "Hello"),
        ("FW: Fw: fwd:Hello", "Hello"),
        ("AW: WG: Hallo", "Hallo"),
        ("Antw: Antwoord: Doorst: Hoi", "Hoi"),
        ("TR: RE : Bonjour", "Bonjour"),
        ("SV: VS: Hej", "Hej"),
        ("RV: Ref: Hola", "Hola"),
        ("Re: Vertrouwelijk: sollicitatie", "Vertrouwelijk: sollicitatie"),
        ("[jobs] Re: Hello", "[jobs] Re: Hello"),
        ("Re: [jobs] Hello", "[jobs] Hello"),
        ("Reply needed", "Reply needed"),
        ("Trade: offer", "Trade: offer"),
        ("  Re:   spaced\t out  ", "spaced out"),
        ("Re:", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_subject(subject, expected):
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jan@Example.NL", "jan@example.nl"),
        ("  <jan@example.nl> ", "jan@example.nl"),
        ("mailto:jan@example.nl", "jan@example.nl"),
        ("jan@xn--bcher-kva.example", "jan@bücher.example"),
        ("jan@Bücher.example", "jan@bücher.example"),
        ("jan@example.nl.", "jan@example.nl"),
        (b"jan@example.nl", "jan@example.nl"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("jan", None),
        ("@example.nl", None),
        ("jan@", None),
        ("jan@@example.nl", None),
        ("jan doe@example.nl", None),
        ('"alice@example.org"@attacker.example', None),
        ("jan@exa mple.nl", None),
        ("jan@example..nl", None),
        ("jan@exam\nple.nl", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_email(value, expected):
    assert normalize_email(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<ABC.def@Example.COM>", "ABC.def@example.com"),
        ("  <abc@x.nl>  ", "abc@x.nl"),
        ("<abc\r\n @x.nl>", "abc@x.nl"),
        ("abc@X.nl", "abc@x.nl"),
        ("<abc@x.nl> (comment)", "abc@x.nl"),
        ("<1234567890>", "1234567890"),
        (b"<bytes@x.nl>", "bytes@x.nl"),
        ("<>", None),
        ("<<>>", None),
        ("   ", None),
        ("<" + "a" * 2000 + "@x.nl>", None),
        (None, None),
    ],
)
def test_normalize_message_id(value, expected):
    assert normalize_message_id(value) == expected


def test_decode_helpers_never_raise():
    assert decode_bytes(b"caf\xe9", "no-such-charset")[0] == "café"
    assert decode_bytes(b"caf\xc3\xa9", None) == ("café", None)
    assert decode_bytes(b"\x81\x8d", None)[0] == "\x81\x8d"  # not cp1252: latin-1
    assert decode_rfc2047("=?utf-8?q?a?= =?utf-8?q?b?=")[0] == "ab"
    assert decode_rfc2047("=?iso-8859-1*nl?q?caf=E9?=")[0] == "café"
    assert decode_rfc2047(None) == ("", [])


def _storable(text):
    """What a database text column takes: no NUL, encodable as UTF-8."""
    return "\x00" not in text and text.encode("utf-8", "strict") is not None


def test_decoded_text_is_always_storable():
    """Some codecs decode to unpaired surrogates (utf-7) or NUL (unicode_escape),
    and NUL bytes are valid UTF-8: no column could store such text."""
    assert decode_bytes(b"x +2D0- y", "utf-7") == (
        "x \ufffd y",
        "NUL or unpaired surrogate characters replaced",
    )
    assert decode_bytes(b"a\\x00b \\ud83d", "unicode_escape")[0] == "a\ufffdb \ufffd"
    assert decode_bytes(b"a\x00b", None)[0] == "a\ufffdb"
    assert decode_bytes(b"+2D3eAA-", "utf-7") == ("\U0001f600", None)  # a real pair
    raw = (
        b"From: =?utf-7?Q?+2D0-?= <a@example.nl>\r\nSubject: =?utf-7?Q?+2D0-?= hi\r\n"
        b"Content-Type: text/plain; charset=unicode_escape\r\n\r\nnul \\x00 \\udc00\r\n"
    )
    parsed = safe_parse(raw)
    assert parsed.raw_fallback_reason is None
    texts = [parsed.info.subject, parsed.info.from_[0].name, parsed.body_text]
    assert all(_storable(text) for text in texts), texts
    assert parsed.info.subject == "\ufffd hi"


# ---------------------------------------------------------------------------
# dedup key

MAIL = (
    b"Received: from a.example by b.example; Tue, 2 Jan 2024 09:30:01 +0100\r\n"
    b"Return-Path: <jan@example.nl>\r\n"
    b"From: Jan <jan@example.nl>\r\nTo: rec@agency.example\r\n"
    b"Subject: CV\r\nDate: Tue, 02 Jan 2024 09:30:00 +0100\r\n"
    b"Message-ID: <cv-1@example.nl>\r\n\r\nMy CV.\r\n"
)


def transit_variant(raw):
    """The same mail as delivered by another route: other transit headers, LF line
    endings, no trailing newline."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = [
        line
        for line in head.split(b"\r\n")
        if not line.startswith((b"Received:", b"Return-Path:"))
    ]
    lines = [
        b"Delivered-To: rec@agency.example",
        b"Received: from c.example by d.example; Tue, 2 Jan 2024 09:31:00 +0100",
        b"X-Spam-Status: No",
    ] + lines
    return b"\n".join(lines) + b"\n\n" + body.replace(b"\r\n", b"\n").rstrip()


def test_dedup_key_same_mail_other_transit_headers():
    info = parse_headers(MAIL)
    again = parse_headers(transit_variant(MAIL))
    assert info.dedup_key == again.dedup_key
    assert info.dedup_key.startswith("mid:cv-1@example.nl:")


def test_dedup_key_forged_message_id_differs():
    forged = MAIL.replace(b"My CV.", b"Click here.")
    assert parse_headers(forged).message_id == parse_headers(MAIL).message_id
    assert parse_headers(forged).dedup_key != parse_headers(MAIL).dedup_key
    other_sender = MAIL.replace(b"From: Jan <jan@", b"From: Jan <evil@")
    assert parse_headers(other_sender).dedup_key != parse_headers(MAIL).dedup_key


def test_dedup_key_without_message_id_is_stable():
    raw = MAIL.replace(b"Message-ID: <cv-1@example.nl>\r\n", b"")
    key = parse_headers(raw).dedup_key
    assert key.startswith("sha256:") and len(key) == len("sha256:") + 64
    assert parse_headers(raw).dedup_key == key
    assert parse_headers(transit_variant(raw)).dedup_key == key
    assert parse_headers(raw.replace(b"My CV.", b"Other")).dedup_key != key


def test_dedup_key_of_mail_without_content_headers_covers_all_of_it():
    # No From/To/Cc/Date/Subject: the whole message is hashed, so two different
    # garbage messages never share a key (the second one would be dropped).
    garbage = parse_headers(sample("bad/binary_garbage.eml")).dedup_key
    assert garbage != parse_headers(sample("bad/only_blank_lines.eml")).dedup_key
    junk = parse_headers(b"junk one\r\n").dedup_key
    assert junk != parse_headers(b"junk two\r\n").dedup_key
    assert junk == parse_headers(b"junk one\n").dedup_key


def test_dedup_key_never_raises():
    for raw in (b"", None, b"\x00\xff" * 100, "text"):
        assert parse_headers(raw).dedup_key.startswith("sha256:")
    for raw in (b"", b"\x00\xff" * 100, b"text"):
        with_id = b"Message-ID: <x@y>\r\n" + raw
        assert parse_headers(with_id).dedup_key.startswith("mid:x@y:")


# ---------------------------------------------------------------------------
# torture cases, generated at test time


def test_one_megabyte_header_is_fast_and_capped():
    recipients = b", ".join(b"user%d@example.com" % i for i in range(60_000))
    raw = (
        b"From: a@example.nl\r\nSubject: big\r\nMessage-ID: <big@x.nl>\r\n"
        + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 200) for i in range(1000))
        + b"To: "
        + recipients
        + b"\r\n\r\nbody\r\n"
    )
    assert len(raw) > 1_000_000
    info, seconds = timed(parse_headers, raw)
    assert seconds < 1.0
    assert info.subject == "big"
    assert "header block truncated at 262144 bytes" in info.problems
    assert len(info.to) <= MAX_ADDRESSES
    parsed, seconds = timed(safe_parse, raw)
    assert seconds < PER_MESSAGE_SECONDS
    assert parsed.body_text == "body\n"

    # one single 1 MB header line: addresses capped, body still found
    raw = b"Subject: one line\r\nTo: " + recipients + b"\r\n\r\nbody"
    info, seconds = timed(parse_headers, raw)
    assert seconds < 1.0
    assert len(info.to) == MAX_ADDRESSES
    assert f"more than {MAX_ADDRESSES} addresses, rest ignored" in info.problems
    assert safe_parse(raw).body_text == "body"


def multipart(n, boundary=b"P"):
    parts = b"".join(
        b"--%s\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % (boundary, i)
        for i in range(n)
    )
    return (
        b"From: a@example.nl\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=%s\r\n\r\n%s--%s--\r\n"
        % (boundary, parts, boundary)
    )


def test_ten_thousand_parts_are_capped():
    raw = multipart(10_000)
    parsed, seconds = timed(safe_parse, raw)
    assert seconds < PER_MESSAGE_SECONDS
    assert parsed.raw_fallback_reason == "too many MIME parts (more than 1000)"
    texts = parsed.body_text.split("\n")
    assert 0 < len(texts) < 1000
    assert texts[0] == "part 0"
    assert parsed.info.subject == "parts"


def test_many_parts_within_the_cap():
    parsed = safe_parse(multipart(500))
    assert parsed.raw_fallback_reason is None
    assert parsed.body_text.split("\n")[-1] == "part 499"


def test_time_budget():
    parsed = safe_parse(multipart(500), time_budget=0)
    assert parsed.raw_fallback_reason == "parse time budget exceeded"
    assert parsed.info.subject == "parts"


def nested(levels):
    raw = b"Content-Type: text/plain\r\n\r\ndeepest\r\n"
    for level in range(levels):
        boundary = b"L%d" % level
        raw = (
            b"Content-Type: multipart/mixed; boundary=%s\r\n\r\n"
            b"--%s\r\n%s\r\n--%s--\r\n" % (boundary, boundary, raw, boundary)
        )
    return b"From: a@example.nl\r\nSubject: deep\r\n" + raw


def test_fifty_levels_of_nesting_are_capped():
    parsed, seconds = timed(safe_parse, nested(50))
    assert seconds < PER_MESSAGE_SECONDS
    assert parsed.raw_fallback_reason == "MIME nesting deeper than 20 levels"
    assert parsed.info.subject == "deep"
    assert safe_parse(nested(10)).body_text.strip() == "deepest"


def test_deep_nesting_does_not_recurse():
    parsed, seconds = timed(safe_parse, nested(3000), max_depth=5000, max_parts=5000)
    assert seconds < PER_MESSAGE_SECONDS
    assert parsed.raw_fallback_reason is None
    assert parsed.body_text.strip() == "deepest"


def test_25_megabyte_attachment():
    payload = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    encoded = base64.encodebytes(payload)
    raw = (
        b"From: a@example.nl\r\nSubject: big file\r\nMessage-ID: <big@x.nl>\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nsee file\r\n--B\r\n"
        b"Content-Type: application/zip; name=big.zip\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"\r\n--B--\r\n"
    )
    info, seconds = timed(parse_headers, raw)
    assert seconds < 2.0
    assert info.message_id == "big@x.nl"
    parsed, seconds = timed(safe_parse, raw)
    assert seconds < PER_MESSAGE_SECONDS
    assert parsed.raw_fallback_reason is None
    assert parsed.body_text == "see file"
    (big,) = parsed.attachments
    assert big.filename == "big.zip"
    assert big.data == payload


def test_unexpected_error_becomes_fallback_reason(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(message_module._MimeWalker, "leaf", boom)
    parsed = safe_parse(sample("good/plain.eml"))
    assert parsed.raw_fallback_reason == "could not parse: RuntimeError: boom"
    assert parsed.info.message_id == "plain-1@example.nl"


def test_empty_multipart_and_cap_at_the_boundary():
    raw = b"Subject: e\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B--\r\n"
    parsed = safe_parse(raw)
    assert parsed.raw_fallback_reason is None
    assert parsed.body_text == ""
    assert "part 1: empty multipart" in parsed.problems
    parsed = safe_parse(multipart(3), max_parts=1)
    assert parsed.raw_fallback_reason == "too many MIME parts (more than 1)"
    assert parsed.body_text == ""


def mutations(raw, rnd, count):
    """Deterministic byte-level mutations of ``raw``: flips, cuts, repeats."""
    for _ in range(count):
        data = bytearray(raw)
        for _ in range(rnd.randint(1, 8)):
            if not data:
                break
            pos = rnd.randrange(len(data))
            action = rnd.randrange(4)
            if action == 0:
                data[pos] = rnd.randrange(256)
            elif action == 1:
                del data[pos : pos + rnd.randint(1, 40)]
            elif action == 2:
                data[pos:pos] = rnd.choice(
                    [b"\r\n", b"\n\n", b"=?", b"?=", b"--", b"<", b'"', b":", b"\x00"]
                )
            else:
                data[pos:pos] = data[pos : pos + rnd.randint(1, 60)] * rnd.randint(2, 5)
        yield bytes(data)


def test_mutated_samples_never_raise():
    rnd = random.Random(20240102)
    started = time.monotonic()
    for path in GOOD + BAD:
        for raw in mutations(path.read_bytes(), rnd, 25):
            parsed = safe_parse(raw)
            assert isinstance(parsed, ParsedMessage)
            assert (
                parsed.raw_fallback_reason is None
                or not parsed.raw_fallback_reason.startswith("could not parse")
            ), parsed.raw_fallback_reason
            assert isinstance(parse_headers(raw), MessageInfo)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: " + b"=?utf-8?q?a?= " * 30_000 + b"\r\n\r\n",
        b"Subject: re" + b" " * 200_000 + b"x\r\n\r\n",
        b"To: " + b'"' * 200_000 + b"\r\n\r\n",
        b"To: " + b"(" * 100_000 + b"<a@b.c>" * 10_000 + b"\r\n\r\n",
        b"From: " + b"a" * 250_000 + b"@example.com\r\n\r\n",
        b"References: " + b"<a@b> " * 50_000 + b"\r\n\r\n",
        b"X: y\r\n" * 80_000 + b"\r\nbody",
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + b"--B\r\n" * 300_000,
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + b"x--B" * 300_000,
        b"Content-Type: text/plain; " + b"a*0*=x; " * 2000 + b"\r\n\r\nhi",
    ],
    ids=[
        "many-encoded-words",
        "long-whitespace",
        "quotes",
        "comments",
        "long-address",
        "many-references",
        "many-headers",
        "many-delimiters",
        "delimiters-mid-line",
        "many-params",
    ],
)
def test_pathological_headers_are_fast(raw):
    parsed, seconds = timed(safe_parse, raw)
    assert seconds < 2.0
    assert isinstance(parsed, ParsedMessage)
    assert (
        parsed.raw_fallback_reason is None
        or not parsed.raw_fallback_reason.startswith("could not parse")
    )
