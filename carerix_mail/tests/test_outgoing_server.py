"""The Outgoing section of the Email settings: company or own server, provider
presets, the write-only outgoing password, and Test outgoing against Dovecot's
real submission service (nothing is sent)."""

import email
import json
import uuid

from odoo.exceptions import UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from .common import (
    assert_screenshots,
    build_tour_assets,
    load_dovecot,
    load_sink,
    screenshot_on_request,
    unique,
)
from .test_settings import ADMIN_VIEW, PREFERENCES_VIEW, SettingsCase


class OutgoingCase(SettingsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = load_sink()

    def configure_outgoing(self, **vals):
        """The owner's own outgoing server: Dovecot's submission port."""
        values = {
            "mailbox_smtp_mode": "own",
            "mailbox_smtp_host": self.dovecot.host,
            "mailbox_smtp_port": self.dovecot.submission_port,
            "mailbox_smtp_security": "starttls",
        }
        values.update(vals)
        self.configure(**values)

    def click_test_outgoing(self, user=None):
        return self.owner.with_user(user or self.owner).action_mailbox_test_outgoing()


@tagged("post_install", "-at_install")
class TestOutgoingSettings(OutgoingCase):
    def test_company_server_is_the_default(self):
        self.assertEqual(self.box.smtp_mode, "company")
        self.assertEqual(self.owner.with_user(self.owner).mailbox_smtp_mode, "company")

    def test_both_forms_have_the_outgoing_section(self):
        for view, user in ((PREFERENCES_VIEW, self.owner), (ADMIN_VIEW, self.admin)):
            arch = (
                self.env["res.users"]
                .with_user(user)
                .get_views([(self.env.ref(view).id, "form")])["views"]["form"]["arch"]
            )
            for name in (
                "carerix_outgoing",
                "mailbox_smtp_mode",
                "mailbox_smtp_host",
                "mailbox_smtp_password",
                "mailbox_smtp_files_sent",
                "action_mailbox_test_outgoing",
            ):
                self.assertIn(f'name="{name}"', arch, (view, name))

    def test_provider_presets(self):
        cases = {
            "microsoft": ("smtp.office365.com", 587, "starttls"),
            "google": ("smtp.gmail.com", 465, "ssl"),
        }
        for method, (host, port, security) in cases.items():
            with self.subTest(method=method):
                self.box.write({"auth_method": method, "smtp_mode": "company"})
                form = Form(self.owner.with_user(self.owner), view=PREFERENCES_VIEW)
                self.assertFalse(form.mailbox_smtp_files_sent)
                form.mailbox_smtp_mode = "own"
                self.assertEqual(form.mailbox_smtp_host, host)
                self.assertEqual(form.mailbox_smtp_port, port)
                self.assertEqual(form.mailbox_smtp_security, security)
                self.assertTrue(form.mailbox_smtp_files_sent)

    def test_port_follows_security_and_password_users_get_no_preset(self):
        self.box.write({"auth_method": "password", "smtp_mode": "company"})
        form = Form(self.owner.with_user(self.owner), view=PREFERENCES_VIEW)
        form.mailbox_smtp_mode = "own"
        self.assertFalse(form.mailbox_smtp_host)
        self.assertFalse(form.mailbox_smtp_files_sent)
        form.mailbox_smtp_security = "ssl"
        self.assertEqual(form.mailbox_smtp_port, 465)
        form.mailbox_smtp_security = "starttls"
        self.assertEqual(form.mailbox_smtp_port, 587)
        form.mailbox_smtp_host = "smtp.example.com"
        form.mailbox_smtp_port = 2525
        form.save()
        self.assertEqual(
            (self.box.smtp_mode, self.box.smtp_host, self.box.smtp_port),
            ("own", "smtp.example.com", 2525),
        )

    def test_security_none_needs_confirmation(self):
        with self.assertRaisesRegex(UserError, "Outgoing security 'None'"):
            self.configure_outgoing(mailbox_smtp_security="none")
        self.configure_outgoing(
            mailbox_smtp_security="none", mailbox_smtp_security_none_confirmed=True
        )
        self.assertEqual(self.box.smtp_security, "none")

    def test_outgoing_password_write_only_defaults_to_incoming(self):
        self.configure_outgoing()
        me = self.owner.with_user(self.owner)
        self.assertFalse(me.mailbox_smtp_has_password)
        self.assertEqual(self.box._get_smtp_password(), self.password)
        secret = "Out-" + uuid.uuid4().hex
        me.web_save({"mailbox_smtp_password": secret}, {})
        self.assertEqual(self.box._get_smtp_password(), secret)
        self.assertEqual(self.box._get_password(), self.password)
        result = me.web_read(self.view_spec(self.owner, PREFERENCES_VIEW))[0]
        self.assertTrue(result["mailbox_smtp_has_password"])
        self.assertFalse(result["mailbox_smtp_password"])
        # Saving without one keeps it.
        me.web_save({"mailbox_smtp_password": False, "mailbox_smtp_port": 587}, {})
        self.assertEqual(self.box._get_smtp_password(), secret)
        # Another user may neither set nor read it.
        with self.assertRaises(Exception):  # noqa: B017 - AccessError or UserError
            self.owner.with_user(self.other).write({"mailbox_smtp_password": "x"})
        self.assertEqual(self.box._get_smtp_password(), secret)


@tagged("post_install", "-at_install")
class TestTestOutgoing(OutgoingCase):
    def test_success_sends_nothing(self):
        self.configure_outgoing()
        before = len(self.sink.messages())
        action = self.click_test_outgoing()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(self.login, action["params"]["message"])
        self.assertIn("Nothing was sent", action["params"]["message"])
        self.assertEqual(len(self.sink.messages()), before)

    def test_implicit_tls_and_admin(self):
        self.configure_outgoing(
            mailbox_smtp_security="ssl",
            mailbox_smtp_port=self.dovecot.submissions_port,
        )
        action = self.click_test_outgoing(user=self.admin)
        self.assertEqual(action["params"]["type"], "success")

    def test_wrong_outgoing_password(self):
        self.configure_outgoing(mailbox_smtp_password="wrong-" + uuid.uuid4().hex)
        with self.assertRaisesRegex(
            UserError, "rejected the user name or password for " + self.login
        ):
            self.click_test_outgoing()

    def test_auth_not_offered(self):
        self.configure_outgoing(
            mailbox_smtp_port=self.sink.port,
            mailbox_smtp_security="none",
            mailbox_smtp_security_none_confirmed=True,
        )
        with self.assertRaisesRegex(UserError, r"does not offer to sign in \(AUTH\)"):
            self.click_test_outgoing()

    def test_tls_and_host_diagnosis(self):
        self.configure_outgoing(mailbox_smtp_security="ssl")
        with self.assertRaisesRegex(UserError, "does not speak SSL/TLS on port"):
            self.click_test_outgoing()
        self.configure_outgoing(mailbox_smtp_host="smtp.nonexistent.invalid")
        with self.assertRaisesRegex(UserError, "was not found"):
            self.click_test_outgoing()

    def test_company_mode_and_other_users(self):
        with self.assertRaisesRegex(UserError, "My own server"):
            self.click_test_outgoing()
        self.configure_outgoing()
        with self.assertRaises(Exception):  # noqa: B017 - AccessError
            self.click_test_outgoing(user=self.other)


@tagged("post_install", "-at_install")
class TestOutgoingTour(HttpCase):
    """A recruiter configures his own outgoing server, tests it and sends a
    standard message to a candidate, in a real browser (Chromium)."""

    browser_size = "1366x1000"

    def test_recruiter_sends_through_his_own_server(self):
        dovecot, sink = load_dovecot(), load_sink()
        login = unique("out")
        password = "pw-" + uuid.uuid4().hex
        dovecot.add_user(login, password)
        self.addCleanup(dovecot.remove_user, login)
        user_login = unique("sender")
        address = f"{user_login}@agency.example"
        user = new_test_user(
            self.env,
            login=user_login,
            groups="base.group_user,base.group_partner_manager",
            name="Otto Outgoing",
            tz="Europe/Amsterdam",
            email=address,
        )
        box = user._carerix_mailbox(create=True).sudo()
        box.write(
            {
                "host": dovecot.host,
                "port": dovecot.imap_port,
                "login": login,
                "from_address": address,
                "ca_file": dovecot.ca_file,
            }
        )
        box._set_password(password)
        candidate_email = f"{unique('cand')}@mail.example"
        candidate = self.env["res.partner"].create(
            {"name": "Carla Candidate", "email": candidate_email}
        )
        values = {
            "host": dovecot.host,
            "port": dovecot.submission_port,
            "candidate": candidate.id,
        }
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False}
        code = (
            f"window.carerixTourValues = {json.dumps(values)}; "
            f"odoo.startTour('carerix_mail_outgoing', {json.dumps(options)})"
        )
        build_tour_assets(self.env)
        futures = {}
        with screenshot_on_request(futures):
            self.start_tour(
                "/odoo",
                "carerix_mail_outgoing",
                login=user_login,
                code=code,
                timeout=180,
            )
        assert_screenshots(
            self, futures, {"outgoing_settings", "outgoing_test", "outgoing_sent"}
        )
        box.invalidate_recordset()
        self.assertEqual(
            (box.smtp_mode, box.smtp_host, box.smtp_port),
            ("own", dovecot.host, dovecot.submission_port),
        )
        message = self.env["mail.message"].search(
            [("model", "=", "res.partner"), ("res_id", "=", candidate.id)],
            order="id desc",
            limit=1,
        )
        self.assertEqual(message.subject, "Invitation to an interview")
        queued = (
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "=", message.id), ("state", "=", "outgoing")])
        )
        queued.send()  # when the request left it for after its commit
        received = [
            email.message_from_bytes(m["raw"])
            for m in sink.messages()
            if candidate_email in m["rcpt_tos"]
        ]
        self.assertEqual(len(received), 1)
        self.assertIn(address, received[0]["From"])
        self.assertEqual(received[0]["Message-ID"], message.message_id)
        entry = self.env["carerix.mailbox.message"].search([("owner_id", "=", user.id)])
        self.assertEqual(entry.direction, "outgoing")
        self.assertIn(candidate, entry.partner_ids | message.partner_ids)
