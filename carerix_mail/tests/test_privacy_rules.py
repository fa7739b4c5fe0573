"""Confidential mail: the rules that make a mail private, the owner's toggle,
notifications of private posts and replies through the gateway."""

from email.utils import make_msgid

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SyncCase, make_mail, unique
from .test_privacy import PrivacyCase


@tagged("post_install", "-at_install")
class TestPrivacyRules(PrivacyCase):
    def test_plain_mail_is_public(self):
        entry = self.archive("Your application", "Thanks")
        self.assertFalse(entry.confidential)
        self.assertFalse(any(entry.copy_ids.mapped("carerix_confidential")))

    def test_subject_words_behind_prefixes(self):
        for subject in (
            "CONFIDENTIAL offer",
            "Re: Fwd: about the confidential part",
            "AW: Vertrouwelijk: salaris",
            "Antw: vertrouwelijk",
        ):
            with self.subTest(subject=subject):
                entry = self.archive(subject)
                self.assertTrue(entry.confidential)
                self.assertTrue(all(entry.copy_ids.mapped("carerix_confidential")))
                self.assertEqual(entry.copy_ids.carerix_owner_id, self.owner)

    def test_reply_to_private_mail_of_another_mailbox(self):
        first_id = make_msgid(domain="test.example")
        first = self.archive("Confidential offer", message_id=first_id)
        self.assertTrue(first.confidential)
        colleague = new_test_user(
            self.env, login="priv_colleague", email="colleague@agency.example"
        )
        box = colleague._carerix_mailbox(create=True)
        reply = self.archive("Re: the offer", box=box, in_reply_to=first_id)
        self.assertTrue(reply.confidential)
        self.assertEqual(reply.copy_ids.carerix_owner_id, colleague)
        # the owner of the first mail does not see the colleague's copy
        self.assertFalse(
            self.env["mail.message"]
            .with_user(self.owner)
            .search([("id", "in", reply.copy_ids.ids)])
        )
        # a reply to a public mail is public
        public_id = make_msgid(domain="test.example")
        self.archive("Hello", message_id=public_id)
        self.assertFalse(
            self.archive("Re: Hello", box=box, in_reply_to=public_id).confidential
        )

    def test_sender_partner_default(self):
        self.env["res.partner"].create(
            {
                "name": "Secretive",
                "email": "secret@mail.example",
                "carerix_incoming_confidential": True,
            }
        )
        entry = self.archive("Hello", sender="secret@mail.example")
        self.assertTrue(entry.confidential)
        self.assertFalse(self.archive("Hello again").confidential)

    def test_owner_defaults_incoming_and_outgoing(self):
        self.box.incoming_confidential = True
        self.assertTrue(self.archive("Incoming").confidential)
        self.box.incoming_confidential = False
        raw = make_mail(self.owner.email, "cand@mail.example", "Sent")
        self.assertFalse(
            self.Entry._archive_raw(self.box, raw, "outgoing").confidential
        )
        self.box.outgoing_confidential = True
        raw = make_mail(self.owner.email, "cand@mail.example", "Sent again")
        self.assertTrue(self.Entry._archive_raw(self.box, raw, "outgoing").confidential)
        self.assertFalse(self.archive("Incoming again").confidential)

    def test_untick_makes_whole_conversation_public(self):
        first_id = make_msgid(domain="test.example")
        first = self.archive("Confidential offer", message_id=first_id)
        colleague = new_test_user(
            self.env, login="priv_colleague2", email="colleague2@agency.example"
        )
        reply = self.archive(
            "Re: offer",
            box=colleague._carerix_mailbox(create=True),
            in_reply_to=first_id,
        )
        unrelated = self.archive("Confidential other matter")
        message = self.copy_on(first, self.candidate).with_user(self.owner)
        self.assertFalse(message.action_carerix_toggle_confidential())
        conversation = first.copy_ids | reply.copy_ids
        self.assertFalse(any(conversation.mapped("carerix_confidential")))
        self.assertFalse(first.confidential or reply.confidential)
        self.assertTrue(unrelated.confidential)
        self.assertTrue(
            self.env["mail.message"]
            .with_user(self.recruiter)
            .search([("id", "in", conversation.ids)])
        )
        # ticking makes it private again, the colleague's reply included
        self.assertTrue(message.action_carerix_toggle_confidential())
        self.assertTrue(all(conversation.mapped("carerix_confidential")))

    def test_only_owner_may_toggle(self):
        entry = self.archive("Hello")
        message = self.copy_on(entry, self.candidate)
        for user in (self.recruiter, self.admin, self.rights_admin):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                message.with_user(user).action_carerix_toggle_confidential()
        self.assertFalse(message.carerix_confidential)
        message.with_user(self.owner).action_carerix_toggle_confidential()
        self.assertTrue(entry.confidential)
        self.assertFalse(
            self.env["mail.message"]
            .with_user(self.admin)
            .search([("id", "=", message.id)])
        )

    def test_ticking_protects_posted_attachments(self):
        attachment = self.env["ir.attachment"].create(
            {
                "name": "posted.pdf",
                "raw": b"POSTED",
                "res_model": "res.partner",
                "res_id": self.candidate.id,
            }
        )
        message = self.candidate.with_user(self.owner).message_post(
            body="posted", attachment_ids=attachment.ids, message_type="comment"
        )
        message.sudo().carerix_owner_id = self.owner
        self.assertEqual(
            self.env["ir.attachment"]
            .with_user(self.recruiter)
            .browse(attachment.id)
            .raw,
            b"POSTED",
        )
        message.with_user(self.owner).action_carerix_toggle_confidential()
        self.assertEqual(attachment.res_model, "mail.message")
        attachment_as_other = self.env["ir.attachment"].with_user(self.recruiter)
        with self.assertRaises(AccessError):
            attachment_as_other.browse(attachment.id).read(["raw"])

    def test_private_post_notifies_nobody_else(self):
        self.box.outgoing_confidential = True
        self.candidate.message_subscribe(partner_ids=self.recruiter.partner_id.ids)
        # Queued, not sent at once, so the outgoing queue can be inspected.
        message = (
            self.candidate.with_user(self.owner)
            .with_context(mail_notify_force_send=False)
            .message_post(
                body="PRIVATEPOST",
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                partner_ids=(self.candidate | self.recruiter.partner_id).ids,
            )
        )
        self.assertTrue(message.carerix_confidential)
        self.assertEqual(message.carerix_owner_id, self.owner)
        notified = message.sudo().notification_ids.res_partner_id
        # the candidate is emailed; no user (a follower, or addressed) is notified
        self.assertEqual(notified, self.candidate)
        mails = (
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        )
        self.assertEqual(mails.recipient_ids, self.candidate)
        self.assertFalse(
            self.env["mail.mail"]
            .with_user(self.admin)
            .search([("id", "in", mails.ids)])
        )
        # a user without the default posts in public, followers are notified
        public = self.candidate.with_user(self.recruiter).message_post(
            body="PUBLICPOST", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertFalse(public.carerix_confidential)
        self.assertIn(
            self.follower.partner_id, public.sudo().notification_ids.res_partner_id
        )

    def test_gateway_reply_to_private_mail_stays_private(self):
        first_id = make_msgid(domain="test.example")
        first = self.archive("Confidential offer", message_id=first_id)
        self.assertTrue(first.confidential)
        raw = make_mail(
            "cand@mail.example",
            "catchall@agency.example",
            "Re: offer",
            "GATEWAYREPLY",
            in_reply_to=first_id,
        )
        self.env["mail.thread"].sudo().message_process(
            "res.partner", raw.decode(), thread_id=self.candidate.id
        )
        reply = (
            self.env["mail.message"].sudo().search([("body", "ilike", "GATEWAYREPLY")])
        )
        self.assertEqual(len(reply), 1)
        self.assertTrue(reply.carerix_confidential)
        self.assertEqual(reply.carerix_owner_id, self.owner)
        self.assertFalse(
            self.env["mail.message"]
            .with_user(self.follower)
            .search([("body", "ilike", "GATEWAYREPLY")])
        )
        self.assertFalse(
            reply.sudo().notification_ids.res_partner_id - self.owner.partner_id
        )


@tagged("post_install", "-at_install")
class TestPrivacySync(SyncCase):
    def test_reply_through_another_mailbox_stays_private(self):
        first_user, first_login, first_email = self.make_recruiter()
        second_user, second_login, second_email = self.make_recruiter()
        third_user, _login, _email = self.make_recruiter()
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        first_id = make_msgid(domain="test.example")
        self.deliver(
            first_login,
            cand_email,
            first_email,
            "Vertrouwelijk: SYNCSECRET",
            message_id=first_id,
        )
        self.sync(first_user)
        self.deliver(
            second_login,
            cand_email,
            second_email,
            "Re: your mail",
            "SYNCREPLY",
            in_reply_to=first_id,
        )
        self.sync(second_user)
        with self.real_env() as env:
            copies = env["mail.message"].search(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "=", candidate),
                    ("carerix_mailbox_message_id", "!=", False),
                ]
            )
            self.assertEqual(len(copies), 2)
            self.assertTrue(all(copies.mapped("carerix_confidential")))
            self.assertEqual(
                set(copies.mapped("carerix_owner_id").ids), {first_user, second_user}
            )
            for user, visible in (
                (first_user, 1),
                (second_user, 1),
                (third_user, 0),
            ):
                found = (
                    env["mail.message"]
                    .with_user(user)
                    .search([("id", "in", copies.ids)])
                )
                self.assertEqual(len(found), visible)
                self.assertEqual(
                    bool(
                        env["res.partner"]
                        .with_user(user)
                        .search([("message_ids.body", "ilike", "SYNCREPLY")])
                    ),
                    user == second_user,
                )


