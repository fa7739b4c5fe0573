"""Archiving in bulk (``_archive_batch``, what a sync uses) gives what
archiving the same mails one by one gives: the same entries, partners, copies,
privacy and attachments, also when a mail replies to one earlier in the same
batch, each body is sanitized once for all its copies and the user defaults
of a model are read once per batch."""

from email.utils import make_msgid
from unittest.mock import patch

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mail as mail_tools

from odoo.addons.base.models import ir_default as ir_default_base
from odoo.addons.carerix_mail.models import ir_default, mail_message

from .common import make_mail
from .test_hardening import nested
from .test_outgoing import NoSmtpMixin

GROUPS = "base.group_user,base.group_partner_manager"
LOGGER = "odoo.addons.carerix_mail.models.carerix_mailbox"


def crash_on(registry, subject):
    """A patch that makes archiving the mail with ``subject`` raise."""
    Entry = registry["carerix.mailbox.message"]
    original = Entry._archive_targets

    def crashing(model, batch, info):
        if info.subject == subject:
            raise RuntimeError("simulated")
        return original(model, batch, info)

    return patch.object(Entry, "_archive_targets", crashing)


@tagged("post_install", "-at_install")
class TestBatch(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.Entry = env["carerix.mailbox.message"]
        cls.company = env["res.partner"].create(
            {"name": "Employer BV", "is_company": True}
        )
        cls.contact = env["res.partner"].create(
            {
                "name": "Contact",
                "email": "contact@employer.example",
                "parent_id": cls.company.id,
            }
        )
        cls.candidate = env["res.partner"].create(
            {"name": "Candidate", "email": "cand@mail.example"}
        )
        cls.secretive = env["res.partner"].create(
            {
                "name": "Secretive",
                "email": "secret@mail.example",
                "carerix_incoming_confidential": True,
            }
        )

    def recruiter(self, login):
        user = new_test_user(
            self.env, login=login, email=f"{login}@agency.example", groups=GROUPS
        )
        return user._carerix_mailbox(create=True)

    def mails(self, box):
        """A batch that exercises every rule: matches, employer, unknown
        sender, subject word, confidential sender, replies to earlier mails
        of the batch (one of them private), an attachment, a duplicate, an
        unparseable one and an oversize one."""
        me = box.user_id.email
        public_id, private_id = make_msgid(), make_msgid()
        pdf = [("cv.pdf", b"%PDF-1.4 cv", "application/pdf")]
        raws = [
            make_mail("cand@mail.example", me, "Application", message_id=public_id),
            make_mail("contact@employer.example", me, "Vacancy"),
            make_mail("stranger@else.example", me, "Hello"),
            make_mail("stranger@else.example", me, "Vertrouwelijk: salaris"),
            make_mail("secret@mail.example", me, "Question"),
            make_mail(
                "cand@mail.example", me, "Strictly confidential", message_id=private_id
            ),
            # colleagues replying: only the conversation links them to a record
            make_mail(
                "colleague@else.example", me, "Re: Application", in_reply_to=public_id
            ),
            make_mail(
                "colleague@else.example", me, "Re: Strictly", in_reply_to=private_id
            ),
            make_mail("cand@mail.example", me, "CV attached", attachments=pdf),
        ]
        raws.append(raws[1])  # the same mail twice in one batch
        raws.append(nested(50, b"batch"))  # too deep: stored raw
        return [(raw, {}) for raw in raws] + [(None, {"oversize": True, "size": 9})]

    def describe(self, entries):
        out = []
        for entry in entries:
            if not entry:
                out.append(None)
                continue
            out.append(
                (
                    entry.subject,
                    entry.state,
                    entry.confidential,
                    sorted(entry.partner_ids.mapped("name")),
                    sorted(
                        (copy.model == entry._name, copy.record_name or "", copy.body)
                        for copy in entry.copy_ids
                    ),
                    sorted(
                        (copy.model, copy.carerix_confidential)
                        for copy in entry.copy_ids
                    ),
                    sorted(entry.copy_ids.attachment_ids.mapped("name")),
                )
            )
        return out

    def test_batch_equals_one_by_one(self):
        one_box, batch_box = self.recruiter("batch_one"), self.recruiter("batch_all")
        items = self.mails(one_box)
        one_by_one = [
            self.Entry._archive_raw(one_box, raw, "incoming", **meta)
            for raw, meta in items
        ]
        batch = self.Entry._archive_batch(batch_box, self.mails(batch_box))
        # the same Message-IDs in both (dedup is per owner), so compare shapes
        self.assertEqual(len(batch), len(items))
        self.assertEqual([bool(e) for e in batch], [bool(e) for e in one_by_one])
        self.assertFalse(batch[9])  # the duplicate
        self.assertEqual(self.describe(batch), self.describe(one_by_one))
        by_subject = {e.subject: e for e in batch if e}
        self.assertEqual(by_subject["Vacancy"].partner_ids, self.contact | self.company)
        self.assertEqual(by_subject["Hello"].state, "unmatched")
        self.assertTrue(by_subject["Vertrouwelijk: salaris"].confidential)
        self.assertTrue(by_subject["Question"].confidential)
        # replies within the batch: the record and the privacy of their parent
        self.assertEqual(by_subject["Re: Application"].partner_ids, self.candidate)
        self.assertFalse(by_subject["Re: Application"].confidential)
        self.assertTrue(by_subject["Re: Strictly"].confidential)
        self.assertEqual(by_subject["Re: Strictly"].partner_ids, self.candidate)
        self.assertEqual(
            by_subject["CV attached"].copy_ids.attachment_ids.mapped("name"), ["cv.pdf"]
        )
        raw = [e for e in batch if e and e.state == "raw"]
        self.assertEqual(len(raw), 2)  # the unparseable and the oversize one
        self.assertTrue(all(e.error for e in raw))
        # an inbox notification per incoming mail, for the owner only
        notified = self.env["mail.notification"].search(
            [("mail_message_id", "in", self.Entry.concat(*batch).copy_ids.ids)]
        )
        self.assertEqual(notified.res_partner_id, batch_box.user_id.partner_id)
        self.assertEqual(len(notified), 9)

    def test_second_batch_of_the_same_mail_archives_nothing(self):
        box = self.recruiter("batch_twice")
        items = self.mails(box)[:9]
        first = self.Entry._archive_batch(box, items)
        self.assertTrue(all(first))
        self.assertEqual(
            self.Entry._archive_batch(box, items), [self.Entry.browse()] * 9
        )

    def test_body_sanitized_once_for_all_copies(self):
        box = self.recruiter("batch_sanitize")
        html = (
            "<p>Dear recruiter<script>alert(1)</script></p>"
            '<img src="x" onerror="alert(2)">'
        )
        raw = make_mail("contact@employer.example", box.user_id.email, "Html")
        raw = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/html")
        raw = raw.replace(b"Hello there", html.encode())
        calls = []
        original = mail_tools.html_sanitize

        def counting(value, *args, **kwargs):
            calls.append(value)
            return original(value, *args, **kwargs)

        with patch("odoo.fields.html_sanitize", counting):
            (entry,) = self.Entry._archive_batch(box, [(raw, {})])
        copies = entry.copy_ids
        self.assertEqual(len(copies), 3)  # the entry, the contact, the employer
        self.assertEqual(len({c.body for c in copies}), 1)
        self.assertNotIn("script", copies[0].body)
        self.assertNotIn("onerror", copies[0].body)
        self.assertIn("Dear recruiter", copies[0].body)
        bodies = [v for v in calls if "Dear recruiter" in (v or "")]
        self.assertEqual(len(bodies), 1)  # Odoo alone: twice per copy
        copies.invalidate_recordset(["body"])  # as stored
        self.assertEqual(len({c.body for c in copies}), 1)
        self.assertNotIn("script", copies[1].body)
        # outside an archiving batch the field is plain fields.Html again
        self.assertIsNone(mail_message._SANITIZE_MEMO.get())
        calls.clear()
        with patch("odoo.fields.html_sanitize", counting):
            copies.write({"body": html})
            copies.flush_recordset(["body"])
        self.assertGreaterEqual(len(calls), 2)

    def test_user_defaults_apply_and_are_read_once_per_batch(self):
        box = self.recruiter("batch_defaults")
        self.env["ir.default"].set("mail.message", "is_internal", True)
        me = box.user_id.email
        items = [
            (make_mail("cand@mail.example", me, f"Defaults {n}"), {}) for n in range(3)
        ]
        reads = []
        original = ir_default_base.IrDefault._get_model_defaults

        def counting(model, model_name, condition=False):
            reads.append(model_name)
            return original(model, model_name, condition)

        with patch.object(ir_default_base.IrDefault, "_get_model_defaults", counting):
            entries = self.Entry._archive_batch(box, items)
            self.assertEqual(len(entries), 3)
            copies = self.env["mail.message"].browse(
                [c.id for entry in entries for c in entry.copy_ids]
            )
            self.assertEqual(len(copies), 6)  # the entry's and the candidate's
            self.assertEqual(set(copies.mapped("is_internal")), {True})
            # once per model for the whole batch (Odoo: once per record)
            self.assertEqual(reads.count("mail.message"), 1)
            self.assertEqual(reads.count("carerix.mailbox.message"), 1)
            self.assertIsNone(ir_default._DEFAULTS_MEMO.get())
            reads.clear()
            self.env["mail.message"].default_get(["is_internal"])
            self.env["mail.message"].default_get(["is_internal"])
        self.assertEqual(reads, ["mail.message", "mail.message"])

    def test_failing_batch_is_archived_one_by_one(self):
        box = self.recruiter("batch_fallback")

        class Fetched:
            def __init__(self, raw):
                self.raw, self.oversize, self.size = raw, False, len(raw)
                self.server_id = None

        messages = [Fetched(raw) for raw, _meta in self.mails(box)[:4]]
        stats = {"fetched": 0, "archived": 0, "unmatched": 0}
        with (
            crash_on(self.registry, "Hello"),
            self.assertLogs(LOGGER, "ERROR") as logs,
        ):
            box._archive_fetched_batch(messages, "incoming", "INBOX", stats)
        # the batch failed once, then only its culprit failed again
        self.assertEqual(
            sum("archiving a message failed" in line for line in logs.output), 1
        )
        self.assertEqual(stats, {"fetched": 4, "archived": 4, "unmatched": 1})
        entries = self.Entry.search([("owner_id", "=", box.user_id.id)])
        self.assertEqual(
            sorted(entries.mapped("state")), ["matched", "matched", "raw", "unmatched"]
        )
        self.assertIn(
            "RuntimeError", entries.filtered(lambda e: e.state == "raw").error
        )


@tagged("post_install", "-at_install")
class TestSentBatch(NoSmtpMixin, TransactionCase):
    """The mails a ``mail.mail`` batch sends are archived for their sender as
    one batch per sender, with what archiving them one by one gives."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Entry = cls.env["carerix.mailbox.message"]
        cls.candidate = cls.env["res.partner"].create(
            {"name": "Sent candidate", "email": "sent.cand@mail.example"}
        )
        cls.contact = cls.env["res.partner"].create(
            {"name": "Sent contact", "email": "sent.contact@mail.example"}
        )

    def recruiter(self, login):
        user = new_test_user(self.env, login=login, groups=GROUPS)
        user._carerix_mailbox(create=True).write(
            {"host": "imap.agency.example", "from_address": f"{login}@agency.example"}
        )
        return user

    def post(self, user, partner, subject):
        """Post a mail to ``partner`` on his record, queued."""
        return (
            partner.with_user(user)
            .with_context(mail_notify_force_send=False)
            .message_post(
                body=f"<p>{subject}</p>",
                subject=subject,
                partner_ids=partner.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )

    def send(self, messages):
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "in", messages.ids)])
        )
        # one or more per message (followers get theirs)
        self.assertEqual(mails.mail_message_id, messages)
        batches = []
        Entry = self.registry["carerix.mailbox.message"]
        original = Entry._archive_batch

        def counting(model, mailbox, items, *args, **kwargs):
            batches.append((mailbox.user_id.login, len(items)))
            return original(model, mailbox, items, *args, **kwargs)

        with patch.object(Entry, "_archive_batch", counting):
            mails.send()
        return sorted(batches)

    def test_one_batch_per_sender(self):
        first, second = self.recruiter("sent_first"), self.recruiter("sent_second")
        plain = new_test_user(self.env, login="sent_plain", groups=GROUPS)
        messages = (
            self.post(first, self.candidate, "First to candidate")
            | self.post(first, self.contact, "First to contact")
            | self.post(first, self.candidate, "Vertrouwelijk: first")
            | self.post(second, self.candidate, "Second to candidate")
            | self.post(plain, self.candidate, "Not a mailbox user")
        )
        batches = self.send(messages)
        self.assertEqual(batches, [("sent_first", 3), ("sent_second", 1)])
        for message in messages[:4].sudo():
            entry = message.carerix_mailbox_message_id
            partner = self.env["res.partner"].browse(message.res_id)
            self.assertEqual(entry.direction, "outgoing")
            self.assertEqual(entry.state, "matched")
            self.assertEqual(entry.partner_ids, partner)
            self.assertEqual(entry.owner_id, message.author_id.user_ids)
            # the posted message is the copy on its record: no second one
            self.assertEqual(
                entry.copy_ids.filtered(lambda c: c.model == "res.partner"), message
            )
            self.assertEqual(
                entry.copy_ids.mapped("carerix_confidential"),
                [entry.confidential] * 2,
            )
            self.assertEqual(
                entry.confidential, message.subject.startswith("Vertrouwelijk")
            )
        self.assertFalse(messages[4].sudo().carerix_mailbox_message_id)

    def test_failing_batch_is_archived_one_by_one(self):
        user = self.recruiter("sent_fallback")
        messages = (
            self.post(user, self.candidate, "Before")
            | self.post(user, self.candidate, "Poison")
            | self.post(user, self.contact, "After")
        )
        with (
            crash_on(self.registry, "Poison"),
            self.assertLogs(
                "odoo.addons.carerix_mail.models.mail_mail", "ERROR"
            ) as logs,
        ):
            batches = self.send(messages)
        # the batch, then each mail alone
        self.assertEqual(batches, [("sent_fallback", 1)] * 3 + [("sent_fallback", 3)])
        self.assertEqual(len(logs.output), 1)
        self.assertIn(str(messages[1].id), logs.output[0])
        self.assertEqual(
            [bool(m.carerix_mailbox_message_id) for m in messages.sudo()],
            [True, False, True],
        )
        self.assertEqual(self.Entry.search_count([("owner_id", "=", user.id)]), 2)

    def test_sent_copy_is_what_left(self):
        # The Sent copy is built from the emails Odoo prepared to send (not
        # prepared a second time), and holds what left.
        user = self.recruiter("sent_once")
        message = self.post(user, self.candidate, "Prepared once")
        Mail = self.registry["mail.mail"]
        original = Mail._prepare_outgoing_list
        calls = []

        def counting(mails, *args, **kwargs):
            calls.append(mails.ids)
            return original(mails, *args, **kwargs)

        with patch.object(Mail, "_prepare_outgoing_list", counting):
            self.send(message)
        self.assertEqual(len(calls), 1)
        entry = message.sudo().carerix_mailbox_message_id
        self.assertEqual(entry.subject, "Prepared once")
        self.assertIn("sent.cand@mail.example", entry.email_to)
