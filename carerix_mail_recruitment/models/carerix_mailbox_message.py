from odoo import api, models

# Applications that are still running (hr.applicant's "ongoing" status):
# not refused or archived, not hired.
OPEN_APPLICATION_DOMAIN = [("active", "=", True), ("date_closed", "=", False)]
# Where the batch lookup keeps what this module reads (ArchiveLookup.extra).
LOOKUP_KEY = "carerix_mail_recruitment"


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _carerix_archive_lookup(self, mailbox, infos, direction):
        """Also read, once per batch, the candidates of the batch's addresses
        and partners, and their open applications."""
        lookup = super()._carerix_archive_lookup(mailbox, infos, direction)
        emails = set()
        for info in infos:
            emails.update(self._carerix_recruitment_emails(mailbox, info))
        partner_ids = {p for ids in lookup.partners.values() for p in ids}
        partner_ids.update(lookup.employers.values())
        partner_ids.update(
            record_id
            for parents in lookup.parents.values()
            for model, record_id in parents
            if model == "res.partner"
        )
        candidates, applicants = self._carerix_search_candidates(
            self.env["res.partner"].browse(partner_ids), emails
        )
        lookup.extra[LOOKUP_KEY] = {
            "emails": emails,
            "partner_ids": partner_ids,
            "candidates": candidates,
            "applicants": applicants,
        }
        return lookup

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
        emails = set(self._carerix_recruitment_emails(mailbox, info))
        if not partners and not emails:
            return targets
        batch = self._carerix_lookup(mailbox, info, direction).extra.get(LOOKUP_KEY)
        if (
            batch
            and emails <= batch["emails"]
            and set(partners.ids) <= batch["partner_ids"]
        ):
            # what the batch read, narrowed to this mail, in the same order
            candidates = batch["candidates"].filtered(
                lambda c: c.email_normalized in emails or c.partner_id in partners
            )
            applicants = batch["applicants"].filtered(
                lambda a: a.candidate_id in candidates
            )
        else:  # partners an extension added after the batch was read
            candidates, applicants = self._carerix_search_candidates(partners, emails)
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