@tagged("post_install", "-at_install")
class TestPrivateParent(PrivacyCase):
    def test_public_post_is_not_hung_under_a_private_first_message(self):
        # Flat threads (Odoo's default; not res.partner): every new message
        # is hung under the first message of the record.
        Partner = type(self.env["res.partner"])
        self.patch(Partner, "_mail_flat_thread", True)
        candidate = (
            self.env["res.partner"]
            .with_context(mail_create_nolog=True)
            .create({"name": "Quiet candidate", "email": "quiet@mail.example"})
        )
        entry = self.archive(
            "Confidential: first contact", sender="Quiet <quiet@mail.example>"
        )
        private_copy = self.copy_on(entry, candidate)
        self.assertTrue(private_copy.carerix_confidential)
        public = candidate.with_user(self.recruiter).message_post(
            body="Called her today", message_type="comment"
        )
        self.assertFalse(public.sudo().parent_id)
        later = candidate.with_user(self.recruiter).message_post(
            body="And again", message_type="comment"
        )
        self.assertEqual(later.sudo().parent_id, public)
        # The owner's own public posts neither: their mail would refer to the
        # private mail, and answers to it would join that conversation.
        own = candidate.with_user(self.owner).message_post(
            body="Noted", message_type="comment"
        )
        self.assertFalse(own.carerix_confidential)
        self.assertEqual(own.sudo().parent_id, public)
        # Posted in sudo by the web client (its /mail/message/post) too.
        quick = (
            candidate.with_user(self.recruiter)
            .sudo()
            .message_post(body="Quick", message_type="comment")
        )
        self.assertEqual(quick.sudo().parent_id, public)

    def test_nobody_creates_a_message_owned_by_someone_else(self):
        values = {
            "model": "res.partner",
            "res_id": self.candidate.id,
            "body": "HIDDEN",
            "message_type": "comment",
            "carerix_owner_id": self.owner.id,
            "carerix_confidential": True,
        }
        with self.assertRaises(AccessError):
            self.env["mail.message"].with_user(self.recruiter).create(values)
        own = (
            self.env["mail.message"]
            .with_user(self.owner)
            .create(dict(values, body="MINE"))
        )
        self.assertEqual(own.carerix_owner_id, self.owner)


