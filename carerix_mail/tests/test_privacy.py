"""Confidential mail: the privacy matrix (paths x actors).

A private mail (subject, body and attachment bytes carry secret markers) and a
public mail are archived on a candidate by ``_archive_raw``, as a sync does.
Every path a logged-in user can take is then run as every actor who is not
the owner; none may see a marker, a hit or a count of the private mail. The
owner sees everything, and the public mail stays visible to everyone.
"""

import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.mail.tools.discuss import Store

from .common import make_mail

SECRETS = ("SECRETSUBJECT", "SECRETBODY", "SECRETBYTES", "secretfile")
DENIED = "<denied>"


def _text(value):
    return json.dumps(value, default=str)


@tagged("post_install", "-at_install")
class PrivacyCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        recruiter_groups = "base.group_user,base.group_partner_manager"
        cls.owner = new_test_user(
            env,
            login="priv_owner",
            email="owner@agency.example",
            name="Owner",
            groups=recruiter_groups,
        )
        cls.recruiter = new_test_user(
            env, login="priv_other", name="Other recruiter", groups=recruiter_groups
        )
        cls.follower = new_test_user(env, login="priv_follower", name="Follower")
        cls.admin = new_test_user(
            env,
            login="priv_admin",
            name="Settings admin",
            groups="base.group_user,base.group_system",
        )
        cls.rights_admin = new_test_user(
            env,
            login="priv_rights",
            name="Access rights admin",
            groups="base.group_user,base.group_erp_manager",
        )
        cls.portal = new_test_user(
            env, login="priv_portal", name="Portal", groups="base.group_portal"
        )
        cls.box = cls.owner._carerix_mailbox(create=True)
        cls.candidate = env["res.partner"].create(
            {"name": "Candidate", "email": "cand@mail.example"}
        )
        cls.candidate.message_subscribe(
            partner_ids=(cls.follower.partner_id | cls.portal.partner_id).ids,
            subtype_ids=env["mail.message.subtype"].search([]).ids,
        )
        cls.Entry = env["carerix.mailbox.message"]

    @classmethod
    def archive(cls, subject, body="Hello", box=None, sender=None, **kwargs):
        box = box or cls.box
        raw = make_mail(
            sender or "Candidate <cand@mail.example>",
            box.user_id.email,
            subject,
            body,
            **kwargs,
        )
        return cls.Entry._archive_raw(box, raw)

    @staticmethod
    def copy_on(entry, record):
        return entry.copy_ids.filtered(
            lambda m: m.model == record._name and m.res_id == record.id
        )


