"""*Create candidate* on an unmatched mail of *My mail*: a candidate (and
optionally his application) from the sender, the CV of the mail as his
document, and the whole conversation archived on him."""

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..models.carerix_cv import looks_like_cv


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    def _carerix_check_entry_owner(self):
        """Only the owner of a synced mail acts on it."""
        for entry in self:
            if entry.sudo().owner_id != self.env.user:
                raise AccessError(
                    _(
                        "Only the owner of this mail (%(owner)s) can do this.",
                        owner=entry.sudo().owner_id.name,
                    )
                )

    def action_carerix_create_candidate(self):
        """Open *Create candidate* on this unmatched incoming mail."""
        self.ensure_one()
        self._carerix_check_entry_owner()
        if self.state != "unmatched" or self.direction != "incoming":
            raise UserError(_("Only an incoming mail without a match can be used."))
        name, email = self._sender()
        attachments = self._carerix_mail_attachments()
        wizard = self.env["carerix.candidate.from.mail"].create(
            {
                "entry_id": self.id,
                "partner_name": name or email,
                "email_from": email,
                "available_attachment_ids": [Command.set(attachments.ids)],
                "attachment_ids": [
                    Command.set(
                        attachments.filtered(
                            lambda a: looks_like_cv(a.name, a.mimetype)
                        ).ids
                    )
                ],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Create candidate"),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def _carerix_mail_attachments(self):
        """The files of this mail that may become the candidate's documents:
        none of a private mail (a document is read by every recruiter)."""
        if self.confidential:
            return self.env["ir.attachment"]
        source = self.copy_ids.filtered(lambda m: m.model == self._name)[:1]
        return source.attachment_ids.filtered(lambda a: not a.res_field)

    def _carerix_thread_entries(self):
        """This mail and every mail of its owner in its conversation (linked by
        Message-ID through In-Reply-To / References, in either direction,
        e.g. his reply in Sent), but those stored raw or excluded (sudo)."""
        entries = self.sudo()
        conversation = entries.copy_ids._carerix_conversation()
        thread = conversation.carerix_mailbox_message_id.filtered(
            lambda e: e.owner_id in entries.owner_id
        )
        return (entries | thread).filtered(lambda e: e.state not in ("raw", "excluded"))

    def _carerix_archive_on_records(self, targets):
        """Archive these mails on ``targets`` (``{model: records}``): a copy of
        each (its privacy and owner kept) on every record that has none yet;
        the entries become *Archived*."""
        Message = self.env["mail.message"].sudo()
        for entry in self.sudo():
            source = entry.copy_ids.filtered(lambda m: m.model == self._name)[:1]
            if not source:
                continue
            have = {(m.model, m.res_id) for m in entry.copy_ids}
            vals = source.copy_data(
                {
                    "message_id": source.message_id,
                    "attachment_ids": [Command.set(source.attachment_ids.ids)],
                }
            )[0]
            Message.create(
                [
                    dict(
                        vals,
                        model=model,
                        res_id=record.id,
                        record_name=record.display_name,
                    )
                    for model, records in targets.items()
                    for record in records
                    if (model, record.id) not in have
                ]
            )
        partners = targets.get("res.partner", self.env["res.partner"])
        self.sudo().write(
            {
                "partner_ids": [Command.link(p.id) for p in partners],
                "state": "matched",
            }
        )


class CarerixCandidateFromMail(models.TransientModel):
    _name = "carerix.candidate.from.mail"
    _description = "Create a candidate from a mail"

    entry_id = fields.Many2one(
        "carerix.mailbox.message", required=True, readonly=True, ondelete="cascade"
    )
    confidential = fields.Boolean(related="entry_id.confidential")
    partner_name = fields.Char("Name", required=True)
    email_from = fields.Char("Email", required=True)
    job_id = fields.Many2one(
        "hr.job",
        "Application for",
        help="Also create an application of the candidate for this job position.",
    )
    available_attachment_ids = fields.Many2many(
        "ir.attachment", "carerix_candidate_from_mail_available_rel", readonly=True
    )
    attachment_ids = fields.Many2many(
        "ir.attachment",
        "carerix_candidate_from_mail_cv_rel",
        string="CV",
        domain="[('id', 'in', available_attachment_ids)]",
        help="Files of the mail that become documents of the candidate and of "
        "the application.",
    )

    @api.model
    def _carerix_targets(self, candidate, applicant):
        """Where the conversation is archived, as the normal matching would:
        the candidate's contact, the candidate, his application."""
        return {
            "res.partner": candidate.partner_id,
            "hr.candidate": candidate,
            "hr.applicant": applicant,
        }

    def action_confirm(self):
        """Create the candidate (and application), attach the CV, archive the
        mail's conversation on them, and open the candidate."""
        self.ensure_one()
        entry = self.entry_id
        entry._carerix_check_entry_owner()
        if entry.state != "unmatched":
            raise UserError(_("This mail has been archived in the meantime."))
        candidate = self.env["hr.candidate"].create(
            {
                "partner_name": self.partner_name,
                "email_from": self.email_from,
                "user_id": self.env.uid,
            }
        )
        chosen = self.attachment_ids & entry._carerix_mail_attachments()
        if chosen:
            # before the application: Odoo copies the candidate's documents
            candidate._carerix_add_cv_documents([(candidate, chosen)])
        applicant = self.env["hr.applicant"]
        if self.job_id:
            applicant = applicant.create(
                {"candidate_id": candidate.id, "job_id": self.job_id.id}
            )
        entry._carerix_thread_entries()._carerix_archive_on_records(
            self._carerix_targets(candidate, applicant)
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "hr.candidate",
            "res_id": candidate.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
