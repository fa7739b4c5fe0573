"""Email settings on the user card and the preferences form, Test connection,
Edit folders, and the write-only mailbox passwords, incoming and outgoing
(every channel, every user)."""

import contextlib
import importlib.util
import json
import logging
import shutil
import socket
import tempfile
import uuid
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, TransactionCase, new_test_user, tagged

from odoo.addons.carerix_mail.models import carerix_mailbox as mailbox_module
from odoo.addons.carerix_mail.models import res_users as res_users_module

from .common import (
    _SCRIPTS,
    assert_screenshots,
    build_tour_assets,
    load_dovecot,
    screenshot_on_request,
    unique,
)

PREFERENCES_VIEW = "base.view_users_form_simple_modif"
ADMIN_VIEW = "base.view_users_form"


def _free_port(host):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Capture(logging.Handler):
    """Collects every formatted log line emitted while installed."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@contextlib.contextmanager
def _capture_logs():
    """Every log line at DEBUG and above, but SQL statements (odoo.sql_db at
    DEBUG would print every query with its parameters, a stored secret too)."""
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    sql_logger = logging.getLogger("odoo.sql_db")
    old_sql_level = sql_logger.level
    sql_logger.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        sql_logger.setLevel(old_sql_level)


class SettingsCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = load_dovecot()
        # Export allowed, so that export_data is a channel to check.
        cls.owner = new_test_user(
            cls.env,
            login=unique("owner"),
            tz="Europe/Amsterdam",  # required on the preferences with hr
            groups="base.group_user,base.group_allow_export",
        )
        cls.other = new_test_user(
            cls.env,
            login=unique("other"),
            groups="base.group_user,base.group_allow_export",
        )
        cls.admin = new_test_user(
            cls.env, login=unique("admin"), groups="base.group_user,base.group_system"
        )
        cls.user_admin = new_test_user(
            cls.env,
            login=unique("usradm"),
            groups="base.group_user,base.group_erp_manager",
        )
        # The Dovecot account of the owner.
        cls.login = unique("dc")
        cls.password = "pw-" + uuid.uuid4().hex
        cls.dovecot.add_user(cls.login, cls.password)
        cls.addClassCleanup(cls.dovecot.remove_user, cls.login)
        cls.box = cls.owner._carerix_mailbox(create=True)
        cls.box.sudo().ca_file = cls.dovecot.ca_file

    def configure(self, password=None, **vals):
        """Fill in the owner's settings through his own preferences (web_save)."""
        values = {
            "mailbox_host": self.dovecot.host,
            "mailbox_port": self.dovecot.imap_port,
            "mailbox_login": self.login,
            "mailbox_protocol": "imap",
            "mailbox_security": "starttls",
            "mailbox_password": password or self.password,
        }
        values.update(vals)
        self.owner.with_user(self.owner).web_save(values, {"mailbox_host": {}})

    def view_spec(self, user, view_xmlid):
        """web_read specification of every field of a res.users form view."""
        views = (
            self.env["res.users"]
            .with_user(user)
            .get_views([(self.env.ref(view_xmlid).id, "form")])
        )
        return {name: {} for name in views["models"]["res.users"]["fields"]}

    def _assert_leaked_nowhere(self, secret, texts, loggers):
        """``secret`` is in none of ``texts`` (log lines, texts read), none of
        the calls of the mock ``loggers``, and stored nowhere."""
        for text in texts:
            self.assertNotIn(secret, text)
        for logger in loggers:
            self.assertNotIn(secret, repr(logger.mock_calls))
        self._assert_stored_nowhere(secret)

    def _assert_stored_nowhere(self, secret):
        """No log record, tracking value or message holds ``secret``."""
        Sudo = self.env["ir.logging"].sudo()
        self.assertFalse(Sudo.search([("message", "ilike", secret)]))
        tracking = self.env["mail.tracking.value"].sudo()
        self.assertFalse(
            tracking.search(
                [
                    "|",
                    "|",
                    "|",
                    ("old_value_char", "ilike", secret),
                    ("new_value_char", "ilike", secret),
                    ("old_value_text", "ilike", secret),
                    ("new_value_text", "ilike", secret),
                ]
            )
        )
        self.assertFalse(
            self.env["mail.message"].sudo().search([("body", "ilike", secret)])
        )

    def _everything_readable(self, secret):
        """Read the settings through every RPC path as owner, other, admin.

        Returns the texts read (for the caller's final check) after checking
        that none of them holds ``secret``.
        """
        seen = []
        for reader in (self.owner, self.other, self.admin):
            texts = self._read_user_settings(reader, secret)
            if reader == self.owner:
                texts.update(self._read_preferences(reader))
            if reader in (self.owner, self.admin):
                texts.update(self._read_mailbox(reader, secret))
            if reader == self.admin:
                texts["web_read_admin_form"] = self.owner.with_user(reader).web_read(
                    self.view_spec(reader, ADMIN_VIEW)
                )
            for channel, value in texts.items():
                text = json.dumps(value, default=str)
                with self.subTest(reader=reader.login, channel=channel):
                    self.assertNotIn(secret, text)
                seen.append(text)
        return seen

    def _read_user_settings(self, reader, secret):
        """The owner's settings on res.users as ``reader`` reads them."""
        users = self.env["res.users"].with_user(reader)
        me = self.owner.with_user(reader)
        all_user_fields = [
            name
            for name in users.fields_get(attributes=["type"])
            if name.startswith("mailbox_")
        ]
        self.assertIn("mailbox_password", all_user_fields)
        texts = {
            "read": me.read(all_user_fields),
            "read_password": me.read(["mailbox_password"]),
            "search_read": users.search_read(
                [("id", "=", self.owner.id)], all_user_fields
            ),
            "export_user": me.export_data(
                ["mailbox_password", "mailbox_host", "mailbox_login"]
            ),
            "fields_get_user": users.fields_get(),
            "fields_get_box": self.env["carerix.mailbox"]
            .with_user(reader)
            .fields_get(),
            "name_search": users.name_search(secret),
        }
        self.assertFalse(texts["read_password"][0]["mailbox_password"])
        self.assertNotIn(
            "password_secret", texts["fields_get_box"], "secret is no ORM field"
        )
        self.assertFalse(users.search([("login", "=", secret)]))
        # No search oracle: a password condition never matches.
        self.assertFalse(users.search([("mailbox_password", "=", secret)]))
        self.assertFalse(users.search([("mailbox_password", "!=", secret)]))
        return texts

    def _read_preferences(self, reader):
        """The preferences form of the owner, read and changed by himself."""
        me = self.owner.with_user(reader)
        texts = {
            "web_read_preferences": me.web_read(
                self.view_spec(reader, PREFERENCES_VIEW)
            ),
            "onchange_preferences": me.onchange(
                {"mailbox_protocol": "pop3", "mailbox_password": "typed"},
                ["mailbox_protocol"],
                {"mailbox_protocol": {}, "mailbox_port": {}, "mailbox_password": {}},
            ),
        }
        self.assertNotIn("mailbox_password", texts["onchange_preferences"]["value"])
        return texts

    def _read_mailbox(self, reader, secret):
        """The owner's carerix.mailbox as ``reader`` (owner or admin) reads it."""
        box = self.env["carerix.mailbox"].with_user(reader).browse(self.box.id)
        # (POP3 UIDLs are for settings administrators only.)
        box_fields = [f for f in box.fields_get() if f != "uidl_ids"]
        texts = {
            "read_box": box.read(box_fields),
            "search_read_box": box.search_read([("id", "=", self.box.id)], box_fields),
            "export_box": box.export_data([f for f in box_fields if f != "folder_ids"]),
        }
        self.assertEqual(texts["read_box"][0]["host"], self.dovecot.host)
        self.assertTrue(texts["read_box"][0]["has_password"])
        with self.assertRaises(ValueError):
            box.read(["password_secret"])
        with self.assertRaises(ValueError):
            box.search([("password_secret", "=", secret)])
        return texts