class PrivacyPaths:
    """The read paths of the privacy matrix. Each returns what the actor
    obtains (or DENIED) about ``self.private`` (private ``mail.message``
    records), ``self.private_attachments``, ``self.private_entry`` (a synced
    mail of the owner), ``self.candidate`` and ``self.quiet`` (a contact whose
    only mail is private); ``SECRETS`` are the markers none may show."""

    def path_search(self, env):
        found = env["mail.message"].search(
            ["|", ("body", "ilike", "SECRETBODY"), ("subject", "ilike", "SECRET")]
        )
        return found.mapped("subject")

    def path_search_read(self, env):
        return env["mail.message"].search_read(
            [("model", "=", "res.partner"), ("res_id", "=", self.candidate.id)],
            ["subject", "body", "attachment_ids"],
        )

    def path_read(self, env):
        return env["mail.message"].browse(self.private.ids).read(["subject", "body"])

    def path_field_access(self, env):
        return env["mail.message"].browse(self.private.ids[:1]).body

    def path_read_group(self, env):
        return env["mail.message"].read_group(
            [("model", "=", "res.partner"), ("res_id", "=", self.candidate.id)],
            ["subject"],
            ["subject"],
        )

    def path_search_count(self, env):
        count = env["mail.message"].search_count([("id", "in", self.private.ids)])
        return "SECRETSUBJECT hit" if count else ""

    def path_export(self, env):
        return (
            env["mail.message"]
            .browse(self.private.ids)
            .export_data(["subject", "body"])
        )

    def path_open_document(self, env):
        env["mail.message"].browse(self.private.ids[:1]).action_open_document()
        return "SECRETSUBJECT opened"

    def path_chatter(self, env):
        domain = [("model", "=", "res.partner"), ("res_id", "=", self.candidate.id)]
        messages = env["mail.message"]._message_fetch(domain)["messages"]
        store = Store()
        messages._to_store(store, for_current_user=True)
        return store.get_result()

    def path_chatter_search(self, env):
        domain = [("model", "=", "res.partner"), ("res_id", "=", self.candidate.id)]
        res = env["mail.message"]._message_fetch(domain, search_term="SECRETBODY")
        hit = res["count"] or res["messages"]
        return "SECRETBODY hit" if hit else ""

    def path_store_explicit(self, env):
        store = Store()
        env["mail.message"].browse(self.private.ids)._to_store(store)
        return store.get_result()

    def path_inbox(self, env):
        messages = env["mail.message"]._message_fetch([("needaction", "=", True)])
        return messages["messages"].mapped("subject")

    def path_attachment_search(self, env):
        return env["ir.attachment"].search_read(
            [
                "|",
                ("name", "ilike", "secretfile"),
                ("id", "in", self.private_attachments.ids),
            ],
            ["name", "raw"],
        )

    def path_attachment_read(self, env):
        return (
            env["ir.attachment"]
            .browse(self.private_attachments.ids)
            .read(["name", "raw"])
        )

    def path_attachment_stream(self, env):
        # What /web/content/<id> and /web/image/<id> (also CID image URLs) do.
        record = env["ir.binary"]._find_record(
            res_model="ir.attachment", res_id=self.private_attachments[0].id
        )
        return [record.name, record.raw]

    def path_partner_by_body(self, env):
        found = env["res.partner"].search(
            [
                "|",
                ("message_ids.body", "ilike", "SECRETBODY"),
                ("message_ids.subject", "ilike", "SECRETSUBJECT"),
            ]
        )
        return "SECRETBODY hit" if self.candidate in found else ""

    def path_counters(self, env):
        partner = env["res.partner"].browse(self.candidate.id)
        # the candidate has one public and one private archived mail
        return "SECRETSUBJECT counted" if partner.carerix_mail_count > 1 else ""

    def path_has_message(self, env):
        # a contact whose only mail is private (created without a log note)
        quiet = env["res.partner"].browse(self.quiet.id)
        found = env["res.partner"].search(
            [("id", "=", self.quiet.id), ("has_message", "=", True)]
        )
        return "SECRETSUBJECT exists" if quiet.has_message or found else ""

    def path_notifications(self, env):
        notifications = env["mail.notification"].search(
            [("mail_message_id", "in", self.private.ids)]
        )
        return "SECRETSUBJECT notified" if notifications else ""

    def path_outgoing_queue(self, env):
        mails = env["mail.mail"].search([("mail_message_id", "in", self.private.ids)])
        return mails.read(["subject", "body_html"])

    def path_my_mail(self, env):
        return env["carerix.mailbox.message"].search_read(
            [("id", "=", self.private_entry.id)], ["subject"]
        )

    def path_write(self, env):
        env["mail.message"].browse(self.private.ids[:1]).write({"body": "x"})
        return "SECRETSUBJECT writable"

    def path_toggle(self, env):
        env["mail.message"].browse(
            self.private.ids[:1]
        ).action_carerix_toggle_confidential()
        return "SECRETSUBJECT toggled"

    PATHS = (
        "search",
        "search_read",
        "read",
        "field_access",
        "read_group",
        "search_count",
        "export",
        "open_document",
        "chatter",
        "chatter_search",
        "store_explicit",
        "inbox",
        "attachment_search",
        "attachment_read",
        "attachment_stream",
        "partner_by_body",
        "counters",
        "has_message",
        "notifications",
        "outgoing_queue",
        "my_mail",
        "write",
        "toggle",
    )

    def run_path(self, name, user):
        env = self.env(user=user)
        try:
            with self.env.cr.savepoint():
                return _text(getattr(self, f"path_{name}")(env))
        except (AccessError, UserError):
            return DENIED


