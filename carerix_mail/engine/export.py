"""The export of a person's mail: ``.eml`` files rebuilt from what was archived,
and the ZIP that holds them with an index.

A mail that was stored raw is exported as it arrived; every other one is
rebuilt here from its archived headers, HTML body and attachments with the
standard ``email`` package, so that any mail client opens it.

Plain Python (stdlib only); never imports odoo.
"""

import csv
import datetime
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

INDEX_FIELDS = ("date", "from", "to", "cc", "subject", "owner", "confidential", "file")
"""The columns of ``index.csv`` (and the keys of ``index.json``)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class ExportedMail:
    """One mail of an export: either ``raw`` (the original message) or the
    archived parts it is rebuilt from."""

    owner: str = ""
    date: datetime.datetime | None = None  # naive UTC, as Odoo stores it
    subject: str = ""
    from_: str = ""
    to: str = ""
    cc: str = ""
    message_id: str = ""  # without angle brackets
    references: tuple = ()  # "<id>" strings: In-Reply-To first
    html: str = ""
    attachments: list = field(default_factory=list)  # (filename, mimetype, bytes)
    confidential: bool = False
    raw: bytes | None = None


def _header_text(value):
    """A header value on one line (no CR/LF a header cannot hold)."""
    return " ".join((value or "").split())


def _set_header(msg, name, value):
    """Set header ``name``; a value the policy cannot parse without loss (a
    malformed address) is kept as text in ``X-Carerix-Unparsed-<name>``
    rather than dropped or mangled."""
    value = _header_text(value)
    if not value:
        return
    try:
        msg[name] = value
        malformed = bool(msg[name].defects)
    except (ValueError, TypeError, IndexError, AttributeError):
        malformed = True
    if malformed:
        del msg[name]
        msg["X-Carerix-Unparsed-" + name] = value


def build_eml(mail):
    """The bytes of ``mail`` as an RFC 5322 message: ``mail.raw`` itself when
    it was stored raw, else rebuilt (headers as archived, the HTML body,
    every attachment with its filename and type)."""
    if mail.raw is not None:
        return mail.raw
    msg = EmailMessage(policy=default_policy)
    for name, value in (
        ("From", mail.from_),
        ("To", mail.to),
        ("Cc", mail.cc),
        ("Subject", mail.subject),
    ):
        _set_header(msg, name, value)
    if mail.date:
        date = mail.date.replace(tzinfo=datetime.timezone.utc)
        msg["Date"] = format_datetime(date)
    if mail.message_id:
        _set_header(msg, "Message-ID", f"<{mail.message_id}>")
    if mail.references:
        _set_header(msg, "In-Reply-To", mail.references[0])
        _set_header(msg, "References", " ".join(mail.references))
    msg.set_content(mail.html or "", subtype="html")
    for filename, mimetype, data in mail.attachments:
        maintype, _sep, subtype = (mimetype or "").partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            data or b"", maintype=maintype, subtype=subtype, filename=filename
        )
    return msg.as_bytes(policy=default_policy.clone(linesep="\r\n"))


def file_name(number, mail):
    """``mails/0001-20240102-1304-subject.eml``: numbered, so names never
    collide, with a date and a subject a person recognizes."""
    stamp = mail.date.strftime("%Y%m%d-%H%M") if mail.date else "undated"
    slug = _UNSAFE.sub("-", mail.subject or "").strip("-.")[:40] or "mail"
    return f"mails/{number:04d}-{stamp}-{slug}.eml"


def index_row(mail, name):
    return {
        "date": mail.date.isoformat(sep=" ") if mail.date else "",
        "from": mail.from_ or "",
        "to": mail.to or "",
        "cc": mail.cc or "",
        "subject": mail.subject or "",
        "owner": mail.owner or "",
        "confidential": bool(mail.confidential),
        "file": name,
    }


def build_zip(mails):
    """The ZIP of ``mails`` (:class:`ExportedMail`, in their order): one
    ``.eml`` per mail under ``mails/``, and ``index.csv`` and ``index.json``
    (one row per mail: :data:`INDEX_FIELDS`). Returns its bytes."""
    buffer = io.BytesIO()
    rows = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, mail in enumerate(mails, start=1):
            name = file_name(number, mail)
            archive.writestr(name, build_eml(mail))
            rows.append(index_row(mail, name))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        archive.writestr("index.csv", text.getvalue())
        archive.writestr("index.json", json.dumps(rows, indent=1, ensure_ascii=False))
    return buffer.getvalue()
