from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

DRY_RUN_VALID = timedelta(days=1)
"""How long a dry run counts as seen when retention is switched on."""


class ResCompany(models.Model):
    _inherit = "res.company"

    carerix_retention_enabled = fields.Boolean(
        "Delete archived mail with inactive candidates",
        help="Every day, delete the archived mail with candidates who have had "
        "no activity and no open application for the given number of months.",
    )
    carerix_retention_months = fields.Integer("Inactive for (months)", default=24)
    carerix_retention_checked_months = fields.Integer(
        "Dry run for (months)", readonly=True
    )
    carerix_retention_checked_date = fields.Datetime("Dry run on", readonly=True)
    carerix_retention_checked_candidates = fields.Integer(
        "Candidates concerned", readonly=True
    )
    carerix_retention_checked_mails = fields.Integer("Mails erased", readonly=True)
    carerix_retention_checked_partial = fields.Integer(
        "Mails kept for others, without the candidate's copies", readonly=True
    )

    @api.constrains("carerix_retention_enabled", "carerix_retention_months")
    def _check_carerix_retention(self):
        """Retention is switched on (or its months changed) only after a dry
        run for those months, shown in the last day."""
        now = fields.Datetime.now()
        for company in self:
            if (
                company.carerix_retention_months < 1
                and company.carerix_retention_enabled
            ):
                raise ValidationError(
                    _("Retention needs a number of months of at least 1.")
                )
            if not company.carerix_retention_enabled:
                continue
            checked = company.carerix_retention_checked_date
            if (
                company.carerix_retention_checked_months
                != company.carerix_retention_months
                or not checked
                or now - checked > DRY_RUN_VALID
            ):
                raise ValidationError(
                    _(
                        "Before switching retention on for %(months)s months, "
                        "click “Compute what would be deleted” and check the "
                        "numbers.",
                        months=company.carerix_retention_months,
                    )
                )

    def _carerix_retention_dry_run(self, months):
        """Compute what retention would delete now for ``months`` and keep
        the figures (and that they were seen for ``months``) on the company.
        Returns the counts."""
        self.ensure_one()
        if months < 1:
            raise ValidationError(
                _("Retention needs a number of months of at least 1.")
            )
        plan = self.env["hr.candidate"]._carerix_retention_plan(self, months)
        counts = plan.counts()
        self.sudo().write(
            {
                "carerix_retention_checked_months": months,
                "carerix_retention_checked_date": fields.Datetime.now(),
                "carerix_retention_checked_candidates": counts["candidates"],
                "carerix_retention_checked_mails": counts["entries"],
                "carerix_retention_checked_partial": counts["partial"],
            }
        )
        return counts
