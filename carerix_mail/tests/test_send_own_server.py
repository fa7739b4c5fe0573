"""Sending through the user's own outgoing server, for real: Dovecot's
submission service relays to the SMTP sink, whose received mail the tests
read. Headers as received, one copy in Sent for each setting of "server files
sent mail", the archive, each failure, one connection per user per batch."""

import contextlib
import email
import socket
import threading
import uuid
from email.utils import getaddresses

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import load_sink, unique
from .test_oauth import OAuthSyncCase
from .test_outgoing import NoSmtpMixin, SentFolderCase

MUTE = "odoo.addons.mail.models.mail_mail"


@tagged("post_install", "-at_install")
class TestSendOwnServer(SentFolderCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = load_sink()

    def own_recruiter(self, files_sent=False, **vals):
        values = {
            "from_address": None,
            "smtp_mode": "own",
            "smtp_host": self.dovecot.host,
            "smtp_port": self.dovecot.submission_port,
            "smtp_security": "starttls",
            "smtp_files_sent": files_sent,
        }
        values.update(vals)
        user_id, login, email_address = self.make_recruiter(**values)
        with self.real_env() as env:
            # his address at his own server: From and envelope
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            box.from_address = email_address
        self.dovecot.create_folder(login, "Sent")
        return user_id, login, email_address

    def received(self, message_id):
        return [
            m
            for m in self.sink.messages()
            if email.message_from_bytes(m["raw"])["Message-ID"] == message_id
        ]

    def submission_logins(self, login):
        lines = self.dovecot.log_file.read_text(errors="replace").splitlines()
        return sum(
            "submission-login:" in line and f"Login: user=<{login}>," in line
            for line in lines
        )

    def mail_state(self, message_id):
        with self.real_env() as env:
            mail = (
                env["mail.mail"].sudo().search([("mail_message_id", "=", message_id)])
            )
            return [(m.state, m.failure_reason or "") for m in mail]

    def test_headers_as_received_and_one_copy_in_sent(self):
        user_id, login, address = self.own_recruiter()
        cand = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand)
        first_id, first_mid = self.send(user_id, candidate, "Interview")
        (got,) = self.received(first_mid)
        msg = email.message_from_bytes(got["raw"])
        self.assertEqual(got["mail_from"], address)
        self.assertEqual(got["rcpt_tos"], [cand])
        self.assertEqual(getaddresses([msg["From"]])[0][1], address)
        self.assertEqual(getaddresses([msg["Reply-To"]])[0][1], address)
        self.assertEqual(msg["Subject"], "Interview")
        self.assertEqual(self.submission_logins(login), 1)
        # A reply on the record refers to the first mail (threading).
        with self.real_env(uid=user_id) as env:
            second_mid = (
                env["res.partner"]
                .browse(candidate)
                .message_post(
                    body="<p>Any news?</p>",
                    subject="Re: Interview",
                    partner_ids=[candidate],
                    parent_id=first_id,
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                )
                .message_id
            )
        (again,) = self.received(second_mid)
        reply = email.message_from_bytes(again["raw"])
        self.assertEqual(reply["Message-ID"], second_mid)
        # (Odoo threads with References only, as through its own server.)
        self.assertIn(first_mid, reply["References"] or "")
        # Exactly one copy in Sent (Dovecot does not file what it relays).
        self.assertEqual(self.dovecot.message_count(login, "Sent"), 2)
        entries = self.entries(user_id)
        self.assertEqual([e["direction"] for e in entries], ["outgoing"] * 2)
        self.assertEqual(
            sorted(self.partner_mail(candidate)), ["Interview", "Re: Interview"]
        )
        with self.real_env() as env:
            message = env["mail.message"].browse(first_id)
            self.assertEqual(message.carerix_owner_id.id, user_id)
        self.assertEqual(self.mail_state(first_id), [])  # sent and deleted

    def test_server_files_sent_mail_no_copy_appended(self):
        user_id, login, _address = self.own_recruiter(files_sent=True)
        candidate = self.make_partner(
            name="Candidate", email=f"{unique('cand')}@mail.example"
        )
        _message_id, mid = self.send(user_id, candidate, "Filed by the server")
        self.assertEqual(len(self.received(mid)), 1)
        self.assertEqual(self.dovecot.message_count(login, "Sent"), 0)
        # Archived once all the same, on the candidate.
        self.assertEqual(len(self.entries(user_id)), 1)
        self.assertEqual(self.partner_mail(candidate), ["Filed by the server"])

    def test_one_connection_per_user_per_batch(self):
        users = [self.own_recruiter() for _n in range(2)]
        mail_ids = []
        with self.real_env() as env:
            for user_id, _login, address in users:
                partner = env["res.users"].browse(user_id).partner_id
                for n in range(3):
                    mail = env["mail.mail"].create(
                        {
                            "author_id": partner.id,
                            "email_from": address,
                            "email_to": f"{unique('to')}@mail.example",
                            "subject": f"Batch {n}",
                            "body_html": "<p>Batch</p>",
                        }
                    )
                    mail_ids.append(mail.id)
        before = {login: self.submission_logins(login) for _u, login, _a in users}
        sessions = self.sink.connections
        with self.real_env() as env:
            env["mail.mail"].browse(mail_ids).send()
        for _user_id, login, _address in users:
            self.assertEqual(self.submission_logins(login) - before[login], 1)
        self.assertEqual(self.sink.connections - sessions, 2)
        subjects = [
            email.message_from_bytes(m["raw"])["Subject"] for m in self.sink.messages()
        ]
        self.assertGreaterEqual(subjects.count("Batch 0"), 2)

    def test_wrong_password_fails_the_mail_and_company_server_unused(self):
        user_id, _login, _address = self.own_recruiter()
        with self.real_env() as env:
            env["res.users"].browse(user_id)._carerix_mailbox()._set_smtp_password(
                "wrong-" + uuid.uuid4().hex
            )
        candidate = self.make_partner(
            name="Candidate", email=f"{unique('cand')}@mail.example"
        )
        with mute_logger(MUTE):
            message_id, mid = self.send(user_id, candidate, "Not sent")
        self.assertEqual(self.received(mid), [])
        ((state, reason),) = self.mail_state(message_id)
        self.assertEqual(state, "exception")
        self.assertIn("rejected the user name or password", reason)

    def test_incomplete_settings_fail_the_mail(self):
        user_id, _login, _address = self.own_recruiter()
        with self.real_env() as env:
            env["res.users"].browse(user_id)._carerix_mailbox().login = False
        candidate = self.make_partner(
            name="Candidate", email=f"{unique('cand')}@mail.example"
        )
        with mute_logger(MUTE):
            message_id, mid = self.send(user_id, candidate, "No user name")
        self.assertEqual(self.received(mid), [])
        ((state, reason),) = self.mail_state(message_id)
        self.assertEqual(state, "exception")
        self.assertIn("Enter the outgoing mail server and the user name", reason)

    def test_fallback_uses_the_system_address(self):
        user_id, _login, address = self.own_recruiter()
        with self.real_env() as env:
            env["res.users"].browse(user_id)._carerix_mailbox()._set_smtp_password(
                "wrong-" + uuid.uuid4().hex
            )
            # An administrator allows the fallback in the settings.
            env["res.config.settings"].create({"carerix_smtp_fallback": True}).execute()
        self.addCleanup(self._unset_fallback)
        candidate = self.make_partner(
            name="Candidate", email=f"{unique('cand')}@mail.example"
        )
        message_id, mid = self.send(user_id, candidate, "Through the company")
        self.assertEqual(self.received(mid), [])  # not through his server
        with self.real_env() as env:
            user = env["res.users"].browse(user_id)
            system = user.carerix_system_address
            mails = (
                env["mail.mail"].sudo().search([("mail_message_id", "=", message_id)])
            )
            # Sent by the company server (skipped in tests), from the system address.
            self.assertFalse(mails.filtered(lambda m: m.state == "exception"))
            sender = env["mail.message"].browse(message_id).email_from
        self.assertTrue(system and system != address)
        self.assertEqual(getaddresses([sender])[0][1], system)

    def _unset_fallback(self):
        with self.real_env() as env:
            env["ir.config_parameter"].set_param("carerix_mail.smtp_fallback", False)

    def test_permanent_refusal_fails_transient_stays_queued(self):
        user_id, _login, _address = self.own_recruiter()
        refused = self.make_partner(name="Refused", email="reject550@mail.example")
        deferred = self.make_partner(name="Deferred", email="defer451@mail.example")
        with mute_logger(MUTE):
            refused_id, _mid = self.send(user_id, refused, "Refused")
        ((state, reason),) = self.mail_state(refused_id)
        self.assertEqual(state, "exception")
        self.assertIn("refused the message", reason)
        self.assertIn("550", reason)
        deferred_id, _mid = self.send(user_id, deferred, "Deferred")
        ((state, reason),) = self.mail_state(deferred_id)
        self.assertEqual(state, "outgoing")
        self.assertIn("tried again later", reason)

    def test_unreachable_server_leaves_the_mail_queued(self):
        listener = socket.socket()
        listener.bind((self.dovecot.host, 0))
        listener.listen(4)
        self.addCleanup(listener.close)

        def hang_up():  # accept, then close without a greeting
            with contextlib.suppress(OSError):
                conn, _addr = listener.accept()
                conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        user_id, _login, _address = self.own_recruiter(
            smtp_port=listener.getsockname()[1]
        )
        candidate = self.make_partner(
            name="Candidate", email=f"{unique('cand')}@mail.example"
        )
        message_id, mid = self.send(user_id, candidate, "Later")
        self.assertEqual(self.received(mid), [])
        ((state, _reason),) = self.mail_state(message_id)
        self.assertEqual(state, "outgoing")


