"""Outgoing mail through the user's own server (SMTP submission).

The settings are fields of carerix.mailbox (``smtp_*``, in carerix_mailbox.py,
shown on the Email settings page). The outgoing password is write-only like the
incoming one: the column ``smtp_password_secret`` is not an ORM field, and only
:meth:`_smtp_engine_settings` reads it. Empty, the incoming password is used;
with the OAuth2 sign-in (Microsoft 365, Google) the same tokens are used.
"""

import logging

from odoo import _, api, models
from odoo.exceptions import UserError

from ..engine import (
    ConnectionSettings,
    MailError,
    OAuthTokenRejected,
    SmtpSubmission,
    default_port,
)

_logger = logging.getLogger(__name__)

# The outgoing server of each provider: (host, port, security); both file what
# they send in the Sent folder themselves.
SMTP_PRESETS = {
    "microsoft": ("smtp.office365.com", 587, "starttls"),
    "google": ("smtp.gmail.com", 465, "ssl"),
}


class CarerixMailboxSmtp(models.Model):
    _inherit = "carerix.mailbox"

    # ------------------------------------------------------------------
    # Outgoing password (write-only)
    # ------------------------------------------------------------------
    def _compute_smtp_has_password(self):
        self._compute_secret_set("smtp_password_secret")

    def _set_smtp_password(self, password):
        """Store the outgoing ``password``; callers check that the user may."""
        self._set_secret("smtp_password_secret", password)

    def _get_smtp_password(self):
        """The outgoing password, else the incoming one."""
        return self._get_secret("smtp_password_secret") or self._get_password()

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------
    @api.constrains("smtp_mode", "smtp_security", "smtp_security_none_confirmed")
    def _check_smtp_security_none_confirmed(self):
        for box in self:
            if (
                box.smtp_mode == "own"
                and box.smtp_security == "none"
                and not box.smtp_security_none_confirmed
            ):
                raise UserError(
                    _(
                        "Outgoing security 'None' sends your password and your "
                        "mail unencrypted. Confirm that you understand this, or "
                        "choose STARTTLS or SSL/TLS."
                    )
                )

    def _smtp_engine_settings(self, timeout=None, force_refresh=False):
        """The engine's settings for the user's own outgoing server."""
        self.ensure_one()
        login = (self.smtp_login or self.login or "").strip()
        if not self.smtp_host or not login:
            raise UserError(
                _(
                    "Enter the outgoing mail server and the user name of %(user)s "
                    "first.",
                    user=self.user_id.name,
                )
            )
        kwargs = self._credentials(self._get_smtp_password, timeout, force_refresh)
        return ConnectionSettings(
            host=self.smtp_host.strip(),
            port=self.smtp_port or default_port("smtp", self.smtp_security),
            login=login,
            protocol="smtp",
            security=self.smtp_security,
            ca_file=self.sudo().ca_file or None,
            **kwargs,
        )

    def _smtp_open(self, timeout=None):
        """A logged-in :class:`SmtpSubmission` (not entered: the caller closes
        it). An access token the server rejects is refreshed once."""
        submission = SmtpSubmission(self._smtp_engine_settings(timeout=timeout))
        try:
            return submission.connect()
        except OAuthTokenRejected as error:
            if self.auth_method == "password":
                raise
            _logger.info(
                "Mailbox %s: outgoing token rejected (%s), refreshing", self.id, error
            )
            rejected = submission.settings.access_token
            submission = SmtpSubmission(
                self._smtp_engine_settings(timeout=timeout, force_refresh=rejected)
            )
            return submission.connect()

    def _carerix_smtp_from(self):
        """The address the owner sends from through his own server: his
        Outgoing From address, else his user name there if it is an address."""
        self.ensure_one()
        for value in (self.from_address, self.smtp_login, self.login):
            address = (value or "").strip()
            if "@" in address:
                return address
        return ""

    # ------------------------------------------------------------------
    # Test outgoing (EHLO, STARTTLS, AUTH, QUIT: nothing is sent)
    # ------------------------------------------------------------------
    def action_test_outgoing(self):
        self.ensure_one()
        self._check_owner_or_admin()
        box = self.sudo()
        if box.smtp_mode != "own":
            raise UserError(
                _("Choose 'My own server' to test an outgoing mail server.")
            )
        try:
            submission = box._smtp_open(timeout=20)
        except MailError as error:
            _logger.info("Mailbox %s: Test outgoing failed: %s", box.id, error)
            raise UserError(box._user_message(error)) from None
        settings = submission.settings
        submission.quit()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Outgoing server works"),
                "message": _(
                    "Signed in to %(host)s:%(port)s as %(login)s. Nothing was sent.",
                    host=settings.host,
                    port=settings.port,
                    login=settings.login,
                ),
                "type": "success",
                "sticky": False,
            },
        }
