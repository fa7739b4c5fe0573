"""Erasing a person's mail also removes the CV documents that his mail gave
his candidate and applications: nothing of the CV is left in ir_attachment,
and the preview counts them."""

from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.carerix_mail.tests.common import make_mail

from ..tools.cv_files import PDF_MIMETYPE, make_pdf
from .common import make_applicant, make_recruiter

WORD = "Kabelbaanmonteur"
KEPT = "Sluiswachter"


@tagged("post_install", "-at_install")
class TestCvErase(TransactionCase):
    def mail_cv(self, box, email, word):
        return self.env["carerix.mailbox.message"]._archive_raw(
            box,
            make_mail(
                email,
                box.user_id.email,
                "My CV",
                attachments=[("cv.pdf", make_pdf(["CV", word]), PDF_MIMETYPE)],
            ),
        )

    def rows_with(self, word):
        self.env.flush_all()
        return self.env.execute_query(
            SQL(
                "SELECT res_model, res_id FROM ir_attachment "
                "WHERE index_content ILIKE %s",
                f"%{word}%",
            )
        )

    def test_erase_removes_the_cv_documents(self):
        box = make_recruiter(self.env, "cv_erase_rec")._carerix_mailbox(create=True)
        person = "cv.erase@mail.example"
        applicant = make_applicant(self.env, "Erik Erase", person)
        other = make_applicant(self.env, "Olga Other", "olga@mail.example")
        self.mail_cv(box, person, WORD)
        self.mail_cv(box, "olga@mail.example", KEPT)
        rows = self.rows_with(WORD)
        # the mail's attachment and the documents of candidate and application
        self.assertEqual(
            sorted(model for model, _res_id in rows),
            ["hr.applicant", "hr.candidate", "mail.message"],
        )
        self.assertIn(("hr.candidate", applicant.candidate_id.id), rows)
        self.assertIn(("hr.applicant", applicant.id), rows)
        Entry = self.env["carerix.mailbox.message"]
        found = Entry._carerix_person_entries([person])
        preview = Entry._carerix_erase_preview(found)
        counts = Entry._carerix_erase_entries(found, emails=[person])
        self.assertEqual(counts, preview)
        # the mail's attachment and the two documents
        self.assertEqual(counts["attachments"], 3)
        self.assertEqual(self.rows_with(WORD), [])
        self.assertFalse(applicant.candidate_id.attachment_ids)
        # another candidate's CV stays
        self.assertEqual(len(self.rows_with(KEPT)), 3)
        self.assertEqual(other.attachment_ids.mapped("name"), ["cv.pdf"])