@tagged("post_install", "-at_install")
class TestSendOwnServerOAuth(NoSmtpMixin, OAuthSyncCase):
    """Signed in with "Microsoft 365" (the local identity provider): the same
    tokens sign in to his outgoing server (XOAUTH2), refreshed once when the
    server rejects one."""

    def test_sent_with_the_oauth_sign_in_and_one_forced_refresh(self):
        sink = load_sink()
        user_id, login, address = self.make_oauth_recruiter()
        with self.real_env() as env:
            user = env["res.users"].browse(user_id)
            user.groups_id = [(4, env.ref("base.group_partner_manager").id)]
            user._carerix_mailbox().write(
                {
                    "from_address": address,
                    "smtp_mode": "own",
                    "smtp_host": self.dovecot.host,
                    "smtp_port": self.dovecot.submission_port,
                    "smtp_security": "starttls",
                }
            )
        candidate = self.make_partner(
            name="Candidate", email=f"{unique('cand')}@mail.example"
        )
        for subject in ("First", "After the token expired"):
            before = self.token_requests()
            with self.real_env(uid=user_id) as env:
                mid = (
                    env["res.partner"]
                    .browse(candidate)
                    .message_post(
                        body="<p>Hello</p>",
                        subject=subject,
                        partner_ids=[candidate],
                        message_type="comment",
                        subtype_xmlid="mail.mt_comment",
                    )
                    .message_id
                )
            received = [
                m
                for m in sink.messages()
                if email.message_from_bytes(m["raw"])["Message-ID"] == mid
            ]
            self.assertEqual(len(received), 1, subject)
            self.assertEqual(received[0]["mail_from"], address)
            self.assertIn("method=XOAUTH2", self._last_submission_login(login))
            # The first mail used the saved token; the second one was
            # rejected (expired at the provider) and refreshed once.
            self.assertEqual(self.token_requests(), before + (subject != "First"))
            self.idp.expire_access_tokens(login)  # our clock still thinks it fresh

    def _last_submission_login(self, login):
        lines = [
            line
            for line in self.dovecot.log_file.read_text(errors="replace").splitlines()
            if "submission-login:" in line and f"Login: user=<{login}>," in line
        ]
        return lines[-1] if lines else ""