@tagged("post_install", "-at_install")
class TestPrivacyGuardsCache(PrivacyCase):
    def test_first_private_message_switches_the_guards_on(self):
        # A database without private mail: the guards cost nothing...
        self.env.cr.execute("UPDATE mail_message SET carerix_confidential = false")
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        Message = self.env["mail.message"]
        self.assertFalse(Message._carerix_any_private())
        # ...until the first private mail: the cached "none" is forgotten.
        entry = self.archive("Confidential: GUARDSECRET", "GUARDBODY")
        self.assertTrue(entry.confidential)
        self.assertTrue(Message._carerix_any_private())
        # the other workers are told once it is committed
        self.assertIn(self.env.registry.signal_changes, self.env.cr.postcommit._funcs)
        private = entry.copy_ids[:1]
        self.env.invalidate_all()
        other = Message.with_user(self.recruiter).browse(private.id)
        with self.assertRaises(AccessError):  # fetch() of a private message
            other.body  # noqa: B018  # pylint: disable=pointless-statement
        # A message made private later (the lock) too.
        self.env.cr.execute("UPDATE mail_message SET carerix_confidential = false")
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        self.assertFalse(Message._carerix_any_private())
        private.with_user(self.owner).action_carerix_toggle_confidential()
        self.assertTrue(Message._carerix_any_private())
