"""Mail archived by carerix_mail also lands on the candidate and on his open
applications."""

from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from odoo.addons.carerix_mail.tests.common import make_mail

from .common import make_applicant, make_recruiter


@tagged("post_install", "-at_install")
class TestArchiveOnApplications(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = make_recruiter(cls.env, "bridge_owner")
        cls.colleague = make_recruiter(cls.env, "bridge_colleague")
        cls.box = cls.owner._carerix_mailbox(create=True)
        cls.job = cls.env["hr.job"].create({"name": "Welder"})
        cls.other_job = cls.env["hr.job"].create({"name": "Plumber"})
        cls.applicant = make_applicant(
            cls.env, "Piet Jansen", "Piet@Mail.Example", job=cls.job
        )
        cls.candidate = cls.applicant.candidate_id
        cls.second = cls.env["hr.applicant"].create(
            {"candidate_id": cls.candidate.id, "job_id": cls.other_job.id}
        )
        cls.Entry = cls.env["carerix.mailbox.message"]

    def archive(self, sender, to, subject, direction="incoming", **kwargs):
        raw = make_mail(sender, to, subject, **kwargs)
        return self.Entry._archive_raw(self.box, raw, direction)

    def copies(self, entry, records):
        return entry.copy_ids.filtered(
            lambda m: m.model == records._name and m.res_id in records.ids
        )

    def test_incoming_mail_lands_on_candidate_and_open_applications(self):
        self.assertTrue(self.candidate.partner_id, "hr_recruitment makes a contact")
        entry = self.archive("Piet <piet@mail.example>", self.owner.email, "My CV")
        self.assertEqual(entry.state, "matched")
        self.assertEqual(len(self.copies(entry, self.applicant | self.second)), 2)
        self.assertEqual(len(self.copies(entry, self.candidate)), 1)
        self.assertEqual(entry.partner_ids, self.candidate.partner_id)
        # In the chatter of the application, with the candidate as author.
        message = self.applicant.message_ids.filtered(lambda m: m.subject == "My CV")
        self.assertEqual(message.author_id, self.candidate.partner_id)
        self.assertEqual(message.carerix_owner_id, self.owner)

    def test_outgoing_and_cc_mail_land_on_the_application(self):
        entry = self.archive(
            self.owner.email,
            "someone@corp.example",
            "Your interview",
            direction="outgoing",
            cc="piet@mail.example",
        )
        self.assertEqual(len(self.copies(entry, self.applicant)), 1)

    def test_candidate_without_contact_matched_on_email(self):
        candidate = self.env["hr.candidate"].create({"partner_name": "No Contact"})
        # hr_recruitment creates a contact for every email it is given; a
        # candidate imported without one is matched on his email alone.
        self.env.cr.execute(
            "UPDATE hr_candidate SET email_from = %s, email_normalized = %s "
            "WHERE id = %s",
            ("nocontact@mail.example", "nocontact@mail.example", candidate.id),
        )
        candidate.invalidate_recordset()
        applicant = self.env["hr.applicant"].create({"candidate_id": candidate.id})
        self.assertFalse(applicant.partner_id)
        entry = self.archive("nocontact@mail.example", self.owner.email, "Hi")
        self.assertEqual(entry.state, "matched")
        self.assertFalse(entry.partner_ids)
        self.assertEqual(len(self.copies(entry, applicant)), 1)
        self.assertEqual(len(self.copies(entry, candidate)), 1)

    def test_closed_applications_are_left_alone(self):
        self.second.action_archive()
        hired = self.env["hr.applicant"].create(
            {"candidate_id": self.candidate.id, "job_id": self.job.id}
        )
        hired.date_closed = "2024-01-01 10:00:00"
        entry = self.archive("piet@mail.example", self.owner.email, "Later")
        self.assertEqual(len(self.copies(entry, self.applicant)), 1)
        self.assertFalse(self.copies(entry, self.second | hired))

    def test_owner_own_address_never_matches(self):
        # A recruiter who is also a candidate: his own mail is not archived
        # on his application.
        own = make_applicant(self.env, "Owner as candidate", "other@corp.example")
        self.box.from_address = "other@corp.example"
        entry = self.archive("other@corp.example", "stranger@x.example", "Sent")
        self.assertEqual(entry.state, "unmatched")
        self.assertFalse(self.copies(entry, own))
        self.assertFalse(self.copies(entry, own.candidate_id))

    def test_confidential_mail_on_application_private_to_owner(self):
        self.archive("piet@mail.example", self.owner.email, "Confidential: salary")
        subjects = self.applicant.with_user(self.owner).message_ids.mapped("subject")
        self.assertIn("Confidential: salary", subjects)
        # Another request, another user: nothing read by the owner is cached.
        self.env.invalidate_all()
        as_colleague = self.applicant.with_user(self.colleague)
        self.assertNotIn(
            "Confidential: salary", as_colleague.message_ids.mapped("subject")
        )
        self.assertFalse(
            as_colleague.search_count(
                [
                    ("id", "=", self.applicant.id),
                    ("message_ids.subject", "ilike", "salary"),
                ]
            )
        )

    def test_batch_reads_candidates_once_and_matches_like_one_by_one(self):
        other = make_applicant(self.env, "Kees", "kees@mail.example", job=self.job)
        mails = [
            ("Piet <piet@mail.example>", "Batch CV"),
            ("kees@mail.example", "Batch question"),
            ("stranger@else.example", "Batch hello"),
        ]
        items = [(make_mail(s, self.owner.email, subject), {}) for s, subject in mails]
        searches = []
        Candidate = self.registry["hr.candidate"]
        original = Candidate.search_fetch

        def counting(model, domain, *args, **kwargs):
            searches.append(domain)
            return original(model, domain, *args, **kwargs)

        with patch.object(Candidate, "search_fetch", counting):
            entries = self.Entry._archive_batch(self.box, items)
        self.assertEqual(len(searches), 1)  # one search for the whole batch
        piet, kees, stranger = entries
        self.assertEqual(len(self.copies(piet, self.applicant | self.second)), 2)
        self.assertEqual(len(self.copies(piet, self.candidate)), 1)
        self.assertFalse(
            self.copies(piet, other) or self.copies(piet, other.candidate_id)
        )
        self.assertEqual(len(self.copies(kees, other)), 1)
        self.assertEqual(len(self.copies(kees, other.candidate_id)), 1)
        self.assertFalse(self.copies(kees, self.applicant | self.second))
        self.assertFalse(self.copies(kees, self.candidate))
        self.assertEqual(stranger.state, "unmatched")
        # one by one, the same records
        single = self.archive("kees@mail.example", self.owner.email, "Single")
        self.assertEqual(
            sorted(single.copy_ids.mapped("model")),
            sorted(kees.copy_ids.mapped("model")),
        )
