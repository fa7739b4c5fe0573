from odoo import api, models

# Applications that are still running (hr.applicant's "ongoing" status):
# not refused or archived, not hired.
OPEN_APPLICATION_DOMAIN = [("active", "=", True), ("date_closed", "=", False)]
# Where the archive batch keeps what this module reads (ArchiveBatch.extra).
BATCH_KEY = "carerix_mail_recruitment"


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _carerix_archive_lookup(self, batch, infos):
        """Also read, once per batch, the candidates of the batch's addresses
        and partners, and their open applications."""
        result = super()._carerix_archive_lookup(batch, infos)
        emails = set()
        for info in infos:
            emails |= self._carerix_counterpart_emails(batch, info)
        partner_ids = {p for ids in batch.partners.values() for p in ids}
        partner_ids.update(batch.employers.values())
        partner_ids.update(
            record_id
            for parents in batch.parents.values()
            for model, record_id in parents
            if model == "res.partner"
        )
        candidates, applicants = self._carerix_search_candidates(
            self.env["res.partner"].browse(partner_ids), emails
        )
        batch.extra[BATCH_KEY] = {"candidates": candidates, "applicants": applicants}
        return result

    @api.model
    def _carerix_search_candidates(self, partners, emails):
        """The candidates whose contact is in ``partners`` or whose email is in
        ``emails``, and their open applications (sudo)."""
        Candidate = self.env["hr.candidate"].sudo()
        if not partners and not emails:
            return Candidate, self.env["hr.applicant"].sudo()
        domain = [("partner_id", "in", partners.ids)]
        if emails:
            domain = ["|", ("email_normalized", "in", list(emails))] + domain
        candidates = Candidate.search_fetch(domain, ["email_normalized", "partner_id"])
        applicants = (
            self.env["hr.applicant"]
            .sudo()
            .search_fetch(
                [("candidate_id", "in", candidates.ids)] + OPEN_APPLICATION_DOMAIN,
                ["candidate_id"],
            )
        )
        return candidates, applicants

    @api.model
    def _archive_targets(self, batch, info):
        """Also archive on the candidates (``hr.candidate``) and their open
        applications (``hr.applicant``), from what the batch read.

        A candidate matches when his contact is one of the partners the mail
        is already archived on, or when his email is in From/To/Cc (the
        owner's own addresses excepted), so an applicant without a contact
        still gets his mail.
        """
        targets = super()._archive_targets(batch, info)
        partners = targets.get("res.partner", self.env["res.partner"])
        emails = self._carerix_counterpart_emails(batch, info)
        if not partners and not emails:
            return targets
        read = batch.extra[BATCH_KEY]
        # what the batch read, narrowed to this mail, in the same order
        candidates = read["candidates"].filtered(
            lambda c: c.email_normalized in emails or c.partner_id in partners
        )
        applicants = read["applicants"].filtered(lambda a: a.candidate_id in candidates)
        for model, records in (
            ("hr.candidate", candidates),
            ("hr.applicant", applicants),
        ):
            if records:
                # A reply to a message on an application is already there.
                targets[model] = targets.get(model, records.browse()) | records
        return targets
