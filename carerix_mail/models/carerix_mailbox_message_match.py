"""What a mail is archived on and how private it is: the database lookup of
an archive batch and the hooks that decide per mail (extends
carerix.mailbox.message; the pipeline that calls them is in
``carerix_mailbox_message_archive.py``).

Every method receives the :class:`~.carerix_mailbox_message_archive.ArchiveBatch`
as an argument. To archive on your own models, read your records for the whole
batch in :meth:`CarerixMailboxMessage._carerix_archive_lookup` (keep them in
``batch.extra``) and pick them per mail in
:meth:`CarerixMailboxMessage._archive_targets`.
"""

from collections import defaultdict

from odoo import api, models

from .carerix_mailbox_message_archive import _references
from .mail_message import subject_is_confidential


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    # ------------------------------------------------------------------
    # The database lookup of a batch
    # ------------------------------------------------------------------
    @api.model
    def _carerix_archive_lookup(self, batch, infos):
        """Read once into ``batch`` what archiving the mails ``infos`` needs:
        the owner's own addresses, the partners of the mails' addresses (with
        their employers), the records the mails reply to and which of those
        conversations are private. Extension point: read your own records for
        the whole batch here (keep them in ``batch.extra``)."""
        batch.own_emails = self._carerix_own_emails(batch)
        emails, senders, references = set(), set(), set()
        for info in infos:
            emails |= self._carerix_counterpart_emails(batch, info)
            senders.update(a.email for a in info.from_ if a.email)
            references.update(_references(info))
        if emails:
            self._carerix_lookup_partners(batch, emails)
        if senders:
            self._carerix_lookup_senders(batch, senders)
        if references:
            self._carerix_lookup_parents(batch, references)
            self._carerix_lookup_private(batch, references)

    @api.model
    def _carerix_lookup_partners(self, batch, emails):
        """The partners without a user of ``emails``, and their employers."""
        partners = (
            self.env["res.partner"]
            .sudo()
            .search_fetch(
                [("email_normalized", "in", list(emails)), ("user_ids", "=", False)],
                ["email_normalized", "commercial_partner_id"],
            )
        )
        companies = set(partners.commercial_partner_id.filtered("is_company").ids)
        for rank, partner in enumerate(partners):
            batch.partners.setdefault(partner.email_normalized, []).append(partner.id)
            batch.partner_rank[partner.id] = rank
            if partner.commercial_partner_id.id in companies:
                batch.employers[partner.id] = partner.commercial_partner_id.id

    @api.model
    def _carerix_lookup_senders(self, batch, senders):
        """The authors of ``senders`` and which of them are confidential."""
        # In res.partner's order, so the author is the one a search picks.
        for partner in (
            self.env["res.partner"]
            .sudo()
            .search_fetch(
                [("email_normalized", "in", list(senders))],
                ["email_normalized", "carerix_incoming_confidential"],
            )
        ):
            batch.authors.setdefault(partner.email_normalized, partner.id)
            if partner.carerix_incoming_confidential:
                batch.confidential_senders.add(partner.email_normalized)

    @api.model
    def _carerix_lookup_parents(self, batch, references):
        """The existing records the messages ``references`` are archived on."""
        parents = (
            self.env["mail.message"]
            .sudo()
            .search_fetch(
                [
                    ("message_id", "in", list(references)),
                    ("model", "!=", False),
                    ("model", "!=", self._name),
                    ("res_id", "!=", False),
                ],
                ["message_id", "model", "res_id"],
            )
        )
        by_model = defaultdict(set)
        for parent in parents:
            if parent.model in self.env:
                by_model[parent.model].add(parent.res_id)
        existing = {
            (model, record_id)
            for model, ids in by_model.items()
            for record_id in self.env[model].sudo().browse(ids).exists().ids
        }
        for parent in parents:
            if (parent.model, parent.res_id) in existing:
                batch.parents[parent.message_id].add((parent.model, parent.res_id))

    @api.model
    def _carerix_lookup_private(self, batch, references):
        """Which of the messages ``references`` are private, any owner."""
        refs = list(references)
        batch.private_refs.update(
            self.env["mail.message"]._carerix_private_for(refs).mapped("message_id")
        )
        batch.private_refs.update(
            f"<{message_id}>"
            for message_id in self.sudo()
            .search_fetch(
                [
                    ("message_id_header", "in", [ref[1:-1] for ref in refs]),
                    ("confidential", "=", True),
                ],
                ["message_id_header"],
            )
            .mapped("message_id_header")
        )

    @api.model
    def _carerix_lookup_add(self, batch, info, targets, confidential):
        """Record a mail of the batch in ``batch``, for the mails after it."""
        if not info.message_id:
            return
        ref = f"<{info.message_id}>"
        for model, records in targets.items():
            batch.parents[ref].update((model, record_id) for record_id in records.ids)
        if confidential:
            batch.private_refs.add(ref)

    # ------------------------------------------------------------------
    # Hooks
    # ------------------------------------------------------------------
    @api.model
    def _carerix_own_emails(self, batch):
        """The owner's own addresses (never a partner to archive on).
        Extension point."""
        owner, mailbox = batch.owner, batch.mailbox
        return {
            email
            for email in (
                owner.email_normalized,
                (mailbox.from_address or "").strip().lower(),
                (mailbox.login or "").strip().lower(),
                owner.partner_id.email_normalized,
                (owner.sudo().carerix_system_address or "").strip().lower(),
            )
            if email
        }

    @api.model
    def _carerix_counterpart_emails(self, batch, info):
        """Normalized emails of From/To/Cc, without the owner's own ones."""
        return {
            address.email
            for address in info.from_ + info.to + info.cc
            if address.email and address.email not in batch.own_emails
        }

    @api.model
    def _archive_targets(self, batch, info):
        """Records to archive ``info`` on, as ``{model: recordset}``, from
        what ``batch`` read. Extension point: add your own records (read them
        for the whole batch in :meth:`_carerix_archive_lookup`).

        Partners whose normalized email is in From/To/Cc (not the owner's own
        addresses, not internal users), the employer (commercial partner) of a
        matched contact, and the records the mail replies to.
        """
        targets = {}
        partner_ids = sorted(
            {
                partner_id
                for email in self._carerix_counterpart_emails(batch, info)
                for partner_id in batch.partners.get(email, ())
            },
            key=batch.partner_rank.get,
        )
        # the employers after the contacts, as ``partners | employers`` does
        partner_ids += [batch.employers[p] for p in partner_ids if p in batch.employers]
        if partner_ids:
            targets["res.partner"] = (
                self.env["res.partner"].sudo().browse(dict.fromkeys(partner_ids))
            )
        for ref in _references(info):
            for model, record_id in batch.parents.get(ref, ()):
                record = self.env[model].sudo().browse(record_id)
                targets[model] = targets.get(model, record.browse()) | record
        return targets

    @api.model
    def _carerix_confidential_for(self, batch, info, targets):
        """Whether a mail is private to the owner of ``batch.mailbox``, by the
        rules of confidential mail (any one suffices):

        * the subject contains "confidential" or "vertrouwelijk"
          (case-insensitive, also behind Re: / Fwd: / AW: / Antw: prefixes),
          as for mail sent from Odoo;
        * it replies (In-Reply-To / References) to a private message of any
          owner, whatever mailbox it arrives through: a conversation stays
          private;
        * incoming: the sender is a partner marked *Incoming email from this
          person confidential by default*;
        * the owner has *Incoming* (fetched mail) or *Outgoing* (Sent folder)
          *email confidential by default*.

        ``targets`` (``{model: records}``) is what the mail is archived on.
        Not asked when the caller decided already (``batch.confidential``).
        """
        if subject_is_confidential(info.subject):
            return True
        if any(ref in batch.private_refs for ref in _references(info)):
            return True
        if batch.direction == "incoming":
            if any(a.email in batch.confidential_senders for a in info.from_):
                return True
            return bool(batch.mailbox.incoming_confidential)
        return bool(batch.mailbox.outgoing_confidential)
