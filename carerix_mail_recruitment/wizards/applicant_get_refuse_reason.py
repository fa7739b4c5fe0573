from odoo import api, models

# The generic refusal of hr_recruitment, replaced by *Reject candidate*.
STOCK_REFUSE_TEMPLATE = "hr_recruitment.email_template_data_applicant_refuse"
REJECT_TEMPLATE = "carerix_mail_recruitment.mail_template_applicant_reject_candidate"


class ApplicantGetRefuseReason(models.TransientModel):
    _inherit = "applicant.get.refuse.reason"

    @api.depends("refuse_reason_id")
    def _compute_send_mail(self):
        """Propose *Reject candidate* when the refuse reason has no template
        of its own or only hr_recruitment's generic refusal. A reason with
        another template (e.g. *Refused by applicant*) keeps it."""
        super()._compute_send_mail()
        reject = self.env.ref(REJECT_TEMPLATE, raise_if_not_found=False)
        if not reject:
            return
        stock = self.env.ref(STOCK_REFUSE_TEMPLATE, raise_if_not_found=False)
        for wizard in self:
            if not wizard.refuse_reason_id:
                continue
            if not wizard.template_id or wizard.template_id == stock:
                wizard.template_id = reject
                wizard.send_mail = not wizard.applicant_without_email
