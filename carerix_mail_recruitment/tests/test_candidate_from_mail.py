"""*Create candidate* on an unmatched mail of *My mail*: an unknown applicant
mails his CV, the recruiter answers from his mail program (Sent), the
applicant answers privately with a new CV; all synced from Dovecot. The
recruiter creates the candidate from the first mail."""

from email.utils import make_msgid

from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.carerix_mail.tests.common import SyncCase, make_mail, unique

from ..tools.cv_files import PDF_MIMETYPE, make_pdf, make_png
from .common import make_recruiter

PNG = make_png()


@tagged("post_install", "-at_install")
class TestCandidateFromMail(SyncCase):
    def setUp(self):
        super().setUp()
        self.user_id, self.login, self.email = self.make_recruiter()
        self.sender = f"{unique('applicant')}@mail.example"
        self.word = unique("Zeppelinpilot").replace("x", "q")
        self.private_word = unique("Duikbootkapitein").replace("x", "q")
        with self.real_env() as env:
            owner = env["res.users"].browse(self.user_id)
            owner.groups_id |= env.ref("hr_recruitment.group_hr_recruitment_user")
            self.other_id = make_recruiter(env, unique("other")).id
            self.job_id = env["hr.job"].create({"name": unique("Welder")}).id
        self.deliver_thread()
        health = self.sync(self.user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])

    def deliver_thread(self):
        first_id = make_msgid(domain="mail.example")
        reply_id = make_msgid(domain="agency.example")
        self.deliver(
            self.login,
            f"Piet Pieterse <{self.sender}>",
            self.email,
            "Open application",
            "Hello, my CV is attached.",
            message_id=first_id,
            attachments=[
                ("cv-piet.pdf", make_pdf(["Piet", self.word]), PDF_MIMETYPE),
                ("me.png", PNG, "image/png"),
            ],
        )
        self.dovecot.deliver(
            self.login,
            "Sent",
            make_mail(
                self.email,
                self.sender,
                "Re: Open application",
                "Thanks, what is your salary?",
                message_id=reply_id,
                in_reply_to=first_id,
            ),
            flags=(b"\\Seen",),
        )
        self.deliver(
            self.login,
            self.sender,
            self.email,
            "Vertrouwelijk: Re: Open application",
            "My salary is private. Updated CV attached.",
            in_reply_to=reply_id,
            attachments=[
                ("cv-v2.pdf", make_pdf(["Piet", self.private_word]), PDF_MIMETYPE)
            ],
        )
        # another unknown sender's mail, not of the conversation
        self.deliver(self.login, f"{unique('x')}@mail.example", self.email, "Other")

    def entries_by_subject(self, env):
        entries = env["carerix.mailbox.message"].search(
            [("owner_id", "=", self.user_id)]
        )
        return {e.subject: e for e in entries}

    def test_create_candidate_archives_the_whole_thread(self):
        with self.real_env() as env:
            owner = env["res.users"].browse(self.user_id)
            entries = self.entries_by_subject(env)
            self.assertEqual({e.state for e in entries.values()}, {"unmatched"})
            first = entries["Open application"]
            private = entries["Vertrouwelijk: Re: Open application"]
            self.assertTrue(private.confidential)
            self.assertFalse(entries["Re: Open application"].confidential)
            other = env["res.users"].browse(self.other_id)
            with self.assertRaises(AccessError):
                first.with_user(other).action_carerix_create_candidate()
            # a private mail offers no file to become a document
            action = private.with_user(owner).action_carerix_create_candidate()
            wizard = env[action["res_model"]].browse(action["res_id"])
            self.assertFalse(wizard.available_attachment_ids)
            action = first.with_user(owner).action_carerix_create_candidate()
            wizard = env[action["res_model"]].with_user(owner).browse(action["res_id"])
            self.assertEqual(wizard.partner_name, "Piet Pieterse")
            self.assertEqual(wizard.email_from, self.sender)
            self.assertEqual(
                sorted(wizard.available_attachment_ids.mapped("name")),
                ["cv-piet.pdf", "me.png"],
            )
            # the CV is chosen, the picture is not
            self.assertEqual(wizard.attachment_ids.mapped("name"), ["cv-piet.pdf"])
            wizard.job_id = self.job_id
            result = wizard.action_confirm()
            candidate = env["hr.candidate"].browse(result["res_id"])
            self.assertEqual(result["res_model"], "hr.candidate")
            self.check_candidate(env, candidate, entries)

    def check_candidate(self, env, candidate, entries):
        self.assertEqual(candidate.partner_name, "Piet Pieterse")
        self.assertEqual(candidate.partner_id.email_normalized, self.sender)
        applicant = candidate.applicant_ids
        self.assertEqual(applicant.job_id.id, self.job_id)
        records = {
            ("res.partner", candidate.partner_id.id),
            ("hr.candidate", candidate.id),
            ("hr.applicant", applicant.id),
        }
        thread = entries["Open application"] | entries["Re: Open application"]
        thread |= entries["Vertrouwelijk: Re: Open application"]
        for entry in thread:
            self.assertEqual(entry.state, "matched", entry.subject)
            self.assertEqual(entry.partner_ids, candidate.partner_id)
            copies = {(m.model, m.res_id) for m in entry.copy_ids}
            self.assertLessEqual(records, copies, entry.subject)
            self.assertEqual(len(entry.copy_ids), 4)
            self.assertEqual(
                set(entry.copy_ids.mapped("carerix_confidential")),
                {entry.confidential},
            )
            self.assertEqual(entry.copy_ids.carerix_owner_id.id, self.user_id)
        self.assertEqual(entries["Other"].state, "unmatched")
        # the CV is a document of the candidate and of his application
        for record in (candidate, applicant):
            self.assertEqual(record.attachment_ids.mapped("name"), ["cv-piet.pdf"])
            self.assertIn(self.word, record.attachment_ids.index_content)
        self.check_other_recruiter(env, candidate, applicant)

    def check_other_recruiter(self, env, candidate, applicant):
        other = env["res.users"].browse(self.other_id)
        messages = (
            env["mail.message"]
            .with_user(other)
            .search([("model", "=", "hr.candidate"), ("res_id", "=", candidate.id)])
        )
        subjects = messages.mapped("subject")
        self.assertIn("Open application", subjects)
        self.assertIn("Re: Open application", subjects)
        self.assertNotIn("Vertrouwelijk: Re: Open application", subjects)
        for model, res_id in (
            ("hr.applicant", applicant.id),
            ("res.partner", candidate.partner_id.id),
        ):
            found = (
                env["mail.message"]
                .with_user(other)
                .search([("model", "=", model), ("res_id", "=", res_id)])
            )
            self.assertNotIn("private", " ".join(found.mapped("body")))
            self.assertIn("my CV is attached", " ".join(found.mapped("body")))
        self.assertEqual(
            env["hr.applicant"]
            .with_user(other)
            .search([("attachment_ids.index_content", "ilike", self.word)]),
            applicant,
        )
        for model in ("hr.applicant", "hr.candidate", "ir.attachment"):
            field = (
                "index_content"
                if model == "ir.attachment"
                else ("attachment_ids.index_content")
            )
            self.assertFalse(
                env[model]
                .with_user(other)
                .search([(field, "ilike", self.private_word)]),
                model,
            )
