"""*Create candidate* from an unmatched mail with a PDF CV, in a real browser
(Chromium), then the CV found by its content in Recruitment's searches."""

from odoo.tests import HttpCase, tagged

from odoo.addons.carerix_mail.tests.common import (
    assert_screenshots,
    build_tour_assets,
    make_mail,
    screenshot_on_request,
    unique,
)

from ..tools.cv_files import PDF_MIMETYPE, make_pdf, make_png
from .common import make_recruiter

# The names the tour looks for.
SUBJECT = "TOURCANDIDATE Open application"
NAME = "Piet Pieterse"
CV = "cv-piet.pdf"
JOB = "TOURJOB Airship pilot"
WORD = "Luchtschipperij"
SCREENSHOTS = {
    "candidate_mail",
    "candidate_wizard",
    "candidate_created",
    "candidate_applications_search",
    "candidate_candidates_search",
}


@tagged("post_install", "-at_install")
class TestCandidateTour(HttpCase):
    browser_size = "1920x1080"

    def setUp(self):
        super().setUp()
        self.login = unique("tourrec")
        self.owner = make_recruiter(self.env, self.login, name="Rita Recruiter")
        self.job = self.env["hr.job"].create({"name": JOB})
        self.sender = f"{unique('piet')}@mail.example"
        box = self.owner._carerix_mailbox(create=True)
        self.entry = self.env["carerix.mailbox.message"]._archive_raw(
            box,
            make_mail(
                f"{NAME} <{self.sender}>",
                self.owner.email,
                SUBJECT,
                "Hello, my CV is attached.",
                attachments=[
                    (CV, make_pdf([NAME, f"Experience: {WORD}"]), PDF_MIMETYPE),
                    ("me.png", make_png(), "image/png"),
                ],
            ),
            "incoming",
        )
        self.assertEqual(self.entry.state, "unmatched")

    def test_create_candidate_then_find_the_cv(self):
        build_tour_assets(self.env)
        futures = {}
        with screenshot_on_request(futures):
            self.start_tour(
                "/odoo/action-carerix_mail.carerix_mailbox_message_action",
                "carerix_mail_recruitment_create_candidate",
                login=self.login,
                timeout=180,
            )
        assert_screenshots(self, futures, SCREENSHOTS)
        self.env.invalidate_all()
        candidate = self.env["hr.candidate"].search(
            [("email_normalized", "=", self.sender)]
        )
        self.assertEqual(candidate.partner_name, NAME)
        self.assertEqual(candidate.applicant_ids.job_id, self.job)
        self.assertEqual(self.entry.state, "matched")
        for record in (candidate, candidate.applicant_ids):
            self.assertEqual(record.attachment_ids.mapped("name"), [CV])
            self.assertIn(WORD, record.attachment_ids.index_content)
