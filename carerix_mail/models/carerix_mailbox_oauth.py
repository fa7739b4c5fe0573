"""OAuth2 sign-in of a mailbox (Microsoft 365, Google): client settings,
tokens, refresh, keep-alive.

The tokens are kept like the password: in the table ``carerix_mailbox_oauth_token``,
which is no ORM model, so no read, search, export or tracking path reaches them.
Only :meth:`_oauth_access_token` reads them, for a connection.

A refresh locks the mailbox's token row ``FOR UPDATE`` on a cursor of its own
and commits the new tokens at once: two workers refreshing at once make one
refresh (the second finds the fresh token), and a rotated refresh token is
saved before the sync that uses it, whatever becomes of that sync. The sync's
own claim is on the mailbox row, never on the token row.
"""

import json
import logging
import time
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import (
    MailError,
    OAuthError,
    OAuthGrantInvalid,
    OAuthProviderUnavailable,
    oauth,
)
from .carerix_mailbox import read_committed

_logger = logging.getLogger(__name__)

TOKEN_TABLE = "carerix_mailbox_oauth_token"
# An access token with less than this many seconds left is refreshed first.
REFRESH_MARGIN = 300
# The keep-alive refreshes the tokens of mailboxes idle for this long
# (Microsoft refresh tokens expire after 90 days unused, Google's after 6 months).
KEEPALIVE_AGE = timedelta(hours=20)
# Seconds to wait for the identity provider.
PROVIDER_TIMEOUT = 20.0
CALLBACK_PATH = "/carerix_mail/oauth/callback"
# The usual servers of each provider: {provider: {protocol: host}}, with SSL/TLS.
PROVIDER_HOSTS = {
    "microsoft": {"imap": "outlook.office365.com", "pop3": "outlook.office365.com"},
    "google": {"imap": "imap.gmail.com", "pop3": "pop.gmail.com"},
}
# ir.config_parameter keys: {provider: (client id, client secret)}, first ours,
# then Odoo's own (microsoft_outlook, google_gmail) as the fallback.
CLIENT_PARAMS = {
    "microsoft": (
        (
            "carerix_mail.oauth_microsoft_client_id",
            "carerix_mail.oauth_microsoft_secret",
        ),
        ("microsoft_outlook_client_id", "microsoft_outlook_client_secret"),
    ),
    "google": (
        ("carerix_mail.oauth_google_client_id", "carerix_mail.oauth_google_secret"),
        ("google_gmail_client_id", "google_gmail_client_secret"),
    ),
}
TENANT_PARAM = "carerix_mail.oauth_microsoft_tenant"
BASE_URL_PARAMS = {
    "microsoft": "carerix_mail.oauth_microsoft_base_url",
    "google": "carerix_mail.oauth_google_base_url",
}


def provider_name(env, key):
    """The translated label of the sign-in method ``key``."""
    selection = (
        env["carerix.mailbox"]._fields["auth_method"]._description_selection(env)
    )
    return dict(selection).get(key, key)


