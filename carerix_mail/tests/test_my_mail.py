"""My mail: the owner's actions on his synced mail (*Archive on a partner*,
*Create contact / candidate from sender*), the partner's **Emails** smart
button, inline images and the search filters. Entries are created as a sync
does, with ``_archive_raw`` (no Dovecot needed)."""

from email.message import EmailMessage
from email.utils import make_msgid

from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from .common import make_mail

GROUPS = "base.group_user,base.group_partner_manager"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@tagged("post_install", "-at_install")
class TestMyMail(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.owner = new_test_user(
            env, login="mymail_owner", email="owner@agency.example", groups=GROUPS
        )
        cls.other = new_test_user(
            env, login="mymail_other", email="other@agency.example", groups=GROUPS
        )
        cls.third = new_test_user(env, login="mymail_third", groups=GROUPS)
        cls.box = cls.owner._carerix_mailbox(create=True)
        cls.other_box = cls.other._carerix_mailbox(create=True)
        cls.candidate = env["res.partner"].create(
            {"name": "Known candidate", "email": "known@mail.example"}
        )
        cls.Entry = env["carerix.mailbox.message"]

    @classmethod
    def archive(cls, sender, subject, box=None, direction="incoming", **kwargs):
        box = box or cls.box
        if direction == "incoming":
            raw = make_mail(sender, box.user_id.email, subject, **kwargs)
        else:
            raw = make_mail(box.user_id.email, sender, subject, **kwargs)
        return cls.Entry._archive_raw(box, raw, direction)

    def partner_mail(self, partner, user):
        """Subjects of the archived mail in ``partner``'s chatter, as ``user``
        (the cache of ``message_ids`` is shared by all users of a cursor)."""
        self.env.invalidate_all()
        return sorted(
            partner.with_user(user)
            .message_ids.filtered("carerix_mailbox_message_id")
            .mapped("subject")
        )

    # ------------------------------------------------------------------
    # Archive on a partner
    # ------------------------------------------------------------------
    def test_archive_on_a_partner(self):
        entry = self.archive("Stranger <stranger@else.example>", "Open application")
        self.assertEqual(entry.state, "unmatched")
        self.assertFalse(entry.partner_ids)
        action = entry.with_user(self.owner).action_open_archive_wizard()
        self.assertEqual(action["res_model"], "carerix.mailbox.archive.wizard")
        self.assertEqual(action["target"], "new")
        wizard = (
            self.env["carerix.mailbox.archive.wizard"]
            .with_user(self.owner)
            .browse(action["res_id"])
        )
        self.assertEqual(wizard.message_ids, entry)
        wizard.partner_ids = self.candidate
        wizard.action_apply()
        self.assertEqual(entry.state, "matched")
        self.assertEqual(entry.partner_ids, self.candidate)
        self.assertEqual(
            self.partner_mail(self.candidate, self.owner), ["Open application"]
        )
        copy = entry.copy_ids.filtered(lambda m: m.model == "res.partner")
        self.assertEqual(copy.res_id, self.candidate.id)
        self.assertEqual(copy.carerix_owner_id, self.owner)
        # Applying again does not archive it twice.
        wizard.action_apply()
        self.assertEqual(
            len(entry.copy_ids.filtered(lambda m: m.model == "res.partner")), 1
        )

    def test_archive_private_mail_on_a_partner_stays_private(self):
        entry = self.archive("Stranger <stranger@else.example>", "Confidential offer")
        self.assertTrue(entry.confidential)
        wizard = (
            self.env["carerix.mailbox.archive.wizard"]
            .with_user(self.owner)
            .browse(entry.with_user(self.owner).action_open_archive_wizard()["res_id"])
        )
        wizard.partner_ids = self.candidate
        wizard.action_apply()
        self.assertEqual(
            self.partner_mail(self.candidate, self.owner), ["Confidential offer"]
        )
        self.assertEqual(self.partner_mail(self.candidate, self.other), [])
        self.assertTrue(
            all(entry.copy_ids.mapped("carerix_confidential")),
        )

    def test_other_user_cannot_archive_someone_elses_mail(self):
        entry = self.archive("Stranger <stranger@else.example>", "Not yours")
        self.assertFalse(
            self.Entry.with_user(self.other).search([("id", "=", entry.id)])
        )
        with self.assertRaises(AccessError):
            wizard = (
                self.env["carerix.mailbox.archive.wizard"]
                .with_user(self.other)
                .create(
                    {
                        "message_ids": [Command.set(entry.ids)],
                        "partner_ids": [Command.set(self.candidate.ids)],
                    }
                )
            )
            wizard.action_apply()
        with self.assertRaises(AccessError):
            entry.with_user(self.other).action_create_partner_from_sender()
        self.assertEqual(entry.state, "unmatched")
        self.assertEqual(entry.copy_ids.mapped("model"), [entry._name])

    # ------------------------------------------------------------------
    # Create contact / candidate from sender
    # ------------------------------------------------------------------
    def test_create_partner_from_sender(self):
        entry = self.archive("New Person <new.person@else.example>", "My CV")
        self.assertEqual(entry.state, "unmatched")
        action = entry.with_user(self.owner).action_create_partner_from_sender()
        self.assertEqual(action["res_model"], "res.partner")
        partner = self.env["res.partner"].browse(action["res_id"])
        self.assertEqual(partner.name, "New Person")
        self.assertEqual(partner.email, "new.person@else.example")
        self.assertEqual(entry.state, "matched")
        self.assertEqual(entry.partner_ids, partner)
        self.assertEqual(self.partner_mail(partner, self.owner), ["My CV"])
        self.assertEqual(partner.with_user(self.owner).carerix_mail_count, 1)

    def test_create_partner_from_sender_without_name(self):
        entry = self.archive("bare@else.example", "Hello")
        action = entry.with_user(self.owner).action_create_partner_from_sender()
        partner = self.env["res.partner"].browse(action["res_id"])
        self.assertEqual(partner.name, "bare@else.example")
        self.assertEqual(partner.email, "bare@else.example")

    # ------------------------------------------------------------------
    # Emails smart button
    # ------------------------------------------------------------------
    def test_emails_smart_button_counts_own_and_public_mail(self):
        sender = "Known candidate <known@mail.example>"
        self.archive(sender, "Public mail")
        self.archive(sender, "Confidential owner mail")
        self.archive(sender, "Confidential other mail", box=self.other_box)
        self.archive("known@mail.example", "Sent to candidate", direction="outgoing")
        expected = {
            self.owner: ["Confidential owner mail", "Public mail", "Sent to candidate"],
            self.other: ["Confidential other mail", "Public mail", "Sent to candidate"],
            self.third: ["Public mail", "Sent to candidate"],
        }
        for user, subjects in expected.items():
            with self.subTest(user=user.login):
                partner = self.candidate.with_user(user)
                self.assertEqual(partner.carerix_mail_count, len(subjects))
                action = partner.action_view_carerix_mail()
                listed = (
                    self.env["mail.message"].with_user(user).search(action["domain"])
                )
                self.assertEqual(sorted(listed.mapped("subject")), subjects)

    def test_emails_smart_button_ignores_plain_chatter(self):
        self.candidate.message_post(body="A note", subject="Note")
        self.assertEqual(self.candidate.with_user(self.owner).carerix_mail_count, 0)

    # ------------------------------------------------------------------
    # Inline images
    # ------------------------------------------------------------------
    def test_inline_image_is_stored_and_cid_rewritten(self):
        msg = EmailMessage()
        msg["From"] = "Known candidate <known@mail.example>"
        msg["To"] = self.owner.email
        msg["Subject"] = "Portfolio"
        msg["Message-ID"] = make_msgid(domain="test.example")
        msg.set_content("See my portfolio")
        cid = make_msgid(domain="test.example")
        msg.add_alternative(
            f'<p>See my portfolio</p><img src="cid:{cid[1:-1]}" alt="logo">',
            subtype="html",
        )
        msg.get_payload()[1].add_related(
            PNG, maintype="image", subtype="png", cid=cid, filename="logo.png"
        )
        entry = self.Entry._archive_raw(self.box, msg.as_bytes(), "incoming")
        self.assertEqual(entry.state, "matched")
        image = entry.copy_ids.attachment_ids
        self.assertEqual(len(image), 1)
        self.assertEqual(image.raw, PNG)
        self.assertEqual(image.mimetype, "image/png")
        for copy in entry.copy_ids:
            with self.subTest(model=copy.model):
                self.assertNotIn("cid:", str(copy.body))
                self.assertIn(f"/web/image/{image.id}", str(copy.body))
        # The owner can open the image, through the copy on the candidate.
        self.assertEqual(
            self.env["ir.attachment"].with_user(self.owner).browse(image.id).raw, PNG
        )

    # ------------------------------------------------------------------
    # Search filters of My mail
    # ------------------------------------------------------------------
    def test_my_mail_search_filters(self):
        incoming = self.archive("Known candidate <known@mail.example>", "Incoming")
        outgoing = self.archive("known@mail.example", "Outgoing", direction="outgoing")
        unmatched = self.archive("Stranger <stranger@else.example>", "Unknown")
        confidential = self.archive(
            "Known candidate <known@mail.example>", "Confidential matter"
        )
        self.archive("Stranger <stranger@else.example>", "Other's", box=self.other_box)
        arch = etree.fromstring(
            self.env.ref("carerix_mail.carerix_mailbox_message_view_search").arch
        )
        filters = {
            node.get("name"): safe_eval(node.get("domain"))
            for node in arch.iter("filter")
            if node.get("domain")
        }
        expected = {
            "incoming": incoming | unmatched | confidential,
            "outgoing": outgoing,
            "unmatched": unmatched,
            "confidential": confidential,
        }
        Entry = self.Entry.with_user(self.owner)
        for name, entries in expected.items():
            with self.subTest(filter=name):
                self.assertEqual(Entry.search(filters[name]), entries)
        # The owner's My mail lists his own mail only.
        self.assertEqual(
            Entry.search([]), incoming | outgoing | unmatched | confidential
        )