@tagged("post_install", "-at_install")
class TestSettingsForms(SettingsCase):
    def test_preferences_form_has_the_page_for_a_plain_user(self):
        action = self.env["res.users"].with_user(self.owner).action_get()
        self.assertEqual(
            action["views"][0][0], self.env.ref(PREFERENCES_VIEW).id, action["views"]
        )
        views = (
            self.env["res.users"]
            .with_user(self.owner)
            .get_views([(self.env.ref(PREFERENCES_VIEW).id, "form")])
        )
        arch = views["views"]["form"]["arch"]
        self.assertIn('name="carerix_email_settings"', arch)
        for name in ("mailbox_host", "mailbox_password", "mailbox_folder_ids"):
            self.assertIn(f'name="{name}"', arch)
        fields = views["models"]["res.users"]["fields"]
        self.assertFalse(fields["mailbox_host"].get("readonly"))
        self.assertFalse(fields["mailbox_password"].get("readonly"))
        self.assertTrue(fields["mailbox_state"].get("readonly"))

    def test_admin_form_page_only_for_settings_admins(self):
        arch = (
            self.env["res.users"]
            .with_user(self.admin)
            .get_views([(self.env.ref(ADMIN_VIEW).id, "form")])["views"]["form"]["arch"]
        )
        self.assertIn('name="carerix_email_settings"', arch)
        arch = (
            self.env["res.users"]
            .with_user(self.user_admin)
            .get_views([(self.env.ref(ADMIN_VIEW).id, "form")])["views"]["form"]["arch"]
        )
        self.assertNotIn('name="carerix_email_settings"', arch)

    def test_preferences_save_as_plain_user_with_password(self):
        me = self.owner.with_user(self.owner)
        result = me.web_save(
            {
                "mailbox_host": self.dovecot.host,
                "mailbox_port": self.dovecot.imap_port,
                "mailbox_login": self.login,
                "mailbox_password": self.password,
                "mailbox_fetch_enabled": True,
            },
            self.view_spec(self.owner, PREFERENCES_VIEW),
        )[0]
        self.assertEqual(result["mailbox_host"], self.dovecot.host)
        self.assertEqual(result["mailbox_port"], self.dovecot.imap_port)
        self.assertTrue(result["mailbox_fetch_enabled"])
        self.assertTrue(result["mailbox_has_password"])
        self.assertFalse(result["mailbox_password"])
        # Untouched settings keep their values.
        self.assertEqual(result["mailbox_protocol"], "imap")
        self.assertEqual(result["mailbox_security"], "starttls")
        self.assertTrue(result["mailbox_keep_copy"])
        self.assertEqual(self.box._get_password(), self.password)
        # Saving again without a password keeps the saved one.
        me.web_save({"mailbox_login": self.login, "mailbox_password": False}, {})
        self.assertEqual(self.box._get_password(), self.password)

    def test_port_defaults_from_protocol_and_security_and_stays_editable(self):
        for view in (PREFERENCES_VIEW, ADMIN_VIEW):
            with self.subTest(view=view):
                user = self.owner if view == PREFERENCES_VIEW else self.admin
                self.box.write({"port": 0, "protocol": "imap", "security": "starttls"})
                form = Form(self.owner.with_user(user), view=view)
                self.assertEqual(form.mailbox_port, 143)
                form.mailbox_security = "ssl"
                self.assertEqual(form.mailbox_port, 993)
                form.mailbox_protocol = "pop3"
                self.assertEqual(form.mailbox_port, 995)
                form.mailbox_security = "starttls"
                self.assertEqual(form.mailbox_port, 110)
                form.mailbox_protocol = "imap"
                self.assertEqual(form.mailbox_port, 143)
                form.mailbox_port = 10143
                form.mailbox_host = "imap.example.com"
                form.save()
                self.assertEqual(self.box.port, 10143)
                self.assertEqual(self.box.host, "imap.example.com")
                self.assertEqual(self.box.protocol, "imap")

    def test_security_none_needs_confirmation_on_both_forms(self):
        for view in (PREFERENCES_VIEW, ADMIN_VIEW):
            with self.subTest(view=view):
                user = self.owner if view == PREFERENCES_VIEW else self.admin
                self.box.write(
                    {"security": "starttls", "security_none_confirmed": False}
                )
                arch = (
                    self.env["res.users"]
                    .with_user(user)
                    .get_views([(self.env.ref(view).id, "form")])["views"]["form"][
                        "arch"
                    ]
                )
                self.assertIn("alert-danger", arch)
                self.assertIn("readable on the way", arch)
                form = Form(self.owner.with_user(user), view=view)
                form.mailbox_host = "imap.example.com"
                form.mailbox_security = "none"
                self.assertEqual(form.mailbox_port, 143)
                with (
                    self.assertRaisesRegex(UserError, "unencrypted"),
                    self.env.cr.savepoint(),
                ):
                    form.save()
                self.env.invalidate_all()
                self.assertEqual(self.box.security, "starttls")
                form.mailbox_security_none_confirmed = True
                form.save()
                self.assertEqual(self.box.security, "none")
                self.assertTrue(self.box.security_none_confirmed)
                # Back to encryption: the confirmation is dropped again.
                form.mailbox_security = "ssl"
                self.assertFalse(form.mailbox_security_none_confirmed)
                form.save()
                self.assertEqual(self.box.security, "ssl")
                self.assertFalse(self.box.security_none_confirmed)

    def test_pop_only_fields_greyed_out_for_imap_and_health_read_only(self):
        form = Form(self.owner.with_user(self.owner), view=PREFERENCES_VIEW)
        self.assertEqual(form.mailbox_protocol, "imap")
        with self.assertRaises(AssertionError):
            form.mailbox_keep_copy = False
        with self.assertRaises(AssertionError):
            form.mailbox_remove_after_days = 7
        with self.assertRaises(AssertionError):
            form.mailbox_state = "ok"
        with self.assertRaises(AssertionError):
            form.mailbox_count_fetched = 3
        form.mailbox_protocol = "pop3"
        form.mailbox_keep_copy = True
        form.mailbox_remove_after_days = 7
        form.save()
        self.assertEqual(self.box.protocol, "pop3")
        self.assertEqual(self.box.remove_after_days, 7)

    def test_page_fields_are_the_mailbox_fields(self):
        """Each mailbox field marked user_setting is on res.users as
        mailbox_<name>, with the mailbox field's type, label, help, selection
        and read-only flag, readable by the user himself and writable unless
        read-only; and nothing else of the mailbox is."""
        Box = self.env["carerix.mailbox"]
        Users = self.env["res.users"]
        marked = [n for n, f in Box._fields.items() if getattr(f, "user_setting", 0)]
        self.assertIn("host", marked)
        self.assertIn("state", marked)
        self.assertNotIn("ca_file", marked)
        self.assertEqual(
            set(res_users_module.MAILBOX_FIELDS.values()), set(marked), marked
        )
        readable = Users.SELF_READABLE_FIELDS
        writeable = Users.SELF_WRITEABLE_FIELDS
        for name in marked:
            with self.subTest(field=name):
                source, proxy = Box._fields[name], Users._fields[f"mailbox_{name}"]
                self.assertEqual(proxy.type, source.type)
                self.assertEqual(proxy.string, source.string)
                self.assertEqual(proxy.help, source.help)
                self.assertEqual(proxy.readonly, source.readonly)
                self.assertIn(proxy.name, readable)
                self.assertEqual(proxy.name in writeable, not source.readonly)
                if source.type == "selection":
                    self.assertEqual(
                        proxy._description_selection(self.env),
                        source._description_selection(self.env),
                    )
        # (a help text that is copied, so the check above checks something)
        self.assertTrue(Users._fields["mailbox_security_none_confirmed"].help)

    def test_folders_list_on_the_card(self):
        self.env["carerix.mailbox.folder"].create(
            [
                {"mailbox_id": self.box.id, "name": "INBOX", "role": "inbox"},
                {"mailbox_id": self.box.id, "name": "Sent", "role": "sent"},
            ]
        )
        self.box.folder_ids.filtered(lambda f: f.name == "INBOX").sudo().write(
            {"uidvalidity": 42, "last_uid": 7}
        )
        me = self.owner.with_user(self.owner)
        result = me.web_read(
            {
                "mailbox_folder_ids": {
                    "fields": {
                        "name": {},
                        "role": {},
                        "uidvalidity": {},
                        "last_uid": {},
                    }
                }
            }
        )[0]["mailbox_folder_ids"]
        self.assertEqual(
            sorted(
                (f["name"], f["role"], f["uidvalidity"], f["last_uid"]) for f in result
            ),
            [("INBOX", "inbox", 42, 7), ("Sent", "sent", 0, 0)],
        )
        self.assertFalse(
            self.owner.with_user(self.other).read(["mailbox_folder_ids"])[0][
                "mailbox_folder_ids"
            ]
        )


