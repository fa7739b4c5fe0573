from odoo import api, fields, models

from .carerix_mailbox_oauth import CLIENT_PARAMS

# {res.config.settings field: ir.config_parameter} of the write-only secrets.
SECRET_FIELDS = {
    "carerix_oauth_microsoft_secret": CLIENT_PARAMS["microsoft"][0][1],
    "carerix_oauth_google_secret": CLIENT_PARAMS["google"][0][1],
}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    carerix_smtp_fallback = fields.Boolean(
        "Fall back on the company server",
        config_parameter="carerix_mail.smtp_fallback",
        help="When a user's own outgoing server refuses to sign him in, send his "
        "mail through the company's server from his personal system address "
        "instead of failing it. Never from his own address: receivers would "
        "take it for spoofing.",
    )
    carerix_oauth_microsoft_client_id = fields.Char(
        "Microsoft client id", config_parameter=CLIENT_PARAMS["microsoft"][0][0]
    )
    carerix_oauth_microsoft_secret = fields.Char(
        "Microsoft client secret",
        compute="_compute_carerix_oauth_secrets",
        inverse="_inverse_carerix_oauth_secrets",
        help="Write-only: never shown again once saved. Leave empty to keep it.",
    )
    carerix_oauth_microsoft_secret_set = fields.Boolean(
        "Microsoft client secret set", compute="_compute_carerix_oauth_secrets"
    )
    carerix_oauth_microsoft_tenant = fields.Char(
        "Microsoft tenant",
        config_parameter="carerix_mail.oauth_microsoft_tenant",
        default="organizations",
        help="organizations (any work or school account), or the tenant id or "
        "domain of your organisation.",
    )
    carerix_oauth_google_client_id = fields.Char(
        "Google client id", config_parameter=CLIENT_PARAMS["google"][0][0]
    )
    carerix_oauth_google_secret = fields.Char(
        "Google client secret",
        compute="_compute_carerix_oauth_secrets",
        inverse="_inverse_carerix_oauth_secrets",
        help="Write-only: never shown again once saved. Leave empty to keep it.",
    )
    carerix_oauth_google_secret_set = fields.Boolean(
        "Google client secret set", compute="_compute_carerix_oauth_secrets"
    )
    carerix_oauth_redirect_uri = fields.Char(
        "Redirect URI", compute="_compute_carerix_oauth_redirect_uri"
    )

    @api.depends_context("uid")
    def _compute_carerix_oauth_secrets(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        for settings in self:
            # Write-only: never read back.
            settings.carerix_oauth_microsoft_secret = False
            settings.carerix_oauth_google_secret = False
            settings.carerix_oauth_microsoft_secret_set = bool(
                get(SECRET_FIELDS["carerix_oauth_microsoft_secret"])
            )
            settings.carerix_oauth_google_secret_set = bool(
                get(SECRET_FIELDS["carerix_oauth_google_secret"])
            )

    def _inverse_carerix_oauth_secrets(self):
        params = self.env["ir.config_parameter"].sudo()
        for settings in self:
            for name, param in SECRET_FIELDS.items():
                if settings[name]:  # empty: keep the saved one
                    params.set_param(param, settings[name])

    def _compute_carerix_oauth_redirect_uri(self):
        self.carerix_oauth_redirect_uri = self.env[
            "carerix.mailbox"
        ]._oauth_redirect_uri()
