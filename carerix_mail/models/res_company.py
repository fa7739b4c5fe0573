from odoo import models


class ResCompany(models.Model):
    _inherit = "res.company"

    def write(self, vals):
        result = super().write(vals)
        if vals.get("alias_domain_id"):
            # Users of these companies get their personal system address now.
            self.env["res.users"].sudo().with_context(active_test=False).search(
                [("company_id", "in", self.ids), ("share", "=", False)]
            )._carerix_ensure_system_address()
        return result
