"""CVs from mail, end to end: a candidate mails his CV (PDF, DOCX) into the
recruiter's Dovecot mailbox -> sync -> documents of the candidate and of his
open application, found by Odoo's searches on their content by another
recruiter; a private mail's CV is not."""

from odoo.tests import tagged

from odoo.addons.carerix_mail.tests.common import SyncCase, unique

from ..models.carerix_cv import looks_like_cv
from ..tools.cv_files import DOCX_MIMETYPE, PDF_MIMETYPE, make_docx, make_pdf, make_png
from .common import make_applicant, make_recruiter

PNG = make_png()
CV_CONTENT = "[('attachment_ids.index_content', 'ilike', self)]"


@tagged("post_install", "-at_install")
class TestCvFromMail(SyncCase):
    def setUp(self):
        super().setUp()
        self.user_id, self.login, self.email = self.make_recruiter()
        self.cand_email = f"{unique('cand')}@mail.example"
        self.pdf_word = unique("Zeppelinpilot").replace("x", "q")
        self.docx_word = unique("Ballonvaarder").replace("x", "q")
        with self.real_env() as env:
            applicant = make_applicant(env, "Carla Candidate", self.cand_email)
            self.applicant_id = applicant.id
            self.candidate_id = applicant.candidate_id.id
            # a refused application gets no documents
            refused = env["hr.applicant"].create(
                {"candidate_id": self.candidate_id, "active": False}
            )
            self.refused_id = refused.id
            self.other_id = make_recruiter(env, unique("other")).id
        self.pdf = make_pdf(["Carla Candidate", f"Skills: {self.pdf_word}"])
        self.docx = make_docx(["Carla Candidate", f"Hobby: {self.docx_word}"])

    def mail_cv(self, subject, attachments):
        self.deliver(
            self.login,
            f"Carla <{self.cand_email}>",
            self.email,
            subject,
            "Please find my CV attached.",
            attachments=attachments,
        )
        health = self.sync(self.user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])

    def documents(self, env, model, res_id):
        return env["ir.attachment"].search(
            [("res_model", "=", model), ("res_id", "=", res_id)]
        )

    def found_by(self, env, word):
        """What the other recruiter finds by ``word``: (applications,
        candidates) ids, through the searches of the views."""
        other = env["res.users"].browse(self.other_id)
        applicants = (
            env["hr.applicant"]
            .with_user(other)
            .search([("attachment_ids.index_content", "ilike", word)])
        )
        candidates = (
            env["hr.candidate"]
            .with_user(other)
            .search([("attachment_ids.index_content", "ilike", word)])
        )
        return set(applicants.ids), set(candidates.ids)

    def test_pdf_and_docx_become_documents_found_by_content(self):
        self.mail_cv(
            "My CV",
            [
                ("CV Carla.pdf", self.pdf, PDF_MIMETYPE),
                ("cv-carla.docx", self.docx, DOCX_MIMETYPE),
                ("photo.png", PNG, "image/png"),
            ],
        )
        with self.real_env() as env:
            for model, res_id in (
                ("hr.candidate", self.candidate_id),
                ("hr.applicant", self.applicant_id),
            ):
                docs = self.documents(env, model, res_id)
                # the picture is no CV
                self.assertEqual(
                    sorted(docs.mapped("name")), ["CV Carla.pdf", "cv-carla.docx"]
                )
                self.assertTrue(all(docs.mapped("carerix_cv")))
                by_name = {d.name: d for d in docs}
                self.assertIn(self.pdf_word, by_name["CV Carla.pdf"].index_content)
                self.assertIn(self.docx_word, by_name["cv-carla.docx"].index_content)
            self.assertFalse(self.documents(env, "hr.applicant", self.refused_id))
            # the file is stored once: the mail's attachment and the documents
            # share it
            mail_pdf = env["ir.attachment"].search(
                [("res_model", "=", "mail.message"), ("name", "=", "CV Carla.pdf")]
            )
            self.assertEqual(len(mail_pdf), 1)
            cand_pdf = self.documents(env, "hr.candidate", self.candidate_id).filtered(
                lambda d: d.name == "CV Carla.pdf"
            )
            self.assertEqual(cand_pdf.store_fname, mail_pdf.store_fname)
            self.assertEqual(cand_pdf.checksum, mail_pdf.checksum)
            for word in (self.pdf_word, self.docx_word.lower()):
                self.assertEqual(
                    self.found_by(env, word),
                    ({self.applicant_id}, {self.candidate_id}),
                )
            # the candidate search view has the field "CV content"
            arch = env["hr.candidate"].get_views([(False, "search")])["views"][
                "search"
            ]["arch"]
            self.assertIn('string="CV content"', arch)
            self.assertIn(CV_CONTENT, arch.replace("&apos;", "'"))

    def test_same_cv_twice_is_one_document(self):
        self.mail_cv("My CV", [("cv.pdf", self.pdf, PDF_MIMETYPE)])
        self.mail_cv("My CV again", [("cv (1).pdf", self.pdf, PDF_MIMETYPE)])
        with self.real_env() as env:
            self.assertEqual(
                len(self.documents(env, "hr.candidate", self.candidate_id)), 1
            )
            self.assertEqual(
                len(self.documents(env, "hr.applicant", self.applicant_id)), 1
            )
            self.assertEqual(
                env["mail.message"].search_count(
                    [
                        ("model", "=", "hr.candidate"),
                        ("res_id", "=", self.candidate_id),
                        ("subject", "like", "My CV"),
                    ]
                ),
                2,
            )

    def test_private_mail_cv_is_no_document_until_made_public(self):
        self.mail_cv("Vertrouwelijk: mijn cv", [("cv.pdf", self.pdf, PDF_MIMETYPE)])
        with self.real_env() as env:
            entry = env["carerix.mailbox.message"].search(
                [("owner_id", "=", self.user_id)]
            )
            self.assertTrue(entry.confidential)
            self.assertIn(
                ("hr.candidate", self.candidate_id),
                [(m.model, m.res_id) for m in entry.copy_ids],
            )
            self.assertFalse(self.documents(env, "hr.candidate", self.candidate_id))
            self.assertFalse(self.documents(env, "hr.applicant", self.applicant_id))
            self.assertEqual(self.found_by(env, self.pdf_word), (set(), set()))
            other = env["res.users"].browse(self.other_id)
            self.assertFalse(
                env["ir.attachment"]
                .with_user(other)
                .search([("index_content", "ilike", self.pdf_word)])
            )
            owner = env["res.users"].browse(self.user_id)
            mailbox_copy = entry.copy_ids.filtered(
                lambda m: m.model == "carerix.mailbox.message"
            )
            # the owner makes the conversation public: the CV becomes a document
            mailbox_copy.with_user(owner).action_carerix_toggle_confidential()
            self.assertEqual(
                self.found_by(env, self.pdf_word),
                ({self.applicant_id}, {self.candidate_id}),
            )
            # and private again: the documents go
            mailbox_copy.with_user(owner).action_carerix_toggle_confidential()
            self.assertTrue(entry.confidential)
            self.assertEqual(self.found_by(env, self.pdf_word), (set(), set()))
            self.assertFalse(self.documents(env, "hr.candidate", self.candidate_id))

    def test_cv_in_mail_to_the_candidate_is_no_document(self):
        """Only the candidate's own mail gives documents: a CV the recruiter
        sends him, or mail from someone else about him, does not."""
        colleague = f"{unique('colleague')}@other.example"
        self.deliver(
            self.login,
            colleague,
            self.email,
            "A CV for you",
            "CV of somebody else",
            cc=self.cand_email,
            attachments=[("other.pdf", self.pdf, PDF_MIMETYPE)],
        )
        self.sync(self.user_id)
        with self.real_env() as env:
            entry = env["carerix.mailbox.message"].search(
                [("owner_id", "=", self.user_id)]
            )
            self.assertIn(
                ("hr.candidate", self.candidate_id),
                [(m.model, m.res_id) for m in entry.copy_ids],
            )
            self.assertFalse(self.documents(env, "hr.candidate", self.candidate_id))

    def test_rtf_cv_found_by_content(self):
        rtf = (
            rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}{\*\generator Writer;}"
            rb"\f0 Carla Candidate\par Ervaring: " + self.pdf_word.encode() + rb"\par}"
        )
        self.mail_cv("My CV", [("cv.rtf", rtf, "application/rtf")])
        with self.real_env() as env:
            doc = self.documents(env, "hr.candidate", self.candidate_id)
            self.assertEqual(doc.name, "cv.rtf")
            self.assertEqual(
                doc.index_content, f"Carla Candidate\nErvaring: {self.pdf_word}"
            )
            self.assertEqual(
                self.found_by(env, self.pdf_word),
                ({self.applicant_id}, {self.candidate_id}),
            )

    def test_what_looks_like_a_cv(self):
        cases = {
            ("cv.pdf", "application/pdf", False): True,
            ("CV.DOCX", "application/octet-stream", False): True,
            ("cv.odt", "", False): True,
            ("cv.doc", "application/msword", False): True,
            ("cv.rtf", "text/rtf", False): True,
            ("", "application/pdf", False): True,
            ("cv.pdf", "application/pdf", True): False,  # inline
            ("photo.png", "image/png", False): False,
            ("smime.p7s", "application/pkcs7-signature", False): False,
            ("signature.asc", "application/pgp-signature", False): False,
            ("", "image/jpeg", False): False,
            ("invite.ics", "text/calendar", False): False,
        }
        for (name, mimetype, inline), expected in cases.items():
            with self.subTest(name=name, mimetype=mimetype):
                self.assertEqual(looks_like_cv(name, mimetype, inline), expected)