@tagged("post_install", "-at_install")
class TestPrivacyMatrix(PrivacyPaths, PrivacyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_entry = cls.archive(
            "Confidential: SECRETSUBJECT offer",
            "SECRETBODY salary",
            attachments=[("secretfile.pdf", b"SECRETBYTES", "application/pdf")],
        )
        cls.public_entry = cls.archive(
            "Public PUBLICSUBJECT",
            "PUBLICBODY",
            attachments=[("publicfile.pdf", b"PUBLICBYTES", "application/pdf")],
        )
        cls.quiet = (
            cls.env["res.partner"]
            .with_context(mail_create_nolog=True)
            .create({"name": "Quiet", "email": "quiet@mail.example"})
        )
        quiet_entry = cls.archive("Confidential: quiet", sender="quiet@mail.example")
        assert quiet_entry.confidential and cls.quiet in quiet_entry.partner_ids
        cls.private = cls.private_entry.copy_ids
        cls.public = cls.public_entry.copy_ids
        cls.private_attachments = cls.private.attachment_ids
        cls.public_attachments = cls.public.attachment_ids

    def test_private_mail_is_private(self):
        self.assertTrue(self.private_entry.confidential)
        self.assertTrue(all(self.private.mapped("carerix_confidential")))
        self.assertEqual(len(self.private), 2)  # owner's mailbox + candidate
        self.assertFalse(self.public_entry.confidential)
        self.assertEqual(
            set(self.private_attachments.mapped("res_model")), {"mail.message"}
        )

    def test_matrix_nothing_leaks_to_other_users(self):
        actors = {
            "other recruiter": self.recruiter,
            "follower": self.follower,
            "settings admin": self.admin,
            "access rights admin": self.rights_admin,
            "portal user": self.portal,
        }
        # an outgoing queue entry and its notification as a sudo path would make them
        self.env["mail.mail"].sudo().create(
            {"mail_message_id": self.private[1].id, "body_html": "SECRETBODY"}
        )
        for actor_name, user in actors.items():
            for path in self.PATHS:
                with self.subTest(actor=actor_name, path=path):
                    output = self.run_path(path, user)
                    for secret in SECRETS:
                        self.assertNotIn(secret, output)
        self.assertEqual(len(actors) * len(self.PATHS), 115)

    def test_matrix_owner_sees_everything(self):
        # not a privacy matter: export of messages is for administrators only
        # (Odoo), the owner may write and toggle, the queue is empty
        hidden_for_owner = {"export", "write", "toggle", "counters", "outgoing_queue"}
        for path in self.PATHS:
            if path in hidden_for_owner:
                continue
            with self.subTest(path=path):
                output = self.run_path(path, self.owner)
                self.assertTrue(
                    any(secret in output for secret in SECRETS),
                    f"the owner does not see the private mail through {path}",
                )
        partner = self.candidate.with_user(self.owner)
        self.assertEqual(partner.carerix_mail_count, 2)
        # has_message of a record being created (a form not saved yet)
        self.assertFalse(
            self.env["res.partner"].with_user(self.owner).new().has_message
        )

    def test_public_mail_stays_visible(self):
        for user in (self.recruiter, self.follower, self.admin):
            with self.subTest(user=user.login):
                env = self.env(user=user)
                messages = env["mail.message"]._message_fetch(
                    [("model", "=", "res.partner"), ("res_id", "=", self.candidate.id)]
                )["messages"]
                self.assertIn(self.public[1], messages)
                self.assertIn(
                    "PUBLICBODY", str(messages.browse(self.public[1].id).body)
                )
                found = env["res.partner"].search(
                    [("message_ids.body", "ilike", "PUBLICBODY")]
                )
                self.assertIn(self.candidate, found)
                attachment = env["ir.attachment"].browse(self.public_attachments.ids)
                self.assertEqual(attachment.raw, b"PUBLICBYTES")
                self.assertEqual(
                    env["ir.attachment"].search([("name", "=", "publicfile.pdf")]),
                    attachment,
                )

    def test_only_owner_notified_of_private_mail(self):
        notified = (
            self.env["mail.notification"]
            .sudo()
            .search([("mail_message_id", "in", self.private.ids)])
            .res_partner_id
        )
        self.assertEqual(notified, self.owner.partner_id)
        self.assertFalse(
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "in", self.private.ids)])
        )

    def test_superuser_code_is_exempt(self):
        Message = self.env["mail.message"].sudo()
        self.assertEqual(Message.search([("id", "in", self.private.ids)]), self.private)
        partner = self.candidate.sudo()
        self.assertIn(self.private[1], partner.message_ids)
