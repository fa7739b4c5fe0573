from odoo import api, fields, models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    carerix_confidential = fields.Boolean(
        "Confidential",
        default=lambda self: self._default_carerix_confidential(),
        help="Only you can see this mail in Odoo: it is not shown to other "
        "users, and followers are not notified.",
    )
    carerix_show_confidential = fields.Boolean(
        "Can be confidential", compute="_compute_carerix_show_confidential"
    )

    @api.model
    def _default_carerix_confidential(self):
        """The user's *Outgoing email confidential by default*."""
        user = self.env.user
        return bool(
            user._carerix_sends_as_recruiter()
            and user._carerix_mailbox().outgoing_confidential
        )

    @api.depends_context("uid")
    @api.depends("composition_mode", "subtype_is_log", "model_is_thread")
    def _compute_carerix_show_confidential(self):
        """The box is for users of their carerix mailbox posting mail on a
        record (not a note, not a mass mailing)."""
        recruiter = self.env.user._carerix_sends_as_recruiter()
        for composer in self:
            composer.carerix_show_confidential = bool(
                recruiter
                and composer.composition_mode == "comment"
                and composer.model_is_thread
                and not composer.subtype_is_log
            )

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
        message saying what to configure."""
        user = self.env.user
        if user._carerix_sends_as_recruiter() and any(
            c.composition_mode == "comment" and c.author_id == user.partner_id
            for c in self
        ):
            user._carerix_email_from(raise_if_missing=True)
        return super()._action_send_mail(auto_commit=auto_commit)

    def _prepare_mail_values(self, res_ids):
        """Post the message private or public as the *Confidential* box says;
        stored on the message at creation, so queued sending keeps it."""
        values = super()._prepare_mail_values(res_ids)
        if (
            self.carerix_show_confidential
            and self.author_id == self.env.user.partner_id
        ):
            for post_values in values.values():
                post_values["carerix_confidential"] = self.carerix_confidential
        return values
