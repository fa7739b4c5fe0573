"""The export's ``.eml`` files and ZIP: rebuilt mails parse back to what was
archived, raw mails are kept byte for byte, and the index lists every file."""

import csv
import datetime
import email
import io
import json
import zipfile
from email.policy import default

from carerix_mail.engine.export import INDEX_FIELDS, ExportedMail, build_eml, build_zip


def rebuilt(**kwargs):
    values = {
        "owner": "Rita Recruiter",
        "date": datetime.datetime(2024, 3, 1, 9, 30),
        "subject": "Your CV – welder",
        "from_": '"Jansen, Piet" <piet@mail.example>',
        "to": "rita@agency.example",
        "cc": "Ben <ben@agency.example>",
        "message_id": "abc@mail.example",
        "references": ("<parent@agency.example>", "<root@agency.example>"),
        "html": "<p>Hello <b>Rita</b></p>",
        "attachments": [
            ("cv piet.pdf", "application/pdf", b"%PDF-1.4 cv"),
            ("notes.txt", "text/plain", "notes é".encode()),
        ],
    }
    values.update(kwargs)
    return ExportedMail(**values)


def test_rebuilt_mail_parses_back_to_its_archive():
    msg = email.message_from_bytes(build_eml(rebuilt()), policy=default)
    assert msg["From"].addresses[0].addr_spec == "piet@mail.example"
    assert msg["From"].addresses[0].display_name == "Jansen, Piet"
    assert msg["To"] == "rita@agency.example"
    assert msg["Cc"].addresses[0].addr_spec == "ben@agency.example"
    assert msg["Subject"] == "Your CV – welder"
    assert msg["Message-ID"] == "<abc@mail.example>"
    assert msg["In-Reply-To"] == "<parent@agency.example>"
    assert msg["References"] == "<parent@agency.example> <root@agency.example>"
    assert msg["Date"].datetime == datetime.datetime(
        2024, 3, 1, 9, 30, tzinfo=datetime.timezone.utc
    )
    assert "<b>Rita</b>" in msg.get_body(("html",)).get_content()
    attachments = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in msg.iter_attachments()
    }
    assert attachments == {
        "cv piet.pdf": ("application/pdf", b"%PDF-1.4 cv"),
        "notes.txt": ("text/plain", "notes é".encode()),
    }


def test_raw_mail_is_exported_as_it_arrived():
    raw = b"From: x@y.example\r\nSubject: broken\r\n\r\n\xff\xfe body"
    assert build_eml(rebuilt(raw=raw)) == raw


def test_malformed_address_is_kept_not_dropped():
    msg = email.message_from_bytes(
        build_eml(rebuilt(to="<<broken@@", cc="")), policy=default
    )
    assert "broken" in str(msg.get("To") or msg.get("X-Carerix-Unparsed-To"))
    assert msg["Cc"] is None


def test_zip_has_one_eml_per_mail_and_an_index():
    mails = [rebuilt(), rebuilt(subject="../../etc/passwd", date=None, html="")]
    archive = zipfile.ZipFile(io.BytesIO(build_zip(mails)))
    names = sorted(archive.namelist())
    emls = [n for n in names if n.endswith(".eml")]
    assert len(emls) == 2
    assert all(n.startswith("mails/") and ".." not in n for n in emls)
    assert "index.csv" in names and "index.json" in names
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
    assert [r["file"] for r in rows] == sorted(emls)
    assert tuple(rows[0]) == INDEX_FIELDS
    assert rows[0]["owner"] == "Rita Recruiter"
    assert rows[0]["subject"] == "Your CV – welder"
    assert json.loads(archive.read("index.json"))[1]["file"] == rows[1]["file"]
