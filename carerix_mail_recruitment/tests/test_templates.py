"""The standard messages of carerix_mail on applications: each renders for a
full and a sparse applicant, in English and in Dutch, never with "False"."""

from odoo.tests import TransactionCase, tagged

from .common import make_applicant, make_recruiter

TEMPLATES = (
    "mail_template_applicant_application_received",
    "mail_template_applicant_reject_candidate",
    "mail_template_applicant_interview_invitation",
    "mail_template_applicant_interview_confirmation",
    "mail_template_applicant_request_documents",
    "mail_template_applicant_placement_confirmation",
)


@tagged("post_install", "-at_install")
class TestApplicantTemplates(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nl_NL")
        cls.env["ir.module.module"]._load_module_terms(
            ["carerix_mail", "carerix_mail_recruitment"], ["nl_NL"], overwrite=True
        )
        cls.recruiter = make_recruiter(
            cls.env,
            "jane.bridge",
            name="Jane Recruiter",
            signature="<p>Jane Recruiter<br/>Senior recruiter, Acme Staffing</p>",
        )
        job = cls.env["hr.job"].create({"name": "Welder"})
        cls.applicants = {}
        for lang in ("en_US", "nl_NL"):
            full = make_applicant(
                cls.env,
                "Piet Jansen",
                f"piet.{lang}@example.com",
                job=job,
                partner_phone="+31 20 123 4567",
            )
            full.partner_id.lang = lang
            cls.applicants[(lang, "full")] = full
        # No name, no email, no contact, no job: English (no language known).
        cls.applicants[("en_US", "sparse")] = cls.env["hr.applicant"].create(
            {"candidate_id": cls.env["hr.candidate"].create({}).id}
        )
        # A contact without name or email that only tells the language.
        contact = cls.env["res.partner"].create({"type": "other", "lang": "nl_NL"})
        cls.applicants[("nl_NL", "sparse")] = cls.env["hr.applicant"].create(
            {
                "candidate_id": cls.env["hr.candidate"]
                .create({"partner_id": contact.id})
                .id
            }
        )

    def render(self, template, applicant, field):
        return template.with_user(self.recruiter)._render_field(
            field, applicant.ids, compute_lang=True
        )[applicant.id]

    def test_every_template_renders_in_both_languages(self):
        for xmlid in TEMPLATES:
            template = self.env.ref(f"carerix_mail_recruitment.{xmlid}")
            self.assertEqual(template.model, "hr.applicant")
            for (lang, kind), applicant in self.applicants.items():
                with self.subTest(template=xmlid, lang=lang, applicant=kind):
                    subject = self.render(template, applicant, "subject")
                    body = str(self.render(template, applicant, "body_html"))
                    self.assertTrue(subject)
                    self.assertNotIn("False", subject + body)
                    self.assertNotIn("None", subject + body)
                    self.assertIn("Senior recruiter, Acme Staffing", body)
                    dutch = lang == "nl_NL"
                    self.assertEqual("groet" in body, dutch, body)
                    self.assertEqual("Kind regards" in body, not dutch, body)
                    if kind == "full":
                        greeting = "Beste" if dutch else "Dear"
                        self.assertIn(f"{greeting} Piet Jansen,", body)
                    else:
                        self.assertIn("Hallo," if dutch else "Hello,", body)

    def test_recipients(self):
        template = self.env.ref(
            "carerix_mail_recruitment.mail_template_applicant_reject_candidate"
        )
        full = self.applicants[("en_US", "full")]
        self.assertEqual(
            self.render(template, full, "partner_to"), str(full.partner_id.id)
        )
        self.assertEqual(self.render(template, full, "email_to"), "")
        sparse = self.applicants[("en_US", "sparse")]
        self.assertEqual(self.render(template, sparse, "partner_to"), "")
        self.assertEqual(self.render(template, sparse, "email_to"), "")

    def test_standard_message_composer_on_applicant(self):
        applicant = self.applicants[("nl_NL", "full")]
        action = self.env.ref(
            "carerix_mail_recruitment.hr_applicant_action_compose_standard_message"
        )
        self.assertEqual(action.res_model, "mail.compose.message")
        template = self.env.ref(
            "carerix_mail_recruitment.mail_template_applicant_interview_invitation"
        )
        composer = (
            self.env["mail.compose.message"]
            .with_user(self.recruiter)
            .with_context(
                default_model="hr.applicant",
                default_res_ids=applicant.ids,
                default_composition_mode="comment",
            )
            .create({"template_id": template.id})
        )
        self.assertEqual(composer.subject, "Uitnodiging voor een sollicitatiegesprek")
        self.assertIn("Beste Piet Jansen,", str(composer.body))
        self.assertIn(applicant.partner_id, composer.partner_ids)
        # The chatter's template picker offers the standard messages.
        offered = self.env["mail.template"].search([("model", "=", "hr.applicant")])
        for xmlid in TEMPLATES:
            self.assertIn(self.env.ref(f"carerix_mail_recruitment.{xmlid}"), offered)
