"""Confidential mail a user sends from Odoo: the privacy matrix, outgoing.

The owner has a private conversation with a candidate (an incoming mail whose
subject says "Vertrouwelijk"). He then sends mail from Odoo in every way a
recruiter does; each mail carries its own secret markers. Every read path of
the privacy matrix is run, for each case, as a follower of the candidate, an
unrelated recruiter, a Settings administrator, an access-rights administrator
and a portal user: none may see a marker, a hit or a count. The owner sees his
mail through the same paths.
"""

import datetime

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import comment_composer, make_mail
from .test_outgoing import NoSmtpMixin
from .test_privacy import DENIED, PrivacyCase, PrivacyPaths

CASES = (
    "composer_reply",
    "quick_reply",
    "inbox_reply",
    "template_composer",
    "mass_mail",
    "subject_rule",
    "user_default",
    "queued",
    "scheduled",
    "sent_folder_synced",
    "unlock_relock",
)


@tagged("post_install", "-at_install")
class TestOutgoingPrivacyMatrix(NoSmtpMixin, PrivacyPaths, PrivacyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # He uses his carerix mailbox: a server and his From address.
        cls.box.write({"host": "imap.agency.example", "from_address": cls.owner.email})
        cls.incoming = cls.archive(
            "Vertrouwelijk: SECRETSUBJECT salary",
            "SECRETBODY my salary is low",
            message_id="<in@cand.example>",
        )
        cls.incoming_copy = cls.copy_on(cls.incoming, cls.candidate)
        cls.mailbox_copy = cls.copy_on(cls.incoming, cls.incoming)
        cls.public_entry = cls.archive("Public PUBLICSUBJECT", "PUBLICBODY")
        cls.quiet = (
            cls.env["res.partner"]
            .with_context(mail_create_nolog=True)
            .create({"name": "Quiet", "email": "quiet@mail.example"})
        )
        cls.archive("Confidential: quiet", sender="quiet@mail.example")
        cls.template = cls.env.ref("carerix_mail.mail_template_interview_invitation")

    # -- how the owner sends ----------------------------------------------
    def composer(self, case, attach=True, context=None, **values):
        values = {
            "body": f"<p>SECRETBODY {case}</p>",
            "partner_ids": self.candidate.ids,
            "attachment_ids": self.upload(case).ids if attach else [],
            **values,
        }
        return comment_composer(
            self.owner,
            self.candidate,
            values,
            default_subtype_id=self.env.ref("mail.mt_comment").id,
            **(context or {}),
        )

    def upload(self, case, user=None):
        """A file the user attaches in the composer (as the web client
        uploads it)."""
        return (
            self.env["ir.attachment"]
            .with_user(user or self.owner)
            .create(
                {
                    "name": f"secretfile-{case}.pdf",
                    "raw": b"SECRETBYTES",
                    "res_model": "mail.compose.message",
                    "res_id": 0,
                }
            )
        )

    def web_post(self, record, case, user=None, **post_data):
        """What the web client's /mail/message/post does: the allowed
        parameters, the parent checked as its controller does, posted in
        sudo as the user (the owner by default)."""
        record = record.with_user(user or self.owner)
        post_data = dict(
            post_data,
            body=f"<p>SECRETBODY {case}</p>",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=self.candidate.ids,
            attachment_ids=self.upload(case, user).ids,
        )
        allowed = record._get_allowed_message_post_params()
        post_data = {k: v for k, v in post_data.items() if k in allowed}
        if post_data.get("parent_id") and not record._carerix_answered_message(
            post_data["parent_id"]
        ):
            post_data.pop("parent_id")
        return record.sudo().message_post(**post_data)

    def send(self, composer, queued=False):
        composer = composer.with_context(mail_notify_force_send=not queued)
        composer.flush_recordset()
        self.assertTrue(
            composer.carerix_confidential,
            f"the box is offered ticked ({composer.carerix_confidential_reason})",
        )
        _mails, messages = composer._action_send_mail()
        return messages

    def sent_copies(self, messages):
        """The messages and everything archived from them for the owner."""
        messages = messages.sudo()
        return messages | messages.carerix_mailbox_message_id.copy_ids

    # -- the cases: each returns (messages, reason) -------------------------
    def case_composer_reply(self, case):
        composer = self.composer(case, parent_id=self.incoming_copy.id)
        self.assertEqual(composer.carerix_confidential_reason, "reply")
        self.assertIn("Vertrouwelijk", composer.subject)
        return self.send(composer)

    def case_quick_reply(self, case):
        # the chatter of the synced mail in *My mail*: a reply to that mail
        return self.web_post(self.incoming, case)

    def case_inbox_reply(self, case):
        # the Inbox's Reply: the owner's notification is on his mailbox copy
        return self.web_post(self.incoming, case, parent_id=self.mailbox_copy.id)

    def case_template_composer(self, case):
        composer = self.composer(
            case, parent_id=self.incoming_copy.id, template_id=self.template.id
        )
        composer.body = f"<p>SECRETBODY {case}</p>"
        self.assertEqual(composer.carerix_confidential_reason, "reply")
        return self.send(composer)

    def case_mass_mail(self, case):
        composer = self.composer(
            case,
            subject="Confidential: SECRETSUBJECT list",
            context={"default_composition_mode": "mass_mail"},
        )
        self.assertEqual(composer.carerix_confidential_reason, "subject")
        composer.flush_recordset()
        mails, _messages = composer._action_send_mail()
        return mails.mail_message_id

    def case_subject_rule(self, case):
        composer = self.composer(case, subject="Confidential: SECRETSUBJECT offer")
        self.assertEqual(composer.carerix_confidential_reason, "subject")
        return self.send(composer)

    def case_user_default(self, case):
        self.box.outgoing_confidential = True
        try:
            composer = self.composer(case, subject="An offer")
            self.assertEqual(composer.carerix_confidential_reason, "default")
            return self.send(composer)
        finally:
            self.box.outgoing_confidential = False

    def case_queued(self, case):
        composer = self.composer(case, parent_id=self.incoming_copy.id)
        messages = self.send(composer, queued=True)
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "in", messages.ids)])
        )
        self.assertTrue(mails, "queued, not sent yet")
        self.assertTrue(all(m.state == "outgoing" for m in mails))
        return messages

    def case_scheduled(self, case):
        composer = self.composer(case, parent_id=self.incoming_copy.id)
        composer.flush_recordset()
        self.assertTrue(composer.carerix_confidential)
        composer.action_schedule_message(
            fields.Datetime.now() + datetime.timedelta(hours=1)
        )
        scheduled = self.env["mail.scheduled.message"].search(
            [("body", "ilike", f"SECRETBODY {case}")]
        )
        self.assertEqual(len(scheduled), 1)
        self.assertTrue(scheduled.carerix_confidential)
        for user in (self.recruiter, self.follower, self.admin):
            Scheduled = self.env["mail.scheduled.message"].with_user(user)
            self.assertFalse(Scheduled.search([("id", "=", scheduled.id)]))
        before = self.candidate.message_ids
        scheduled._post_message()
        return self.candidate.message_ids - before

    def case_sent_folder_synced(self, case):
        composer = self.composer(case, parent_id=self.incoming_copy.id)
        messages = self.send(composer)
        entry = messages.sudo().carerix_mailbox_message_id
        self.assertTrue(entry, "archived as sent mail of the owner")
        # The same mail found again in the Sent folder is not archived twice;
        # one sent from another mail client in the same conversation is
        # private by the rules of the Sent folder.
        raw = make_mail(
            self.owner.email,
            "cand@mail.example",
            "Re: Vertrouwelijk: salary",
            f"SECRETBODY {case} from the phone",
            in_reply_to="<in@cand.example>",
        )
        phone = self.Entry._archive_raw(self.box, raw, "outgoing", folder="Sent")
        self.assertTrue(phone.confidential)
        return messages | phone.copy_ids

    def case_unlock_relock(self, case):
        composer = self.composer(case, parent_id=self.incoming_copy.id)
        messages = self.send(composer)
        reply = messages.sudo()
        Message = self.env["mail.message"].with_user(self.owner)
        # unticking the conversation makes it public, replies from Odoo too
        Message.browse(self.incoming_copy.id).action_carerix_toggle_confidential()
        self.assertFalse(reply.carerix_confidential)
        self.assertFalse(self.incoming_copy.carerix_confidential)
        self.assertTrue(
            self.env["mail.message"]
            .with_user(self.recruiter)
            .search([("id", "=", reply.id)])
        )
        # a new reply is then public (unless another rule applies)
        public_reply = self.composer(
            f"{case}-public",
            attach=False,
            parent_id=self.incoming_copy.id,
            subject="Re: salary",
        )
        self.assertFalse(public_reply.carerix_confidential)
        # ticking it again makes the whole conversation private again
        Message.browse(self.incoming_copy.id).action_carerix_toggle_confidential()
        self.assertTrue(reply.carerix_confidential)
        self.assertTrue(reply.carerix_mailbox_message_id.confidential)
        return messages

    # -- the matrix --------------------------------------------------------
    def path_counters(self, env):
        partner = env["res.partner"].browse(self.candidate.id)
        public = (
            self.env["mail.message"]
            .sudo()
            .search_count(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "=", self.candidate.id),
                    ("carerix_mailbox_message_id", "!=", False),
                    ("carerix_confidential", "=", False),
                ]
            )
        )
        return "SECRETSUBJECT counted" if partner.carerix_mail_count > public else ""

    def path_scheduled(self, env):
        return env["mail.scheduled.message"].search_read(
            [("model", "=", "res.partner")], ["subject", "body"]
        )

    PATHS = (*PrivacyPaths.PATHS, "scheduled")

    def use_case(self, messages):
        """Point the paths at the private mail of one case."""
        private = self.sent_copies(messages)
        self.private = private
        self.private_attachments = private.attachment_ids
        self.private_entry = private.carerix_mailbox_message_id[:1] or self.incoming

    def assert_case_private(self, case, messages):
        copies = self.sent_copies(messages)
        self.assertTrue(messages, case)
        self.assertTrue(all(copies.mapped("carerix_confidential")), case)
        self.assertEqual(copies.carerix_owner_id, self.owner, case)
        self.assertTrue(copies.attachment_ids, case)
        self.assertEqual(
            set(copies.attachment_ids.mapped("res_model")), {"mail.message"}, case
        )
        notified = copies.notification_ids.res_partner_id
        # Only the candidate it is addressed to; no user, no follower.
        self.assertFalse(notified - self.candidate - self.owner.partner_id, case)
        entries = copies.carerix_mailbox_message_id
        self.assertTrue(all(entries.mapped("confidential")), case)

    def test_outgoing_matrix(self):
        actors = {
            "follower": self.follower,
            "other recruiter": self.recruiter,
            "settings admin": self.admin,
            "access rights admin": self.rights_admin,
            "portal user": self.portal,
        }
        # what the owner gets of his own mail in every case
        owner_paths = ("read", "field_access", "store_explicit")
        owner_paths += ("attachment_read", "attachment_stream")
        checked = 0
        for case in CASES:
            with self.subTest(case=case):
                messages = getattr(self, f"case_{case}")(case)
                self.assert_case_private(case, messages)
                self.use_case(messages)
                for actor, user in actors.items():
                    for path in self.PATHS:
                        with self.subTest(case=case, actor=actor, path=path):
                            output = self.run_path(path, user)
                            self.assertNotIn("secret", output.lower())
                            checked += 1
                for path in owner_paths:
                    with self.subTest(case=case, actor="owner", path=path):
                        output = self.run_path(path, self.owner)
                        self.assertNotEqual(output, DENIED)
                        self.assertIn(case, output, f"owner, {path}")
                        checked += 1
                bodies = (
                    self.env["mail.message"]
                    .with_user(self.owner)
                    .browse(messages.ids)
                    .read(["body"])
                )
                self.assertIn(f"SECRETBODY {case}", str(bodies))
        self.assertEqual(len(CASES), 11)
        self.assertGreaterEqual(checked, len(CASES) * len(actors) * len(self.PATHS))

    def test_queued_mail_hidden_in_the_outgoing_queue(self):
        messages = self.case_queued("queue")
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "in", messages.ids)])
        )
        self.assertTrue(mails)
        # the outgoing queue is for Settings administrators only (Odoo)
        Mail = self.env["mail.mail"].with_user(self.admin)
        self.assertFalse(Mail.search([("id", "in", mails.ids)]))
        self.assertFalse(Mail.search([("body_html", "ilike", "SECRETBODY")]))
        for user in (self.admin, self.rights_admin, self.recruiter):
            with self.subTest(user=user.login):
                self.assertFalse(
                    self.env["mail.notification"]
                    .with_user(user)
                    .search([("mail_message_id", "in", messages.ids)])
                )
        # Sent later by the queue, without the composer: the archived Sent
        # copy carries the same decision.
        mails.send()
        entry = messages.sudo().carerix_mailbox_message_id
        self.assertTrue(entry.confidential)
        self.assertTrue(all(entry.copy_ids.mapped("carerix_confidential")))

    def test_unticked_box_is_the_users_choice(self):
        composer = self.composer("untick", parent_id=self.incoming_copy.id)
        self.assertTrue(composer.carerix_confidential)
        composer.carerix_confidential = False
        _mails, message = composer._action_send_mail()
        self.assertFalse(message.carerix_confidential)
        self.assertEqual(message.carerix_owner_id, self.owner)
        entry = message.sudo().carerix_mailbox_message_id
        self.assertTrue(entry, "archived as sent mail")
        self.assertFalse(entry.confidential, "the Sent copy keeps his choice")
        self.assertTrue(
            self.env["mail.message"]
            .with_user(self.recruiter)
            .search([("id", "=", message.id)])
        )

    def test_flat_parent_is_not_the_answered_message(self):
        # A new mail on the candidate (no reply) is public although the
        # record's first mail is private, and is not hung under it.
        public_post = self.web_post(self.candidate, "plain")
        self.assertFalse(public_post.carerix_confidential)
        self.assertNotEqual(public_post.sudo().parent_id, self.incoming_copy)
        self.assertTrue(
            self.env["mail.message"]
            .with_user(self.recruiter)
            .search([("id", "=", public_post.id)])
        )

    def test_nobody_replies_into_another_users_conversation(self):
        record = self.candidate.with_user(self.recruiter)
        self.assertFalse(record._carerix_answered_message(self.incoming_copy.id))
        self.assertEqual(
            self.candidate.with_user(self.owner)._carerix_answered_message(
                self.incoming_copy.id
            ),
            self.incoming_copy,
        )
        # The parent a web client sends is dropped: the answer is public, is
        # not hung under the private mail and does not refer to it.
        message = self.web_post(
            self.candidate,
            "intruder",
            user=self.recruiter,
            parent_id=self.incoming_copy.id,
        )
        self.assertFalse(message.carerix_confidential)
        self.assertNotEqual(message.sudo().parent_id, self.incoming_copy)
        self.assertFalse(message.sudo().carerix_references)
        # Nor can a composer answer it (it would show its subject).
        with self.assertRaises(AccessError):
            comment_composer(
                self.recruiter,
                self.candidate,
                {"body": "<p>x</p>", "parent_id": self.incoming_copy.id},
            )

    def test_a_note_is_not_mail_he_sends(self):
        # Odoo's default subtype of message_post is a note: not his mail.
        self.box.outgoing_confidential = True
        note = self.candidate.with_user(self.owner).message_post(
            body="<p>Called him</p>", message_type="comment"
        )
        self.assertFalse(note.carerix_confidential)
        self.assertFalse(note.sudo().carerix_owner_id)
        mail = self.candidate.with_user(self.owner).message_post(
            body="<p>Mail</p>",
            message_type="comment",
            subtype_id=self.env.ref("mail.mt_comment").id,
        )
        self.assertTrue(mail.carerix_confidential)
