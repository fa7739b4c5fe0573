"""The standard messages: each renders for a full and a sparse partner, in
English and in Dutch, with the recruiter's signature and never "False"."""

from odoo.tests import TransactionCase, new_test_user, tagged

from .common import comment_composer

TEMPLATES = (
    "mail_template_application_received",
    "mail_template_reject_candidate",
    "mail_template_interview_invitation",
    "mail_template_interview_confirmation",
    "mail_template_propose_candidate",
    "mail_template_request_documents",
    "mail_template_placement_confirmation",
)


@tagged("post_install", "-at_install")
class TestTemplates(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nl_NL")
        cls.env["ir.module.module"]._load_module_terms(
            ["carerix_mail"], ["nl_NL"], overwrite=True
        )
        cls.recruiter = new_test_user(
            cls.env,
            login="jane.templates",
            name="Jane Recruiter",
            email="jane@agency.example",
            signature="<p>Jane Recruiter<br/>Senior recruiter, Acme Staffing</p>",
        )
        employer = cls.env["res.partner"].create(
            {"name": "Corp BV", "is_company": True}
        )
        cls.partners = {}
        for lang in ("en_US", "nl_NL"):
            cls.partners[(lang, "full")] = cls.env["res.partner"].create(
                {
                    "name": "Piet Jansen",
                    "email": "piet@example.com",
                    "phone": "+31 20 123 4567",
                    "function": "Developer",
                    "parent_id": employer.id,
                    "lang": lang,
                    "carerix_kind": "candidate",
                }
            )
            # No name, no email, no company: the sparsest partner Odoo allows.
            cls.partners[(lang, "sparse")] = cls.env["res.partner"].create(
                {"type": "other", "lang": lang}
            )

    def render(self, template, partner, field):
        return template.with_user(self.recruiter)._render_field(
            field, partner.ids, compute_lang=True
        )[partner.id]

    def test_every_template_renders_in_both_languages(self):
        for xmlid in TEMPLATES:
            template = self.env.ref(f"carerix_mail.{xmlid}")
            self.assertEqual(template.model, "res.partner")
            for (lang, kind), partner in self.partners.items():
                with self.subTest(template=xmlid, lang=lang, partner=kind):
                    subject = self.render(template, partner, "subject")
                    body = str(self.render(template, partner, "body_html"))
                    self.assertTrue(subject)
                    self.assertNotIn("False", subject + body)
                    self.assertNotIn("None", subject + body)
                    self.assertIn("Senior recruiter, Acme Staffing", body)
                    dutch = lang == "nl_NL"
                    self.assertEqual("groet" in body, dutch, body)
                    self.assertEqual("Kind regards" in body, not dutch, body)
                    if kind == "full":
                        self.assertIn("Piet Jansen,", body)
                    else:
                        self.assertNotIn("Piet", body)

    def test_greetings(self):
        propose = self.env.ref("carerix_mail.mail_template_propose_candidate")
        reject = self.env.ref("carerix_mail.mail_template_reject_candidate")
        nl_full = self.partners[("nl_NL", "full")]
        nl_sparse = self.partners[("nl_NL", "sparse")]
        en_sparse = self.partners[("en_US", "sparse")]
        self.assertIn(
            "Beste Piet Jansen,", str(self.render(reject, nl_full, "body_html"))
        )
        self.assertEqual(self.render(reject, nl_full, "subject"), "Je sollicitatie")
        # Clients are addressed formally in Dutch.
        self.assertIn(
            "Geachte Piet Jansen,", str(self.render(propose, nl_full, "body_html"))
        )
        self.assertIn(
            "Geachte heer, mevrouw,", str(self.render(propose, nl_sparse, "body_html"))
        )
        self.assertIn("Hello,", str(self.render(reject, en_sparse, "body_html")))

    def test_signature_fallback_without_signature(self):
        self.recruiter.signature = False
        template = self.env.ref("carerix_mail.mail_template_application_received")
        body = str(self.render(template, self.partners[("en_US", "full")], "body_html"))
        self.assertIn("Jane Recruiter", body)
        self.assertNotIn("False", body)

    def test_composer_uses_template_for_partner(self):
        partner = self.partners[("nl_NL", "full")]
        template = self.env.ref("carerix_mail.mail_template_interview_invitation")
        action = self.env.ref(
            "carerix_mail.res_partner_action_compose_standard_message"
        )
        self.assertEqual(action.res_model, "mail.compose.message")
        composer = comment_composer(
            self.recruiter, partner, {"template_id": template.id}
        )
        self.assertEqual(composer.subject, "Uitnodiging voor een sollicitatiegesprek")
        self.assertIn("Beste Piet Jansen,", str(composer.body))
        self.assertIn(partner, composer.partner_ids)