class CarerixMailbox(models.Model):
    _inherit = "carerix.mailbox"

    def init(self):
        result = super().init()
        self.env.cr.execute(
            """
            CREATE TABLE IF NOT EXISTS carerix_mailbox_oauth_token (
                mailbox_id INTEGER PRIMARY KEY
                    REFERENCES carerix_mailbox(id) ON DELETE CASCADE,
                provider VARCHAR NOT NULL,
                access_token VARCHAR,
                refresh_token VARCHAR,
                expires_at DOUBLE PRECISION NOT NULL DEFAULT 0,
                account VARCHAR,
                status VARCHAR NOT NULL DEFAULT 'connected',
                refreshed_at TIMESTAMP NOT NULL DEFAULT (now() at time zone 'UTC')
            )
            """
        )
        return result

    # ------------------------------------------------------------------
    # Client settings (Settings > Carerix Mail)
    # ------------------------------------------------------------------
    @api.model
    def _oauth_redirect_uri(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        return base.rstrip("/") + CALLBACK_PATH

    @api.model
    def _oauth_client_credentials(self, key):
        """``(client id, secret)`` of provider ``key``: ours when set, else
        Odoo's own parameters, else ``("", "")``."""
        get = self.env["ir.config_parameter"].sudo().get_param
        for id_param, secret_param in CLIENT_PARAMS[key]:
            if get(id_param):
                return get(id_param), get(secret_param) or ""
        return "", ""

    @api.model
    def _oauth_client(self, key):
        client_id, secret = self._oauth_client_credentials(key)
        if not client_id or not secret:
            raise UserError(
                _(
                    "Sign-in with %(provider)s is not set up yet: an administrator "
                    "enters its client id and client secret in Settings, block "
                    "Mailbox sign-in with Microsoft 365 and Google.",
                    provider=provider_name(self.env, key),
                )
            )
        return oauth.Client(
            client_id=client_id,
            client_secret=secret,
            redirect_uri=self._oauth_redirect_uri(),
        )

    @api.model
    def _oauth_provider(self, key):
        get = self.env["ir.config_parameter"].sudo().get_param
        base_url = get(BASE_URL_PARAMS[key]) or None
        if key != "microsoft":
            return oauth.google(base_url=base_url)
        tenant = get(TENANT_PARAM) or "organizations"
        try:
            return oauth.microsoft(tenant=tenant, base_url=base_url)
        except ValueError:
            raise UserError(
                _(
                    "The Microsoft tenant %(tenant)s in Settings is not valid: enter "
                    "organizations, or the tenant id or domain of your organisation.",
                    tenant=tenant,
                )
            ) from None

    def write(self, vals):
        switched = self.browse()
        if "auth_method" in vals:
            switched = self.filtered(lambda box: box.auth_method != vals["auth_method"])
        result = super().write(vals)
        switched._oauth_forget()  # a sign-in belongs to its provider
        return result

    # ------------------------------------------------------------------
    # Tokens (never through the ORM)
    # ------------------------------------------------------------------
    def _compute_oauth(self):
        rows = {}
        if self.ids:
            self.env.cr.execute(
                "SELECT mailbox_id, provider, status, account "
                "FROM carerix_mailbox_oauth_token WHERE mailbox_id IN %s",
                [tuple(self.ids)],
            )
            rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for box in self:
            provider, status, account = rows.get(box.id, (None, "none", False))
            if box.auth_method == "password" or provider != box.auth_method:
                status, account = "none", False
            box.oauth_status = status
            box.oauth_account = account or False

    def _oauth_save(self, key, tokens, cr=None):
        """Store the tokens of a new sign-in with provider ``key`` (on ``cr``)."""
        self.ensure_one()
        cr = cr or self.env.cr
        cr.execute(
            """
            INSERT INTO carerix_mailbox_oauth_token AS t (mailbox_id, provider,
                   access_token, refresh_token, expires_at, account, status,
                   refreshed_at)
            VALUES (%s, %s, %s, %s, %s, %s, 'connected', now() at time zone 'UTC')
            ON CONFLICT (mailbox_id) DO UPDATE SET
                provider = EXCLUDED.provider,
                access_token = EXCLUDED.access_token,
                refresh_token = COALESCE(EXCLUDED.refresh_token, t.refresh_token),
                expires_at = EXCLUDED.expires_at,
                account = COALESCE(EXCLUDED.account, t.account),
                status = 'connected',
                refreshed_at = EXCLUDED.refreshed_at
            """,
            [
                self.id,
                key,
                tokens.access_token,
                tokens.refresh_token,
                tokens.expires_at,
                tokens.account,
            ],
        )
        self.invalidate_recordset(["oauth_status", "oauth_account"])

    def _oauth_forget(self):
        """Drop the tokens of these mailboxes (disconnected)."""
        if self.ids:
            self.env.cr.execute(
                "DELETE FROM carerix_mailbox_oauth_token WHERE mailbox_id IN %s",
                [tuple(self.ids)],
            )
            self.invalidate_recordset(["oauth_status", "oauth_account"])

    def _oauth_access_token(self, force=False, rejected=None):
        """A valid access token of this mailbox.

        Refreshed first when less than :data:`REFRESH_MARGIN` seconds are
        left, or with ``force`` (unless it is no longer ``rejected``: another
        worker refreshed it meanwhile). The token row is locked on a cursor of
        its own, and the new tokens committed there before returning.
        """
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            # Read committed: after waiting for the lock, see what the other
            # worker committed.
            read_committed(cr)
            cr.execute(
                "SELECT provider, access_token, refresh_token, expires_at, status "
                "FROM carerix_mailbox_oauth_token WHERE mailbox_id = %s FOR UPDATE",
                [self.id],
            )
            row = cr.fetchone()
            self._oauth_check_usable(row)
            key, access, refresh_token, expires_at, _status = row
            fresh = access and expires_at - time.time() > REFRESH_MARGIN
            if fresh and not (force and (rejected is None or rejected == access)):
                return access
            box = self.with_env(self.env(cr=cr)).sudo()
            try:
                tokens = oauth.refresh(
                    box._oauth_provider(key),
                    box._oauth_client(key),
                    refresh_token,
                    ca_file=box.ca_file or None,
                    timeout=PROVIDER_TIMEOUT,
                )
            except OAuthGrantInvalid as error:
                box._oauth_reconnect_needed(error)
                cr.commit()  # pylint: disable=invalid-commit; the state and the one notice stay
                raise UserError(
                    _("Reconnect needed. %(reason)s", reason=self._user_message(error))
                ) from None
            box._oauth_save(key, tokens, cr=cr)
            cr.commit()  # pylint: disable=invalid-commit; a rotated refresh token is never lost
            _logger.info("Mailbox %s: access token refreshed", self.id)
            return tokens.access_token

    def _oauth_check_usable(self, row):
        """Raise a UserError saying why the token ``row`` cannot be used."""
        provider = provider_name(self.env, self.auth_method)
        if not row or row[0] != self.auth_method:
            raise UserError(
                _(
                    "The mailbox of %(user)s is not connected yet: click Connect "
                    "with %(provider)s on the Email settings.",
                    user=self.user_id.name,
                    provider=provider,
                )
            )
        if row[4] == "reconnect":
            raise UserError(
                _(
                    "Reconnect needed: %(provider)s no longer accepts the sign-in "
                    "of this mailbox (revoked or expired). Click Connect with "
                    "%(provider)s on the Email settings.",
                    provider=provider,
                )
            )

    def _oauth_reconnect_needed(self, error):
        """Mark the sign-in as to be renewed and tell the owner, once."""
        self.env.cr.execute(
            "UPDATE carerix_mailbox_oauth_token "
            "SET status = 'reconnect', access_token = NULL "
            "WHERE mailbox_id = %s AND status = 'connected'",
            [self.id],
        )
        first = bool(self.env.cr.rowcount)  # (not marked by another worker)
        self.invalidate_recordset(["oauth_status"])
        if not first:
            return
        _logger.info(
            "Mailbox %s: sign-in revoked or expired, reconnect needed", self.id
        )
        owner = self.user_id
        box = self.with_context(lang=owner.lang)
        provider = provider_name(box.env, self.auth_method)
        body = Markup("<p>%s</p><p>%s</p>") % (
            box.env._(
                "%(provider)s no longer accepts the sign-in of your mailbox %(login)s, "
                "so it is no longer synchronised: %(reason)s",
                provider=provider,
                login=self.login,
                reason=box._user_message(error),
            ),
            box.env._(
                "Open My Profile, Email settings, and click Connect with %(provider)s.",
                provider=provider,
            ),
        )
        self.env["mail.thread"].sudo().message_notify(
            partner_ids=owner.partner_id.ids,
            author_id=self.env.ref("base.partner_root").id,
            subject=box.env._("Mailbox: reconnect needed"),
            body=body,
        )

    # ------------------------------------------------------------------
    # Connect, disconnect
    # ------------------------------------------------------------------
    def _oauth_check_connect(self):
        """Only the owner connects his mailbox: consent would go to whatever
        account the browser of someone else is signed into."""
        self.ensure_one()
        if self.user_id != self.env.user:
            raise AccessError(
                _("Only %(user)s can connect his own mailbox.", user=self.user_id.name)
            )
        if self.auth_method == "password":
            raise UserError(
                _("Choose Microsoft 365 or Google as sign-in method first.")
            )

    def _oauth_authorize_url(self, state, challenge):
        """The provider's sign-in page for this mailbox (PKCE S256 ``challenge``)."""
        self.ensure_one()
        box = self.sudo()
        return oauth.authorize_url(
            box._oauth_provider(box.auth_method),
            box._oauth_client(box.auth_method),
            state,
            challenge,
            login_hint=(box.login or "").strip() or None,
        )

    def _oauth_connect(self, code, verifier):
        """Exchange the authorization ``code``, store the tokens, test the
        login. Returns ``(account, warning, test_error)`` (texts or None)."""
        self.ensure_one()
        box = self.sudo()
        key = box.auth_method
        tokens = oauth.exchange_code(
            box._oauth_provider(key),
            box._oauth_client(key),
            code,
            verifier,
            ca_file=box.ca_file or None,
            timeout=PROVIDER_TIMEOUT,
        )
        box._oauth_save(key, tokens)
        self.env.cr.commit()  # pylint: disable=invalid-commit; the grant is kept whatever the test says
        account = tokens.account or ""
        login = (box.login or "").strip()
        warning = None
        if account and login and account.lower() != login.lower():
            warning = _(
                "You signed in as %(account)s, but the username of the mailbox is "
                "%(login)s. That works only when %(account)s may read the mailbox "
                "%(login)s (a shared mailbox); otherwise sign in with %(login)s.",
                account=account,
                login=login,
            )
        test_error = None
        try:
            with box._connect(timeout=PROVIDER_TIMEOUT):
                pass
        except (MailError, UserError, OSError, ValueError) as error:
            test_error = box._user_message(error)
        return account or login, warning, test_error

    def _oauth_authorize_error(self, error, description):
        """The text for a sign-in the provider sent back with ``error``."""
        self.ensure_one()
        answer = json.dumps(
            {"error": error or "", "error_description": description or ""}
        )
        try:
            key = self.auth_method
            failure = oauth.classify_error(
                self._oauth_provider(key), self._oauth_client(key), 400, answer
            )
        except UserError as config_error:
            return config_error.args[0]
        return _(
            "The sign-in was not completed: %(reason)s",
            reason=self._user_message(failure),
        )

    def action_oauth_disconnect(self):
        """Forget the sign-in (owner or settings administrator)."""
        self._check_owner_or_admin()
        self.sudo()._oauth_forget()
        return True

    # ------------------------------------------------------------------
    # Keep-alive
    # ------------------------------------------------------------------
    @api.model
    def _cron_oauth_keepalive(self):
        """Refresh the tokens of connected mailboxes idle for a while, so that
        their refresh tokens do not expire unused."""
        self.env.cr.execute(
            "SELECT t.mailbox_id FROM carerix_mailbox_oauth_token t "
            "JOIN carerix_mailbox b ON b.id = t.mailbox_id "
            "WHERE t.status = 'connected' AND t.provider = b.auth_method "
            "AND b.active AND t.refreshed_at < %s ORDER BY t.mailbox_id",
            [fields.Datetime.now() - KEEPALIVE_AGE],
        )
        refreshed = 0
        for (box_id,) in self.env.cr.fetchall():
            box = self.browse(box_id)
            try:
                box._oauth_access_token(force=True)
                refreshed += 1
            except OAuthProviderUnavailable as error:
                _logger.info("Mailbox %s: keep-alive postponed: %s", box_id, error)
            except (OAuthError, UserError) as error:
                _logger.info("Mailbox %s: keep-alive failed: %s", box_id, error)
        return refreshed
