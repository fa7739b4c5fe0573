"""Refusing an application proposes the *Reject candidate* message."""

from odoo.tests import TransactionCase, tagged

from .common import make_applicant, make_recruiter

REJECT = "carerix_mail_recruitment.mail_template_applicant_reject_candidate"


@tagged("post_install", "-at_install")
class TestRefuse(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recruiter = make_recruiter(cls.env, "refuse_recruiter")
        cls.applicant = make_applicant(
            cls.env,
            "Piet Jansen",
            "piet.refuse@mail.example",
            job=cls.env["hr.job"].create({"name": "Welder"}),
        )
        cls.reject = cls.env.ref(REJECT)

    def wizard(self, reason):
        action = self.applicant.with_user(self.recruiter).archive_applicant()
        return (
            self.env[action["res_model"]]
            .with_user(self.recruiter)
            .with_context(**action["context"])
            .create({"refuse_reason_id": reason.id})
        )

    def test_generic_refusal_becomes_reject_candidate(self):
        reason = self.env.ref("hr_recruitment.refuse_reason_1")
        self.assertEqual(
            reason.template_id,
            self.env.ref("hr_recruitment.email_template_data_applicant_refuse"),
        )
        wizard = self.wizard(reason)
        self.assertEqual(wizard.template_id, self.reject)
        self.assertTrue(wizard.send_mail)

    def test_reason_without_template_proposes_reject_candidate(self):
        reason = self.env["hr.applicant.refuse.reason"].create({"name": "Too late"})
        wizard = self.wizard(reason)
        self.assertEqual(wizard.template_id, self.reject)
        self.assertTrue(wizard.send_mail)

    def test_reason_with_own_template_keeps_it(self):
        reason = self.env.ref("hr_recruitment.refuse_reason_2")
        wizard = self.wizard(reason)
        self.assertEqual(
            wizard.template_id,
            self.env.ref("hr_recruitment.email_template_data_applicant_not_interested"),
        )

    def test_refusing_sends_reject_candidate(self):
        wizard = self.wizard(self.env.ref("hr_recruitment.refuse_reason_1"))
        wizard.action_refuse_reason_apply()
        self.assertFalse(self.applicant.active)
        sent = self.applicant.message_ids.filtered(
            lambda m: m.subject == "Your application"
        )
        self.assertEqual(len(sent), 1)
        self.assertIn("Dear Piet Jansen,", str(sent.body))
        self.assertIn(self.applicant.partner_id, sent.partner_ids)
