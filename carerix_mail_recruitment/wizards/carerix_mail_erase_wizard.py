from odoo import api, models

from odoo.addons.carerix_mail.models.carerix_mailbox_message_erase import (
    normalized_addresses,
)


class CarerixMailEraseWizard(models.TransientModel):
    _inherit = "carerix.mail.erase.wizard"

    @api.model
    def _carerix_person_of(self, model, ids):
        """Opened on candidates: their contacts and the addresses of both."""
        if model != "hr.candidate":
            return super()._carerix_person_of(model, ids)
        # sudo: the Data protection group (checked) reads the addresses only
        candidates = self.env["hr.candidate"].sudo().browse(ids).exists()
        partners = candidates.partner_id
        return partners, normalized_addresses(
            candidates.mapped("email_from") + partners.mapped("email")
        )
