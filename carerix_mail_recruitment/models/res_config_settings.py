from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # Plain fields, written to the company on Save (set_values): the dry run
    # button may be used with new months before anything is saved.
    carerix_retention_enabled = fields.Boolean(
        "Delete archived mail with inactive candidates"
    )
    carerix_retention_months = fields.Integer("Inactive for (months)")
    carerix_retention_checked_months = fields.Integer(
        related="company_id.carerix_retention_checked_months"
    )
    carerix_retention_checked_date = fields.Datetime(
        related="company_id.carerix_retention_checked_date"
    )
    carerix_retention_checked_candidates = fields.Integer(
        related="company_id.carerix_retention_checked_candidates"
    )
    carerix_retention_checked_mails = fields.Integer(
        related="company_id.carerix_retention_checked_mails"
    )
    carerix_retention_checked_partial = fields.Integer(
        related="company_id.carerix_retention_checked_partial"
    )

    @api.model
    def get_values(self):
        values = super().get_values()
        company = self.env.company
        values.update(
            carerix_retention_enabled=company.carerix_retention_enabled,
            carerix_retention_months=company.carerix_retention_months,
        )
        return values

    def set_values(self):
        result = super().set_values()
        company = self.company_id
        if (
            company.carerix_retention_enabled != self.carerix_retention_enabled
            or company.carerix_retention_months != self.carerix_retention_months
        ):
            company.write(
                {
                    "carerix_retention_enabled": self.carerix_retention_enabled,
                    "carerix_retention_months": self.carerix_retention_months,
                }
            )
        return result

    def action_carerix_retention_dry_run(self):
        """*Compute what would be deleted* for the months in the form."""
        self.ensure_one()
        self.company_id._carerix_retention_dry_run(self.carerix_retention_months)
        # nothing to open: the form reloads and shows the new figures
        return False