@tagged("post_install", "-at_install")
class TestSettingsPrivacy(SettingsCase):
    def test_other_users_cannot_read_the_settings(self):
        self.configure(mailbox_fetch_enabled=True)
        for reader in (self.other, self.user_admin):
            with self.subTest(reader=reader.login):
                values = self.owner.with_user(reader).read(
                    [*res_users_module.MAILBOX_FIELDS, "mailbox_has_password"]
                )[0]
                self.assertFalse(values["mailbox_host"])
                self.assertFalse(values["mailbox_login"])
                self.assertFalse(values["mailbox_fetch_enabled"])
                self.assertFalse(values["mailbox_has_password"])
                self.assertNotEqual(values["mailbox_port"], self.dovecot.imap_port)
                Box = self.env["carerix.mailbox"].with_user(reader)
                self.assertNotIn(self.box, Box.search([]))
                with self.assertRaises(AccessError):
                    Box.browse(self.box.id).read(["host"])
                with self.assertRaises(AccessError):
                    self.env["carerix.mailbox.folder"].with_user(reader).create(
                        {"mailbox_id": self.box.id, "name": "X"}
                    )
        # The settings administrator does see them (but never the password).
        values = self.owner.with_user(self.admin).read(
            ["mailbox_host", "mailbox_login"]
        )
        self.assertEqual(values[0]["mailbox_host"], self.dovecot.host)
        self.assertEqual(values[0]["mailbox_login"], self.login)

    def test_other_users_cannot_write_the_settings(self):
        self.configure()
        for writer in (self.other, self.user_admin):
            with self.subTest(writer=writer.login):
                with self.assertRaises(AccessError):
                    self.owner.with_user(writer).write({"mailbox_host": "evil.example"})
                with self.assertRaises(AccessError):
                    self.owner.with_user(writer).write({"mailbox_password": "stolen"})
                with self.assertRaises(AccessError):
                    self.env["carerix.mailbox"].with_user(writer).browse(
                        self.box.id
                    ).write({"host": "evil.example"})
                with self.assertRaises(AccessError):
                    self.owner.with_user(writer).action_mailbox_test_connection()
                with self.assertRaises(AccessError):
                    self.owner.with_user(writer).action_mailbox_edit_folders()
        self.assertEqual(self.box.host, self.dovecot.host)
        self.assertEqual(self.box._get_password(), self.password)
        # A settings administrator may set them (and a new password).
        self.owner.with_user(self.admin).write(
            {"mailbox_host": "imap.example.com", "mailbox_password": "new-pw"}
        )
        self.assertEqual(self.box.host, "imap.example.com")
        self.assertEqual(self.box._get_password(), "new-pw")

    def test_password_unreadable_through_every_channel(self):
        secret = "S3cr3t-" + uuid.uuid4().hex
        with _capture_logs() as capture:
            with (
                patch.object(mailbox_module, "_logger") as box_logger,
                patch.object(res_users_module, "_logger", create=True) as user_logger,
            ):
                self.configure(password=secret, mailbox_fetch_enabled=True)
                self.assertEqual(self.box._get_password(), secret)
                seen = self._everything_readable(secret)
                # A failing Test connection (wrong password: the secret).
                with self.assertRaises(UserError) as failure:
                    self.owner.with_user(self.owner).action_mailbox_test_connection()
                seen.append(str(failure.exception))
                self.assertIn("rejected the user name or password", seen[-1])
                self.assertIn(self.login, seen[-1])
                # ... and a failing sync records its error on the card.
                with (
                    patch.object(self.env.cr, "commit"),
                    patch.object(self.env.cr, "rollback"),
                ):
                    health = self.box.sudo()._sync()
                self.assertEqual(health["state"], "failing")
                seen.append(json.dumps(health, default=str))
        self.assertTrue(capture.lines, "no log line captured at all")
        self._assert_leaked_nowhere(
            secret, capture.lines + seen, (box_logger, user_logger)
        )
        # The secret is still there for the sync.
        self.assertEqual(self.box._get_password(), secret)

    def test_outgoing_password_unreadable_through_every_channel(self):
        secret = "Out-S3cr3t-" + uuid.uuid4().hex
        with _capture_logs() as capture:
            with (
                patch.object(mailbox_module, "_logger") as box_logger,
                patch.object(res_users_module, "_logger", create=True) as user_logger,
            ):
                self.configure(
                    mailbox_smtp_mode="own",
                    mailbox_smtp_host=self.dovecot.host,
                    mailbox_smtp_port=self.dovecot.submission_port,
                    mailbox_smtp_password=secret,
                )
                self.assertEqual(self.box._get_smtp_password(), secret)
                seen = self._everything_readable(secret)
                fields_get = self.env["carerix.mailbox"].fields_get()
                self.assertNotIn("smtp_password_secret", fields_get)
                with self.assertRaises(ValueError):
                    self.box.read(["smtp_password_secret"])
                users = self.env["res.users"].with_user(self.owner)
                self.assertFalse(users.search([("mailbox_smtp_password", "=", secret)]))
                self.assertFalse(
                    users.search([("mailbox_smtp_password", "!=", secret)])
                )
                # A failing Test outgoing (wrong password: the secret).
                with self.assertRaises(UserError) as failure:
                    self.owner.with_user(self.owner).action_mailbox_test_outgoing()
                seen.append(str(failure.exception))
                self.assertIn("rejected the user name or password", seen[-1])
        self._assert_leaked_nowhere(
            secret, capture.lines + seen, (box_logger, user_logger)
        )
        self.assertEqual(self.box._get_smtp_password(), secret)


