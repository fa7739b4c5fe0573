from odoo import api, models

# Applications that are still running (hr.applicant's "ongoing" status):
# not refused or archived, not hired.
OPEN_APPLICATION_DOMAIN = [("active", "=", True), ("date_closed", "=", False)]


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _archive_targets(self, mailbox, info, direction):
        """Also archive on the candidates (``hr.candidate``) and their open
        applications (``hr.applicant``).

        A candidate matches when his contact is one of the partners the mail
        is already archived on, or when his email is in From/To/Cc (the
        owner's own addresses excepted), so an applicant without a contact
        still gets his mail.
        """
        targets = super()._archive_targets(mailbox, info, direction)
        partners = targets.get("res.partner", self.env["res.partner"])
        emails = self._carerix_recruitment_emails(mailbox, info)
        if not partners and not emails:
            return targets
        Candidate = self.env["hr.candidate"].sudo()
        domain = [("partner_id", "in", partners.ids)]
        if emails:
            domain = ["|", ("email_normalized", "in", emails)] + domain
        candidates = Candidate.search(domain)
        if not candidates:
            return targets
        applicants = (
            self.env["hr.applicant"]
            .sudo()
            .search([("candidate_id", "in", candidates.ids)] + OPEN_APPLICATION_DOMAIN)
        )
        for model, records in (
            ("hr.candidate", candidates),
            ("hr.applicant", applicants),
        ):
            if records:
                # A reply to a message on an application is already there.
                targets[model] = targets.get(model, records.browse()) | records
        return targets

    @api.model
    def _carerix_recruitment_emails(self, mailbox, info):
        """Normalized emails of From/To/Cc, without the owner's own ones."""
        return sorted(self._carerix_counterpart_emails(mailbox, info))
