"""OCA's *forget partner* (privacy_partner_to_be_forgotten) erases the
partner's archived mail too, as *Erase this person* does."""

from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def anonymize_partner_data(self):
        """Erase the archived mail of this person first: his addresses are
        read before OCA's code replaces them. A company keeps its address
        (OCA only renames it), and so its archived mail."""
        self.ensure_one()
        if not self.is_company and self.email:
            self.env["carerix.mailbox.message"]._carerix_erase_person(
                [self.email], "forget"
            )
        return super().anonymize_partner_data()
