"""The composer's *Confidential* box: its default is the sender's *Outgoing
email confidential by default*, and the posted mail (and its archived Sent
entry) is private or public as the box says, also when sent from the queue."""

import datetime

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import comment_composer
from .test_outgoing import GROUPS, NoSmtpMixin


@tagged("post_install", "-at_install")
class TestComposerConfidential(NoSmtpMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.candidate = cls.env["res.partner"].create(
            {"name": "Composer candidate", "email": "composer.cand@mail.example"}
        )
        cls.other = new_test_user(
            cls.env, login="comp_other", name="Other recruiter", groups=GROUPS
        )
        cls.other._carerix_mailbox(create=True).host = "imap.agency.example"

    def recruiter(self, login, outgoing_confidential=False):
        """A user of his carerix mailbox (a mail server and From address set)."""
        user = new_test_user(self.env, login=login, name=login.title(), groups=GROUPS)
        user._carerix_mailbox(create=True).write(
            {
                "host": "imap.agency.example",
                "from_address": f"{login}@agency.example",
                "outgoing_confidential": outgoing_confidential,
            }
        )
        return user

    def composer(self, user, **values):
        return comment_composer(
            user,
            self.candidate,
            {
                "subject": "Your application",
                "body": "<p>COMPOSERBODY</p>",
                "partner_ids": self.candidate.ids,
                **values,
            },
            default_subtype_id=self.env.ref("mail.mt_comment").id,
        )

    def visible_to_other(self, message):
        Message = self.env["mail.message"].with_user(self.other)
        return bool(Message.search([("id", "=", message.id)]))

    def test_default_follows_the_users_setting(self):
        private_by_default = self.recruiter("comp_default", outgoing_confidential=True)
        composer = self.composer(private_by_default)
        form = composer.get_view(
            self.env.ref("mail.email_compose_message_wizard_form").id
        )
        self.assertIn('name="carerix_confidential"', form["arch"])
        self.assertTrue(composer.carerix_show_confidential)
        self.assertTrue(composer.carerix_confidential)
        public_by_default = self.recruiter("comp_public")
        composer = self.composer(public_by_default)
        self.assertTrue(composer.carerix_show_confidential)
        self.assertFalse(composer.carerix_confidential)
        # A user who does not use his carerix mailbox does not see the box.
        plain = new_test_user(self.env, login="comp_plain", groups=GROUPS)
        plain._carerix_mailbox(create=True).outgoing_confidential = True
        composer = self.composer(plain)
        self.assertFalse(composer.carerix_show_confidential)
        self.assertFalse(composer.carerix_confidential)
        # Nor for an internal note.
        note = self.composer(
            private_by_default, subtype_id=self.env.ref("mail.mt_note").id
        )
        self.assertFalse(note.carerix_show_confidential)

    def test_unticking_sends_a_public_message(self):
        user = self.recruiter("comp_untick", outgoing_confidential=True)
        composer = self.composer(user)
        composer.carerix_confidential = False
        _mails, message = composer._action_send_mail()
        self.assertEqual(len(message), 1)
        self.assertFalse(message.carerix_confidential)
        self.assertEqual(message.carerix_owner_id, user)
        self.assertTrue(self.visible_to_other(message))
        self.assertIn(
            "COMPOSERBODY",
            self.env["mail.message"].with_user(self.other).browse(message.id).body,
        )
        # Sent at once: the archived Sent entry is public too.
        entry = message.carerix_mailbox_message_id
        self.assertTrue(entry, "the sent mail is archived for its sender")
        self.assertEqual(entry.owner_id, user)
        self.assertEqual(entry.direction, "outgoing")
        self.assertFalse(entry.confidential)
        self.assertFalse(any(entry.copy_ids.mapped("carerix_confidential")))

    def test_unticked_message_stays_public_from_the_queue(self):
        user = self.recruiter("comp_untick_q", outgoing_confidential=True)
        composer = self.composer(user, carerix_confidential=False)
        _mails, message = composer.with_context(
            mail_notify_force_send=False
        )._action_send_mail()
        self.assertFalse(message.carerix_confidential)
        # Sent by the queue: no composer, no context, the default is private.
        self.env["mail.mail"].sudo().search(
            [("mail_message_id", "=", message.id)]
        ).send()
        entry = message.carerix_mailbox_message_id
        self.assertTrue(entry, "the sent mail is archived for its sender")
        self.assertFalse(entry.confidential)
        self.assertFalse(message.carerix_confidential)
        self.assertTrue(self.visible_to_other(message))

    def test_ticking_sends_a_private_message_from_the_queue(self):
        user = self.recruiter("comp_tick")
        composer = self.composer(user)
        self.assertFalse(composer.carerix_confidential)
        composer.carerix_confidential = True
        _mails, message = composer.with_context(
            mail_notify_force_send=False
        )._action_send_mail()
        self.assertTrue(message.carerix_confidential)
        self.assertEqual(message.carerix_owner_id, user)
        self.assertFalse(message.carerix_mailbox_message_id, "still queued")
        # The queue is processed later, by the cron, without the composer.
        mails = (
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        )
        self.assertTrue(mails)
        mails.send()
        entry = message.carerix_mailbox_message_id
        self.assertTrue(entry, "the sent mail is archived for its sender")
        self.assertTrue(entry.confidential)
        self.assertTrue(message.carerix_confidential)
        self.assertTrue(all(entry.copy_ids.mapped("carerix_confidential")))
        # Another recruiter can neither find nor read it.
        self.assertFalse(self.visible_to_other(message))
        self.assertFalse(
            self.env["mail.message"]
            .with_user(self.other)
            .search([("body", "ilike", "COMPOSERBODY")])
        )
        self.assertFalse(
            self.env["carerix.mailbox.message"]
            .with_user(self.other)
            .search([("id", "=", entry.id)])
        )
        self.assertTrue(
            self.env["mail.message"]
            .with_user(user)
            .search([("body", "ilike", "COMPOSERBODY")])
        )

    def test_scheduled_message_keeps_the_box(self):
        user = self.recruiter("comp_sched")
        composer = self.composer(user, carerix_confidential=True)
        composer.action_schedule_message(
            fields.Datetime.now() + datetime.timedelta(hours=1)
        )
        scheduled = self.env["mail.scheduled.message"].search(
            [("model", "=", "res.partner"), ("res_id", "=", self.candidate.id)]
        )
        self.assertEqual(len(scheduled), 1)
        scheduled._post_message()
        message = self.candidate.message_ids.filtered(
            lambda m: "COMPOSERBODY" in (m.body or "")
        )
        self.assertEqual(len(message), 1)
        self.assertTrue(message.carerix_confidential)
        self.assertEqual(message.carerix_owner_id, user)
        self.assertFalse(self.visible_to_other(message))
