"""The primitives of erasure: finding a person's entries by whole,
normalized addresses, erasing them with every copy and attachment (counts
equal to the preview), and the tombstones that keep the sync from archiving
the erased mail again while mail sent after the erasure is archived."""

import datetime
import email
from email.utils import make_msgid

from odoo.tests import TransactionCase, new_test_user, tagged

from .common import make_mail

GROUPS = "base.group_user,base.group_partner_manager"
PERSON = "ann@person.example"


@tagged("post_install", "-at_install")
class TestErasePrimitives(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Entry = cls.env["carerix.mailbox.message"]
        cls.ann = cls.env["res.partner"].create({"name": "Ann", "email": PERSON})
        cls.joann = cls.env["res.partner"].create(
            {"name": "Joann", "email": "joann@person.example"}
        )
        cls.boxes = [cls.recruiter(f"erase_rec{n}") for n in range(3)]

    @classmethod
    def recruiter(cls, login):
        user = new_test_user(
            cls.env, login=login, email=f"{login}@agency.example", groups=GROUPS
        )
        return user._carerix_mailbox(create=True)

    def archive(self, box, raw):
        return self.Entry._archive_raw(box, raw)

    def test_person_entries_match_whole_addresses_of_every_owner(self):
        one, two, three = self.boxes
        mine = [
            self.archive(one, make_mail("Ann <ANN@Person.Example>", one.user_id.email)),
            self.archive(two, make_mail(two.user_id.email, "x@y.example", cc=PERSON)),
            self.archive(three, make_mail(three.user_id.email, f"Ann <{PERSON}>")),
        ]
        other = self.archive(one, make_mail("joann@person.example", "x@y.example"))
        raw = self.Entry._store_raw_only(
            two, make_mail("x@y.example", PERSON, "raw one"), reason="test"
        )
        found = self.Entry._carerix_person_entries([" Ann@person.example "])
        self.assertEqual(set(found.ids), {e.id for e in mine} | {raw.id})
        self.assertNotIn(other, found)
        self.assertEqual(
            self.Entry._carerix_person_entries(["joann@person.example"]), other
        )
        self.assertFalse(self.Entry._carerix_person_entries(["nobody@x.example"]))
        self.assertFalse(self.Entry._carerix_person_entries([]))

    def test_erase_removes_everything_archived_and_counts_as_previewed(self):
        one, two = self.boxes[:2]
        attachment = [("cv.txt", b"curriculum", "text/plain")]
        entries = self.archive(
            one, make_mail(PERSON, one.user_id.email, "cv", attachments=attachment)
        ) | self.archive(two, make_mail(two.user_id.email, PERSON, "offer"))
        raw = self.Entry._store_raw_only(
            two, make_mail(PERSON, two.user_id.email, "raw"), reason="test"
        )
        kept = self.archive(one, make_mail("joann@person.example", one.user_id.email))
        entries |= raw
        copies = entries.copy_ids
        attachments = copies.attachment_ids | self.env["ir.attachment"].search(
            [("res_model", "=", self.Entry._name), ("res_id", "=", raw.id)]
        )
        self.assertEqual(len(attachments), 2)  # cv.txt and the raw message.eml
        found = self.Entry._carerix_person_entries([PERSON])
        self.assertEqual(found, entries)
        preview = self.Entry._carerix_erase_preview(found)
        counts = self.Entry._carerix_erase_entries(found, emails=[PERSON])
        self.assertEqual(counts, preview)
        self.assertEqual(
            counts,
            {
                "entries": 3,
                "messages": len(copies),
                "attachments": 2,
                "owners": 2,
            },
        )
        self.assertFalse(entries.exists())
        self.assertFalse(copies.exists())
        self.assertFalse(attachments.exists())
        self.assertTrue(kept.exists() and kept.copy_ids.exists())
        self.assertFalse(self.ann.message_ids & copies)
        self.assertEqual(
            self.Entry._carerix_erase_entries(self.Entry.browse()),
            {"entries": 0, "messages": 0, "attachments": 0, "owners": 0},
        )

    def test_erased_mail_is_not_archived_again_later_mail_is(self):
        one, two = self.boxes[:2]
        old = datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
        with_id = make_mail(PERSON, one.user_id.email, "with id", date=old)
        self.archive(one, with_id)
        found = self.Entry._carerix_person_entries([PERSON])
        self.Entry._carerix_erase_entries(found, emails=[PERSON])
        # the same mail again, in any mailbox: nothing is created
        self.assertFalse(self.archive(one, with_id))
        self.assertFalse(self.archive(two, with_id))
        # another sender's mail reusing its Message-ID is not dropped: the
        # tombstone is of the mail's identity (Message-ID and content)
        forged_id = email.message_from_bytes(with_id)["Message-ID"]
        forged = make_mail(
            "someone@else.example", two.user_id.email, "hi", message_id=forged_id
        )
        self.assertTrue(self.archive(two, forged))
        # an older mail with no Message-ID of the person, kept raw or not
        no_id = make_mail(PERSON, two.user_id.email, "no id", date=old)
        no_id = no_id.replace(b"Message-ID:", b"X-Old-ID:")
        self.assertFalse(self.archive(two, no_id))
        self.assertFalse(self.Entry._store_raw_only(two, no_id, reason="test"))
        # mail he sends after the erasure is archived as usual
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            minutes=1
        )
        new = self.archive(
            one, make_mail(PERSON, one.user_id.email, "again", date=later)
        )
        self.assertTrue(new)
        self.assertEqual(self.Entry._carerix_person_entries([PERSON]), new)
        # a tombstone with retention's erasure (no tombstone) is not written
        self.Entry._carerix_erase_entries(new, tombstone=False)
        raw = make_mail(PERSON, one.user_id.email, "kept", date=later)
        self.assertTrue(self.archive(one, raw))

    def test_tombstones_hold_hashes_only(self):
        box = self.boxes[0]
        message_id = make_msgid(domain="person.example")
        self.archive(box, make_mail(PERSON, box.user_id.email, message_id=message_id))
        self.Entry._carerix_erase_entries(
            self.Entry._carerix_person_entries([PERSON]), emails=[PERSON]
        )
        self.env.cr.execute("SELECT kind, hash FROM carerix_mail_tombstone")
        rows = dict(self.env.cr.fetchall())
        self.assertEqual(set(rows), {"message", "address"})
        for value in rows.values():
            self.assertRegex(value, r"^[0-9a-f]{64}$")
        self.env.cr.execute(
            "SELECT count(*) FROM carerix_mail_tombstone"
            " WHERE hash LIKE %s OR hash LIKE %s",
            ["%person.example%", "%" + message_id.strip("<>")[:8] + "%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_forget_partner_erases_his_archived_mail(self):
        box = self.boxes[0]
        entry = self.archive(box, make_mail(PERSON, box.user_id.email, "forget me"))
        kept = self.archive(box, make_mail("joann@person.example", box.user_id.email))
        copies = entry.copy_ids
        self.assertIn(
            ("res.partner", self.ann.id), {(m.model, m.res_id) for m in copies}
        )
        officer = new_test_user(
            self.env,
            login="erase_officer",
            groups="base.group_user,base.group_partner_manager,"
            "privacy_partner_to_be_forgotten.group_partner_anonymize",
        )
        wizard = (
            self.env["partner.anonymize.wizard"]
            .with_user(officer)
            .with_context(active_ids=self.ann.ids)
            .create({})
        )
        wizard.action_confirm()
        self.assertFalse(entry.exists())
        self.assertFalse(copies.exists())
        self.assertTrue(kept.exists())
        self.assertNotEqual(self.ann.email, PERSON)
        self.assertFalse(self.Entry._carerix_person_entries([PERSON]))
        log = self.env["carerix.mail.privacy.log"].search([], limit=1)
        self.assertEqual(
            (log.action, log.user_id, log.entry_count, log.message_count),
            ("forget", officer, 1, len(copies)),
        )
        # and it stays erased: the same mail is not archived again
        self.assertFalse(self.archive(box, make_mail(PERSON, box.user_id.email)))