@tagged("post_install", "-at_install")
class TestTestConnection(SettingsCase):
    def test_success(self):
        self.configure()
        action = self.owner.with_user(self.owner).action_mailbox_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(self.login, action["params"]["message"])
        self.assertIn("folders found", action["params"]["message"])

    def test_wrong_password(self):
        self.configure(password="wrong-" + uuid.uuid4().hex)
        with self.assertRaisesRegex(
            UserError, "rejected the user name or password for " + self.login
        ):
            self.owner.with_user(self.owner).action_mailbox_test_connection()

    def test_refused_port(self):
        port = _free_port(self.dovecot.host)
        self.configure(mailbox_port=port)
        with self.assertRaisesRegex(
            UserError, f"refused the connection on port {port}"
        ):
            self.owner.with_user(self.owner).action_mailbox_test_connection()

    def test_untrusted_certificate(self):
        self.box.sudo().ca_file = False
        self.configure(mailbox_security="ssl", mailbox_port=self.dovecot.imaps_port)
        with self.assertRaisesRegex(UserError, "not signed by a trusted authority"):
            self.owner.with_user(self.owner).action_mailbox_test_connection()

    def test_starttls_not_offered(self):
        spec = importlib.util.spec_from_file_location("carerix_devservices_h", _SCRIPTS)
        devservices = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(devservices)
        base = tempfile.mkdtemp(prefix="carerix-plain-dovecot-")
        self.addCleanup(shutil.rmtree, base, ignore_errors=True)
        plain = devservices.Dovecot(base, starttls=False).start()
        self.addCleanup(plain.stop)
        plain.add_user(self.login, self.password)
        self.configure(mailbox_port=plain.imap_port)
        with self.assertRaisesRegex(UserError, "does not offer STARTTLS"):
            self.owner.with_user(self.owner).action_mailbox_test_connection()

    def test_missing_server(self):
        with self.assertRaisesRegex(UserError, "Enter the mail server"):
            self.owner.with_user(self.owner).action_mailbox_test_connection()


