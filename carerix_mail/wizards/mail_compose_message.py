from odoo import api, models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

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
