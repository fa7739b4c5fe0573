"""Fills the demo mailboxes on Dovecot and points the demo users at them.

Run by scripts/demo.sh after the database was created with the demo data:
creates a Dovecot account per demo recruiter, delivers sample mail (from demo
candidates and contacts, CVs (PDF and DOCX) of demo candidates, an unknown
applicant with his CV and the recruiter's reply in Sent, a confidential
subject, mail read elsewhere, the Sent folder), configures each recruiter's
mailbox (one signs in with "Microsoft 365", the local identity provider posing
as Microsoft) and runs a first sync, then writes the logins to logins.txt
beside the state file. One recruiter sends through his own outgoing server
(Dovecot's submission service, relaying to the dev services' SMTP sink).
"""

import argparse
import datetime
import importlib
import sys
import time
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
# This recruiter signs in with "Microsoft 365": the local identity provider of
# the dev services poses as Microsoft, Dovecot checks his tokens there.
OAUTH_RECRUITER = "bram"
# This recruiter sends through his own outgoing server: Dovecot's submission
# service, which relays to the dev services' SMTP sink (its mail directory
# holds what he sent).
OWN_SMTP_RECRUITER = "anna"
DEMO_CLIENT_ID = "carerix-demo"
DEMO_CLIENT_SECRET = "carerix-demo-secret"


def cv_files():
    """The sample CV files of carerix_mail_recruitment (importable once the
    registry is loaded)."""
    return importlib.import_module(
        "odoo.addons.carerix_mail_recruitment.tools.cv_files"
    )


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
    files = cv_files()
    first.add_attachment(
        files.make_pdf(
            ["Sem Visser", "Projectleider bouw", "Ervaring: utiliteitsbouw, BIM"]
        ),
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
        *cv_mail(email),
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
    ]


def cv_mail(email):
    """(folder, message, flags) of the CVs for one recruiter's mailbox: a
    DOCX of a demo candidate, a confidential mail with a CV (it stays in the
    private mail), and an unknown applicant's CV with the recruiter's reply
    (try *Create candidate* on it)."""
    files = cv_files()
    daan = mail(
        "Daan Mulder <daan.mulder@mail.example>",
        email,
        "Mijn cv voor werkvoorbereider",
        "Hallo,\n\nIn de bijlage mijn bijgewerkte cv.\n\nDaan",
        days_ago=2,
    )
    daan.add_attachment(
        files.make_docx(["Daan Mulder", "Werkvoorbereider", "AutoCAD, Revit"]),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="CV Daan Mulder.docx",
    )
    noor = mail(
        "Noor el Amrani <noor.elamrani@mail.example>",
        email,
        "Vertrouwelijk: mijn huidige werkgever",
        "Graag discreet behandelen: ik werk nog bij mijn huidige werkgever.",
        days_ago=1,
    )
    noor.add_attachment(
        files.make_pdf(["Noor el Amrani", "Projectleider", "Huidige werkgever"]),
        maintype="application",
        subtype="pdf",
        filename="CV Noor el Amrani.pdf",
    )
    fleur = mail(
        "Fleur de Boer <fleur.deboer@mail.example>",
        email,
        "Open sollicitatie",
        "Ik ben op zoek naar werk in de logistiek. Mijn cv zit in de bijlage.",
        days_ago=1,
    )
    fleur.add_attachment(
        files.make_pdf(["Fleur de Boer", "Logistiek planner", "Heftruckcertificaat"]),
        maintype="application",
        subtype="pdf",
        filename="CV Fleur de Boer.pdf",
    )
    answer = mail(
        email,
        "Fleur de Boer <fleur.deboer@mail.example>",
        "Re: Open sollicitatie",
        "Dag Fleur,\n\nDank je wel. Heb je ook ervaring met planningssoftware?\n",
        days_ago=0,
        in_reply_to=fleur["Message-ID"],
    )
    return [
        ("INBOX", daan, ()),
        ("INBOX", noor, ()),
        ("INBOX", fleur, ()),
        ("Sent", answer, (b"\\Seen",)),
    ]


def setup_oauth(env, idp, base_url):
    """Point "Microsoft" at the local identity provider and register the demo's
    application there."""
    params = env["ir.config_parameter"].sudo()
    params.set_param("web.base.url", base_url)
    params.set_param("web.base.url.freeze", "True")
    params.set_param("carerix_mail.oauth_microsoft_client_id", DEMO_CLIENT_ID)
    params.set_param("carerix_mail.oauth_microsoft_secret", DEMO_CLIENT_SECRET)
    params.set_param("carerix_mail.oauth_microsoft_base_url", idp.url)
    redirect_uri = env["carerix.mailbox"]._oauth_redirect_uri()
    idp.register_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, redirect_uri)


def connect_oauth(box, idp, login):
    """Sign ``box`` in with "Microsoft" as ``login`` (as Connect would)."""
    # (loaded with the registry, from the addons path of the configuration)
    oauth = odoo.addons.carerix_mail.engine.oauth
    idp.add_user(login)
    tokens = idp.issue(login, DEMO_CLIENT_ID)
    box.write({"auth_method": "microsoft"})
    box._oauth_save(
        "microsoft",
        oauth.TokenSet(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=time.time() + tokens["expires_in"],
            account=login,
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--base-url", required=True, help="Odoo's address")
    args = parser.parse_args()

    _pg, dovecot = devservices.load_state(args.state)
    idp = devservices.load_idp(args.state)
    sink = devservices.load_sink(args.state)
    odoo.tools.config.parse_config(["-c", args.conf, "-d", args.db])
    registry = odoo.modules.registry.Registry(args.db)
    logins = ["  admin / admin   (administrator)"]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        setup_oauth(env, idp, args.base_url)
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
            if login == OWN_SMTP_RECRUITER and sink is not None:
                box.write(
                    {
                        "from_address": user.email,
                        "smtp_mode": "own",
                        "smtp_host": dovecot.host,
                        "smtp_port": dovecot.submission_port,
                        "smtp_security": "starttls",
                    }
                )
            if login == OAUTH_RECRUITER:
                connect_oauth(box, idp, login)
                logins.append(
                    f"  {login} / {password}   (recruiter {user.name}; IMAP "
                    f"{dovecot.host}:{dovecot.imap_port} {login}, signed in with "
                    f'"Microsoft 365": the local identity provider {idp.url}, '
                    "whose certificate comes from the demo's own CA)"
                )
                continue
            logins.append(
                f"  {login} / {password}   (recruiter {user.name}; IMAP "
                f"{dovecot.host}:{dovecot.imap_port} {login} / {imap_password})"
            )
            if login == OWN_SMTP_RECRUITER and sink is not None:
                logins.append(
                    f"      sends through an own outgoing server: submission "
                    f"{dovecot.host}:{dovecot.submission_port} (STARTTLS, same login); "
                    f"what is sent arrives in {sink.mail_dir}"
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