@tagged("post_install", "-at_install")
class TestEditFolders(SettingsCase):
    def _open_wizard(self, user=None, **context):
        action = (
            self.owner.with_user(user or self.owner)
            .with_context(**context)
            .action_mailbox_edit_folders()
        )
        self.assertEqual(action["res_model"], "carerix.mailbox.folder.wizard")
        self.assertEqual(action["target"], "new")
        wizard = (
            self.env[action["res_model"]]
            .with_user(user or self.owner)
            .with_context(**action["context"])
            .browse(action["res_id"])
        )
        return wizard, action

    def test_lists_folders_with_proposed_roles_and_saves_a_change(self):
        self.configure()
        for name in ("Sent", "Verzonden items", "[Gmail]/Sent Mail", "Projects"):
            self.dovecot.create_folder(self.login, name)
        wizard, action = self._open_wizard()
        self.assertFalse(action["context"]["carerix_from_preferences"])
        lines = {line.name: line.proposed_role for line in wizard.line_ids}
        self.assertEqual(lines["INBOX"], "inbox")
        self.assertEqual(lines["Sent"], "sent")
        self.assertEqual(lines["Verzonden items"], "sent")
        self.assertEqual(lines["[Gmail]/Sent Mail"], "sent")
        self.assertEqual(lines["Projects"], "ignore")
        self.assertEqual(
            {line.name: line.role for line in wizard.line_ids}, lines, "role = proposal"
        )
        self.assertFalse(wizard.vanished_folders)
        with Form(wizard) as form:
            for index in range(len(form.line_ids)):
                with form.line_ids.edit(index) as line:
                    if line.name == "Projects":
                        line.role = "inbox"
        result = wizard.action_apply()
        self.assertEqual(result["params"]["type"], "success")
        self.assertIn("2 folder(s) synced as inbox", result["params"]["message"])
        self.assertEqual(
            result["params"]["next"]["type"], "ir.actions.act_window_close"
        )
        roles = dict(self.box.folder_ids.mapped(lambda f: (f.name, f.role)))
        self.assertEqual(roles["Projects"], "inbox")
        self.assertEqual(roles["Sent"], "sent")
        # Shown on the user's card.
        card = self.owner.with_user(self.owner).mailbox_folder_ids
        self.assertEqual(
            dict(card.mapped(lambda f: (f.name, f.role)))["Projects"], "inbox"
        )
        # The change survives a new discovery.
        wizard, _action = self._open_wizard()
        self.assertEqual(
            {line.name: line.role for line in wizard.line_ids}["Projects"], "inbox"
        )

    def test_vanished_folder_is_reported(self):
        self.configure()
        self.dovecot.create_folder(self.login, "Old project")
        wizard, _action = self._open_wizard()
        self.assertIn("Old project", wizard.line_ids.mapped("name"))
        self.dovecot.delete_folder(self.login, "Old project")
        wizard, _action = self._open_wizard()
        self.assertNotIn("Old project", wizard.line_ids.mapped("name"))
        self.assertEqual(wizard.vanished_folders, "Old project")
        folder = self.box.folder_ids.filtered(lambda f: f.name == "Old project")
        self.assertFalse(folder.present)
        wizard.action_apply()  # saving with a vanished folder works

    def test_from_preferences_returns_to_preferences(self):
        self.configure()
        wizard, action = self._open_wizard(carerix_from_preferences=True)
        self.assertTrue(action["context"]["carerix_from_preferences"])
        for result in (wizard.action_apply()["params"]["next"], wizard.action_cancel()):
            self.assertEqual(result["res_model"], "res.users")
            self.assertEqual(result["res_id"], self.owner.id)
            self.assertEqual(result["target"], "new")

    def test_server_error_is_a_user_error(self):
        self.configure(password="wrong-" + uuid.uuid4().hex)
        with self.assertRaisesRegex(UserError, "rejected the user name or password"):
            self._open_wizard()

    def test_pop3_has_no_folders(self):
        self.configure(mailbox_protocol="pop3", mailbox_port=self.dovecot.pop3_port)
        with self.assertRaisesRegex(UserError, "Only IMAP"):
            self._open_wizard()


