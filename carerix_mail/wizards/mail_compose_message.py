from odoo import api, fields, models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    carerix_confidential_reason = fields.Selection(
        selection=lambda self: self.env["mail.message"]._carerix_outgoing_reasons(),
        string="Why confidential",
        compute="_compute_carerix_confidential_reason",
    )
    carerix_confidential = fields.Boolean(
        "Confidential",
        compute="_compute_carerix_confidential",
        store=True,
        readonly=False,
        help="Only you can see this mail in Odoo: it is not shown to other "
        "users, and followers are not notified.",
    )
    carerix_show_confidential = fields.Boolean(
        "Can be confidential", compute="_compute_carerix_show_confidential"
    )

    @api.model_create_multi
    def create(self, vals_list):
        """A composer answers only a message its user may read: the subject,
        recipients and conversation of another user's confidential mail are
        not his to reuse."""
        if not self.env.su:
            parent_ids = {
                vals["parent_id"] for vals in vals_list if vals.get("parent_id")
            }
            self.env["mail.message"].browse(parent_ids).check_access("read")
        return super().create(vals_list)

    @api.depends_context("uid")
    @api.depends("composition_mode", "subtype_is_log", "model_is_thread")
    def _compute_carerix_show_confidential(self):
        """The box is for users of their carerix mailbox sending mail on
        records (not a note)."""
        recruiter = self.env.user._carerix_sends_as_recruiter()
        for composer in self:
            composer.carerix_show_confidential = bool(
                recruiter
                and composer.composition_mode in ("comment", "mass_mail")
                and composer.model_is_thread
                and not composer.subtype_is_log
            )

    @api.depends_context("uid")
    @api.depends(
        "carerix_show_confidential",
        "composition_mode",
        "model",
        "parent_id",
        "res_ids",
        "subject",
    )
    def _compute_carerix_confidential_reason(self):
        """The rule of confidential mail that applies to this mail, if any: a
        reply in a confidential conversation, the person, the subject, the
        user's *Outgoing email confidential by default*."""
        Message = self.env["mail.message"]
        for composer in self:
            reason = False
            if composer.carerix_show_confidential:
                record = composer._carerix_single_record()
                answered = (
                    record._carerix_answered_message(composer.parent_id.id)
                    if record
                    else Message.sudo()
                )
                reason = Message._carerix_outgoing_reason(
                    self.env.user, composer.subject, answered, record
                )
            composer.carerix_confidential_reason = reason

    @api.depends("carerix_confidential_reason")
    def _compute_carerix_confidential(self):
        """Ticked when a rule applies; unticking it is the user's choice."""
        for composer in self:
            composer.carerix_confidential = bool(composer.carerix_confidential_reason)

    def _carerix_single_record(self):
        """The record a single-record comment composer posts on, or None."""
        self.ensure_one()
        if self.composition_mode != "comment" or self.composition_batch:
            return None
        res_ids = self._evaluate_res_ids()
        if len(res_ids) != 1:
            return None
        return self.env[self.model].browse(res_ids)

    @api.depends(
        "composition_mode",
        "email_from",
        "model",
        "res_domain",
        "res_ids",
        "template_id",
    )
    def _compute_authorship(self):
        """The user's own From address replaces Odoo's default (his login
        email); a From set by a template is kept."""
        result = super()._compute_authorship()
        user = self.env.user
        if not user._carerix_sends_as_recruiter():
            return result
        for composer in self:
            if (
                composer.email_from == user.email_formatted
                and composer.author_id == user.partner_id
            ):
                composer.email_from = (
                    user._carerix_email_from_formatted() or composer.email_from
                )
        return result

    def _action_send_mail(self, auto_commit=False):
        """Refuse to send as a user who has no address to send from, with a
        message saying what to configure. A confidential mass mail leaves no
        readable upload behind: each mail has its own copy of the files, and
        Odoo lets administrators read uploads that belong to no record."""
        user = self.env.user
        if user._carerix_sends_as_recruiter() and any(
            c.composition_mode == "comment" and c.author_id == user.partner_id
            for c in self
        ):
            user._carerix_email_from(raise_if_missing=True)
        uploads = self.filtered(
            lambda c: c.composition_mode == "mass_mail" and c.carerix_confidential
        ).attachment_ids.filtered(lambda a: a.res_model == self._name)
        result = super()._action_send_mail(auto_commit=auto_commit)
        uploads.sudo().unlink()
        return result

    def _prepare_mail_values(self, res_ids):
        """Post (or mass mail) the message private or public as the
        *Confidential* box says; stored on the message at creation, so queued
        and scheduled sending keep it."""
        values = super()._prepare_mail_values(res_ids)
        if (
            self.carerix_show_confidential
            and self.author_id == self.env.user.partner_id
        ):
            for post_values in values.values():
                post_values["carerix_confidential"] = self.carerix_confidential
        return values
