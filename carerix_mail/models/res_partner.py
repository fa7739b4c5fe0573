from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    carerix_kind = fields.Selection(
        [("candidate", "Candidate"), ("contact", "Contact")],
        "Candidate / Contact",
        help="Candidates look for a job; contacts hold vacancies at an employer.",
    )
    carerix_incoming_confidential = fields.Boolean(
        "Incoming email from this person confidential by default",
        help="Mail from this person is visible to its owner only.",
    )
    carerix_mail_count = fields.Integer("Emails", compute="_compute_carerix_mail_count")

    @api.depends_context("uid")
    def _compute_carerix_mail_count(self):
        counts = {}
        if self.ids:
            groups = self.env["mail.message"]._read_group(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "in", self.ids),
                    ("carerix_mailbox_message_id", "!=", False),
                ],
                ["res_id"],
                ["__count"],
            )
            counts = dict(groups)
        for partner in self:
            partner.carerix_mail_count = counts.get(partner.id, 0)

    def action_view_carerix_mail(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "carerix_mail.carerix_partner_mail_action"
        )
        action["domain"] = [
            ("model", "=", "res.partner"),
            ("res_id", "=", self.id),
            ("carerix_mailbox_message_id", "!=", False),
        ]
        return action