@tagged("post_install", "-at_install")
class TestSettingsTour(HttpCase):
    """A recruiter sets up his mailbox in a real browser (Chromium)."""

    browser_size = "1366x1000"

    def test_recruiter_sets_up_his_mailbox(self):
        dovecot = load_dovecot()
        login = unique("tour")
        password = "pw-" + uuid.uuid4().hex
        dovecot.add_user(login, password)
        self.addCleanup(dovecot.remove_user, login)
        for name in ("Sent", "Verzonden items", "Projects"):
            dovecot.create_folder(login, name)
        user_login, user = self._make_recruiter(dovecot)
        values = {
            "host": dovecot.host,
            "port": dovecot.imap_port,
            "login": login,
            "password": password,
        }
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False}
        code = (
            f"window.carerixTourValues = {json.dumps(values)}; "
            f"odoo.startTour('carerix_mail_settings', {json.dumps(options)})"
        )
        build_tour_assets(self.env)
        futures = {}
        with screenshot_on_request(futures):
            self.start_tour(
                "/odoo",
                "carerix_mail_settings",
                login=user_login,
                code=code,
                timeout=180,
            )
        assert_screenshots(
            self,
            futures,
            {
                "security_none_warning",
                "folder_wizard",
                "email_settings",
                "email_settings_folders",
            },
        )

        box = user._carerix_mailbox()
        box.invalidate_recordset()
        self.assertEqual(
            (box.host, box.port, box.login, box.protocol, box.security),
            (dovecot.host, dovecot.imap_port, login, "imap", "starttls"),
        )
        self.assertTrue(box.fetch_enabled)
        self.assertEqual(box._get_password(), password)
        roles = dict(box.folder_ids.mapped(lambda f: (f.name, f.role)))
        self.assertEqual(roles["Projects"], "inbox")
        self.assertEqual(roles["Sent"], "sent")
        self.assertEqual(roles["Verzonden items"], "sent")
        self.assertEqual(roles["INBOX"], "inbox")

    def _make_recruiter(self, dovecot):
        """The tour's user (login, record), his mailbox trusting Dovecot's CA."""
        user_login = unique("recruiter")
        user = new_test_user(
            self.env,
            login=user_login,
            groups="base.group_user",
            name="Rita Recruiter",
            tz="Europe/Amsterdam",  # required on the preferences with hr
            email=f"{user_login}@agency.example",
        )
        # The per-run CA of the test Dovecot (an administrator's setting).
        user._carerix_mailbox(create=True).sudo().ca_file = dovecot.ca_file
        return user_login, user
