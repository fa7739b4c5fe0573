from odoo import Command, api, fields, models


class CarerixMailExportWizard(models.TransientModel):
    """*Export this person's mail* from candidates: their addresses and their
    contacts' addresses are the person's."""

    _inherit = "carerix.mail.export.wizard"

    # only for those who may see candidates (the action is on their list)
    candidate_ids = fields.Many2many(
        "hr.candidate",
        string="Candidates",
        groups="hr_recruitment.group_hr_recruitment_user",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if context.get("active_model") == "hr.candidate" and context.get("active_ids"):
            values["candidate_ids"] = [Command.set(context["active_ids"])]
        return values

    def _carerix_emails(self):
        emails = set(super()._carerix_emails())
        candidates = self.sudo().candidate_ids
        emails.update(filter(None, candidates.mapped("email_normalized")))
        emails.update(filter(None, candidates.partner_id.mapped("email_normalized")))
        return sorted(emails)

    @api.depends("candidate_ids")
    def _compute_email_list(self):
        return super()._compute_email_list()
