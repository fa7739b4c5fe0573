"""Fills the demo mailboxes on Dovecot and points the demo users at them.

Run by scripts/demo.sh after the database was created with the demo data:
creates a Dovecot account per demo recruiter, delivers sample mail (from demo
candidates and contacts, an unknown sender, a confidential subject, mail read
elsewhere, the Sent folder), configures each recruiter's mailbox and runs a
first sync, then writes the logins to logins.txt beside the state file.
"""

import argparse
import datetime
import sys
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devservices  # noqa: E402

import odoo  # noqa: E402
from odoo import SUPERUSER_ID, api  # noqa: E402

RECRUITERS = [
    ("carerix_mail.user_recruiter_anna_demo", "anna", "anna"),
    ("carerix_mail.user_recruiter_bram_demo", "bram", "bram"),
]


def mail(sender, to, subject, body, days_ago=0, in_reply_to=None):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="demo.example")
    msg["Date"] = format_datetime(
        datetime.datetime.now(datetime.timezone.utc)
        - datetime.timedelta(days=days_ago, hours=days_ago * 3)
    )
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg


def sample_mail(email):
    """(folder, message, flags) for one recruiter's mailbox."""
    first = mail(
        "Sem Visser <sem.visser@mail.example>",
        email,
        "Sollicitatie projectleider bouw",
        "Beste recruiter,\n\nHierbij mijn cv voor de functie van projectleider.\n\n"
        "Met vriendelijke groet,\nSem Visser",
        days_ago=4,
    )
    first.add_attachment(
        b"%PDF-1.4\n% demo CV\n",
        maintype="application",
        subtype="pdf",
        filename="CV Sem Visser.pdf",
    )
    reply = mail(
        email,
        "Sem Visser <sem.visser@mail.example>",
        "Re: Sollicitatie projectleider bouw",
        "Dag Sem,\n\nDank voor je cv. Kun je donderdag om 10:00 langskomen?\n",
        days_ago=3,
        in_reply_to=first["Message-ID"],
    )
    return [
        ("INBOX", first, ()),
        ("Sent", reply, (b"\\Seen",)),
        (
            "INBOX",
            mail(
                "Lisa Bakker <lisa.bakker@technobouw.example>",
                email,
                "Vacature werkvoorbereider",
                "Hallo,\n\nWij zoeken per direct een werkvoorbereider. "
                "Hebben jullie iemand?\n\nLisa Bakker\nTechnobouw B.V.",
                days_ago=2,
            ),
            (b"\\Seen",),  # already read on the recruiter's phone
        ),
        (
            "INBOX",
            mail(
                "Noor el Amrani <noor.elamrani@mail.example>",
                email,
                "Vertrouwelijk: mijn huidige werkgever",
                "Graag discreet behandelen: ik werk nog bij mijn huidige werkgever.",
                days_ago=1,
            ),
            (),
        ),
        (
            "INBOX",
            mail(
                "Onbekend <someone@unknown.example>",
                email,
                "Open sollicitatie",
                "Ik ben op zoek naar werk in de logistiek.",
                days_ago=0,
            ),
            (),
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args()

    _pg, dovecot = devservices.load_state(args.state)
    odoo.tools.config.parse_config(["-c", args.conf, "-d", args.db])
    registry = odoo.modules.registry.Registry(args.db)
    logins = ["  admin / admin   (administrator)"]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        for xmlid, login, password in RECRUITERS:
            user = env.ref(xmlid)
            imap_password = f"{login}-imap"
            dovecot.add_user(login, imap_password)
            for folder, message, flags in sample_mail(user.email):
                dovecot.deliver(login, folder, message.as_bytes(), flags=flags)
            box = user._carerix_mailbox(create=True)
            box.write(
                {
                    "host": dovecot.host,
                    "port": dovecot.imap_port,
                    "login": login,
                    "protocol": "imap",
                    "security": "starttls",
                    "fetch_enabled": True,
                    "ca_file": dovecot.ca_file,
                }
            )
            box._set_password(imap_password)
            logins.append(
                f"  {login} / {password}   (recruiter {user.name}; IMAP "
                f"{dovecot.host}:{dovecot.imap_port} {login} / {imap_password})"
            )
        cr.commit()
        for xmlid, _login, _password in RECRUITERS:
            box = env.ref(xmlid)._carerix_mailbox()
            env["carerix.mailbox"]._claim_and_sync(mailbox_id=box.id)
            box.invalidate_recordset()
            print(
                f"{box.user_id.name}: {box.state}, {box.count_archived} archived, "
                f"{box.count_unmatched} unmatched {box.last_error or ''}"
            )
            if box.state != "ok":
                return 1
    Path(args.state).with_name("logins.txt").write_text("\n".join(logins) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
