"""OAuth2 sign-in (Microsoft 365, Google): the sign-in method on the Email
settings, the signed single-use state of Connect and its callback, the admin
settings, and the tokens kept out of every read, search, export and log."""

import concurrent.futures
import json
import time
import urllib.parse
import uuid
from unittest.mock import patch

import requests

from odoo import sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.carerix_mail.controllers import oauth as controller_module
from odoo.addons.carerix_mail.engine import OAuthSessionExpired, oauth
from odoo.addons.carerix_mail.models import carerix_mailbox as mailbox_module
from odoo.addons.carerix_mail.models import res_users as res_users_module
from odoo.addons.carerix_mail.models.carerix_mailbox_oauth import TOKEN_TABLE

from . import test_settings
from .common import (
    SyncCase,
    assert_screenshots,
    build_tour_assets,
    load_dovecot,
    load_idp,
    make_mail,
    screenshot_on_request,
    unique,
)

# (the module, not its classes: a test class imported here would run twice)
ADMIN_VIEW = test_settings.ADMIN_VIEW
PREFERENCES_VIEW = test_settings.PREFERENCES_VIEW

CALLBACK = "/carerix_mail/oauth/callback"


def set_client(env, base_url="https://idp.invalid", key="microsoft", client=None):
    """Configure the client ``(id, secret)`` of provider ``key`` (a new one
    by default) at ``base_url``; returns it."""
    client = client or ("client-" + unique("c"), "secret-" + uuid.uuid4().hex)
    params = env["ir.config_parameter"].sudo()
    params.set_param(f"carerix_mail.oauth_{key}_client_id", client[0])
    params.set_param(f"carerix_mail.oauth_{key}_secret", client[1])
    params.set_param(f"carerix_mail.oauth_{key}_base_url", base_url)
    return client


@tagged("post_install", "-at_install")
class TestOAuthSettings(test_settings.SettingsCase):
    def test_provider_presets_server_and_stays_editable(self):
        for view in (PREFERENCES_VIEW, ADMIN_VIEW):
            editor = self.owner if view == PREFERENCES_VIEW else self.admin
            with self.subTest(view=view):
                form = Form(self.owner.with_user(editor), view=view)
                form.mailbox_auth_method = "microsoft"
                self.assertEqual(form.mailbox_host, "outlook.office365.com")
                self.assertEqual(form.mailbox_security, "ssl")
                self.assertEqual(form.mailbox_port, 993)
                form.mailbox_protocol = "pop3"
                self.assertEqual(form.mailbox_port, 995)
                form.mailbox_auth_method = "google"
                self.assertEqual(form.mailbox_host, "pop.gmail.com")
                form.mailbox_protocol = "imap"
                self.assertEqual(form.mailbox_host, "imap.gmail.com")
                form.mailbox_host = "imap.agency.example"  # still editable
                form.mailbox_login = "shared@agency.example"
                form.save()
                self.assertEqual(self.box.auth_method, "google")
                self.assertEqual(self.box.host, "imap.agency.example")
                self.assertEqual(self.box.login, "shared@agency.example")
                self.assertEqual(self.box.oauth_status, "none")

    def test_admin_cannot_connect_for_someone_else(self):
        self.box.auth_method = "microsoft"
        set_client(self.env)
        with self.assertRaisesRegex(AccessError, "Only .* can connect his mailbox"):
            self.owner.with_user(self.admin).action_mailbox_oauth_connect()
        with self.assertRaises(AccessError):
            self.box.with_user(self.admin)._oauth_check_connect()
        action = self.owner.with_user(self.owner).action_mailbox_oauth_connect()
        self.assertEqual(action["url"], "/carerix_mail/oauth/start")

    def test_connect_needs_a_provider_and_a_client(self):
        with self.assertRaisesRegex(UserError, "Choose Microsoft 365 or Google"):
            self.owner.with_user(self.owner).action_mailbox_oauth_connect()
        self.box.auth_method = "google"
        with self.assertRaisesRegex(UserError, "Google is not set up yet"):
            self.box._oauth_client("google")
        # Odoo's own Gmail parameters are the fallback.
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("google_gmail_client_id", "odoo-gmail-id")
        params.set_param("google_gmail_client_secret", "odoo-gmail-secret")
        client = self.box._oauth_client("google")
        self.assertEqual(client.client_id, "odoo-gmail-id")
        self.assertTrue(client.redirect_uri.endswith(CALLBACK), client.redirect_uri)
        params.set_param("carerix_mail.oauth_google_client_id", "own-id")
        params.set_param("carerix_mail.oauth_google_secret", "own-secret")
        self.assertEqual(self.box._oauth_client("google").client_id, "own-id")

    def test_disconnect_by_owner_or_admin_only(self):
        self._connect_with("AT-" + uuid.uuid4().hex, "RT-" + uuid.uuid4().hex)
        self.assertEqual(self.box.oauth_status, "connected")
        with self.assertRaises(AccessError):
            self.owner.with_user(self.other).action_mailbox_oauth_disconnect()
        self.assertEqual(self.box.oauth_status, "connected")
        self.owner.with_user(self.admin).action_mailbox_oauth_disconnect()
        self.box.invalidate_recordset()
        self.assertEqual(self.box.oauth_status, "none")

    def test_settings_secret_is_write_only(self):
        secret = "client-secret-" + uuid.uuid4().hex
        Settings = self.env["res.config.settings"].with_user(self.admin)
        Settings.create(
            {
                "carerix_oauth_microsoft_client_id": "the-client",
                "carerix_oauth_microsoft_secret": secret,
            }
        ).execute()
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(
            params.get_param("carerix_mail.oauth_microsoft_secret"), secret
        )
        settings = Settings.create({})
        values = settings.read()[0]
        self.assertNotIn(secret, json.dumps(values, default=str))
        self.assertEqual(values["carerix_oauth_microsoft_client_id"], "the-client")
        self.assertTrue(values["carerix_oauth_microsoft_secret_set"])
        self.assertEqual(values["carerix_oauth_microsoft_tenant"], "organizations")
        self.assertTrue(values["carerix_oauth_redirect_uri"].endswith(CALLBACK))
        # Saving the page again without a secret keeps it.
        settings.execute()
        self.assertEqual(
            params.get_param("carerix_mail.oauth_microsoft_secret"), secret
        )
        arch = Settings.get_views([(False, "form")])["views"]["form"]["arch"]
        for name in ("carerix_oauth_redirect_uri", "carerix_oauth_google_secret"):
            self.assertIn(f'name="{name}"', arch)

    def _connect_with(self, access, refresh):
        self.configure()
        self.box.auth_method = "microsoft"
        tokens = oauth.TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=time.time() + 3600,
            account=self.login,
        )
        self.box._oauth_save("microsoft", tokens)


@tagged("post_install", "-at_install")
class TestOAuthTokensUnreachable(test_settings.SettingsCase):
    def test_tokens_unreachable_through_every_channel(self):
        access = "AT-" + uuid.uuid4().hex
        refresh = "RT-" + uuid.uuid4().hex
        with test_settings._capture_logs() as capture:
            with (
                patch.object(mailbox_module, "_logger") as box_logger,
                patch.object(res_users_module, "_logger", create=True) as user_logger,
            ):
                TestOAuthSettings._connect_with(self, access, refresh)
                self.assertEqual(self.box.oauth_status, "connected")
                self.assertEqual(self.box.oauth_account, self.login)
                seen = []
                for secret in (access, refresh):
                    seen += self._everything_readable(secret)
        for secret in (access, refresh):
            self._assert_leaked_nowhere(
                secret, capture.lines + seen, (box_logger, user_logger)
            )
        # ... while the mailbox keeps them, outside the ORM.
        self.env.cr.execute(
            f"SELECT access_token, refresh_token FROM {TOKEN_TABLE} "
            "WHERE mailbox_id = %s",
            [self.box.id],
        )
        self.assertEqual(self.env.cr.fetchone(), (access, refresh))
        fields = self.env["carerix.mailbox"].fields_get()
        self.assertFalse([name for name in fields if "token" in name])
        with self.assertRaises(ValueError):
            self.box.search([("access_token", "=", access)])


@tagged("post_install", "-at_install")
class TestOAuthCallbackRefusals(HttpCase):
    """The callback answers 403 to any state but the one this session's user
    got for his mailbox, unused and fresh."""

    def setUp(self):
        super().setUp()
        set_client(self.env)
        self.owner_login = unique("oauthowner")
        self.owner = new_test_user(
            self.env, login=self.owner_login, password=self.owner_login * 2
        )
        self.other_login = unique("oauthother")
        new_test_user(self.env, login=self.other_login, password=self.other_login * 2)
        box = self.owner._carerix_mailbox(create=True)
        box.write({"auth_method": "microsoft", "login": "owner@agency.example"})

    def start(self, login):
        """Start a sign-in as ``login``; returns the parameters sent to the provider."""
        self.authenticate(login, login * 2)
        response = self.url_open("/carerix_mail/oauth/start", allow_redirects=False)
        self.assertEqual(response.status_code, 303, response.text[:500])
        location = response.headers["Location"]
        self.assertTrue(location.startswith("https://idp.invalid/"), location)
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

    def callback(self, state, **params):
        query = urllib.parse.urlencode(dict({"state": state}, **params))
        return self.url_open(f"{CALLBACK}?{query}", allow_redirects=False)

    def test_start_sends_pkce_and_a_signed_state(self):
        params = self.start(self.owner_login)
        self.assertEqual(params["code_challenge_method"], "S256")
        self.assertGreaterEqual(len(params["code_challenge"]), 43)
        self.assertEqual(params["response_type"], "code")
        self.assertEqual(params["login_hint"], "owner@agency.example")
        self.assertTrue(params["redirect_uri"].endswith(CALLBACK))
        mailbox_id = str(self.owner._carerix_mailbox().id)
        self.assertEqual(
            params["state"].split(".")[:2], [mailbox_id, str(self.owner.id)]
        )

    def test_tampered_state(self):
        state = self.start(self.owner_login)["state"]
        parts = state.split(".")
        for tampered in (
            ".".join([str(int(parts[0]) + 1), *parts[1:]]),  # another mailbox
            ".".join([*parts[:2], str(int(parts[2]) + 3600), *parts[3:]]),  # later
            state[:-1] + ("0" if state[-1] != "0" else "1"),  # signature
            "garbage",
            "",
        ):
            with self.subTest(state=tampered):
                self.assertEqual(self.callback(tampered, code="x").status_code, 403)

    def test_wrong_user(self):
        state = self.start(self.owner_login)["state"]
        self.authenticate(self.other_login, self.other_login * 2)
        self.assertEqual(self.callback(state, code="x").status_code, 403)

    def test_replayed_state(self):
        state = self.start(self.owner_login)["state"]
        first = self.callback(state, error="access_denied", error_description="No")
        self.assertEqual(first.status_code, 200)
        self.assertIn("The sign-in was not completed", first.text)
        self.assertEqual(self.callback(state, code="x").status_code, 403)

    def test_expired_state(self):
        with patch.object(controller_module, "STATE_TTL", -1):
            state = self.start(self.owner_login)["state"]
        self.assertEqual(self.callback(state, code="x").status_code, 403)

    def test_portal_user_has_no_mailbox_to_connect(self):
        portal_login = unique("portal")
        new_test_user(
            self.env,
            login=portal_login,
            password=portal_login * 2,
            groups="base.group_portal",
        )
        self.authenticate(portal_login, portal_login * 2)
        response = self.url_open("/carerix_mail/oauth/start", allow_redirects=False)
        self.assertEqual(response.status_code, 403)

    def test_no_state(self):
        self.authenticate(self.owner_login, self.owner_login * 2)
        response = self.url_open(f"{CALLBACK}?code=x", allow_redirects=False)
        self.assertEqual(response.status_code, 403)


class OAuthSyncCase(SyncCase):
    """Real syncs of mailboxes signed in at the local identity provider (posing
    as Microsoft), with Dovecot checking the tokens there (XOAUTH2)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.idp = load_idp()

    def setUp(self):
        super().setUp()
        with self.real_env() as env:
            client = set_client(env, base_url=self.idp.url)
            redirect_uri = env["carerix.mailbox"]._oauth_redirect_uri()
        self.client_id = client[0]
        self.idp.register_client(*client, redirect_uri)

    def make_oauth_recruiter(self):
        """A recruiter whose mailbox is signed in with "Microsoft"."""
        user_id, login, email = self.make_recruiter(password="unused-" + unique("p"))
        self.sign_in(user_id, login)
        return user_id, login, email

    def sign_in(self, user_id, login):
        """Sign the mailbox in at the provider as ``login``, as Connect does."""
        self.idp.add_user(login)
        tokens = self.idp.issue(login, self.client_id)
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            box.auth_method = "microsoft"
            box._oauth_save(
                "microsoft",
                oauth.TokenSet(
                    access_token=tokens["access_token"],
                    refresh_token=tokens["refresh_token"],
                    expires_at=time.time() + tokens["expires_in"],
                    account=login,
                ),
            )

    def assert_syncs(self, user_id, login, subject):
        """A mail delivered now is fetched by the next sync."""
        self.deliver(login, "Carla <carla@candidate.example>", login, subject)
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 1)

    def token_row(self, user_id):
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            env.cr.execute(
                f"SELECT access_token, refresh_token, status FROM {TOKEN_TABLE} "
                "WHERE mailbox_id = %s",
                [box.id],
            )
            return env.cr.fetchone()

    def expire(self, user_id):
        """Let the access token be as good as expired (to our clock)."""
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            env.cr.execute(
                f"UPDATE {TOKEN_TABLE} SET expires_at = %s WHERE mailbox_id = %s",
                [time.time() + 60, box.id],
            )

    def token_requests(self):
        return self.idp.requests.get("token", 0)


@tagged("post_install", "-at_install")
class TestOAuthSync(OAuthSyncCase):
    def test_sync_refreshes_first_and_keeps_tokens_out_of_logs(self):
        user_id, login, _email = self.make_oauth_recruiter()
        self.deliver(login, "Carla <carla@candidate.example>", login, "Via XOAUTH2")
        access, refresh, _status = self.token_row(user_id)
        self.expire(user_id)
        before = self.token_requests()
        with test_settings._capture_logs() as capture:
            health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 1)
        self.assertEqual(self.token_requests(), before + 1)
        new_access, new_refresh, status = self.token_row(user_id)
        self.assertEqual(status, "connected")
        self.assertNotEqual(new_access, access)
        self.assertNotEqual(new_refresh, refresh)  # rotated, and kept
        self.assertTrue(capture.lines, "no log line captured at all")
        for line in capture.lines:
            for secret in (access, refresh, new_access, new_refresh):
                self.assertNotIn(secret, line)
        # A fresh token is used as it is.
        self.assertEqual(self.sync(user_id)["state"], "ok")
        self.assertEqual(self.token_requests(), before + 1)

    def test_refresh_committed_although_the_sync_fails(self):
        user_id, login, _email = self.make_oauth_recruiter()
        _access, refresh, _status = self.token_row(user_id)
        self.expire(user_id)
        Box = self.registry["carerix.mailbox"]
        with patch.object(
            Box, "_sync_imap", autospec=True, side_effect=RuntimeError("boom")
        ):
            health = self.sync(user_id)
        self.assertEqual(health["state"], "failing")
        self.assertIn("unexpected error", health["last_error"])
        _new_access, new_refresh, status = self.token_row(user_id)
        self.assertEqual(status, "connected")
        self.assertNotEqual(new_refresh, refresh)
        # The old refresh token is spent at the provider; the kept one works.
        self.expire(user_id)
        self.assert_syncs(user_id, login, "After")

    def test_pop3_through_xoauth2(self):
        user_id, login, _email = self.make_recruiter(
            protocol="pop3", password="unused-" + unique("p")
        )
        self.sign_in(user_id, login)
        self.assert_syncs(user_id, login, "Over POP3")

    def test_provider_unavailable_is_transient(self):
        user_id, login, _email = self.make_oauth_recruiter()
        self.expire(user_id)
        self.idp.fail_next("token", "temporarily_unavailable", status=503)
        health = self.sync(user_id)
        self.assertEqual(health["state"], "failing")
        self.assertIn("unavailable right now", health["last_error"])
        self.assertEqual(self.token_row(user_id)[2], "connected")
        # The next run tries again, and gets through.
        self.assert_syncs(user_id, login, "Later")

    def test_concurrent_refresh_makes_one(self):
        user_id, _login, _email = self.make_oauth_recruiter()
        self.expire(user_id)
        with self.real_env() as env:
            box_id = env["res.users"].browse(user_id)._carerix_mailbox().id
        before = self.token_requests()

        def refresh():
            with self.real_env() as env:
                return env["carerix.mailbox"].browse(box_id)._oauth_access_token()

        self.idp.set_delay(1.0)
        self.addCleanup(self.idp.set_delay, 0)
        # A sync under way holds its claim on the mailbox row meanwhile.
        with self.registry.cursor() as claim_cr:
            claim_cr.execute(
                "SELECT id FROM carerix_mailbox WHERE id = %s FOR NO KEY UPDATE",
                [box_id],
            )
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                tokens = [
                    future.result(timeout=30)
                    for future in [pool.submit(refresh), pool.submit(refresh)]
                ]
        self.assertEqual(self.token_requests(), before + 1)
        self.assertEqual(tokens[0], tokens[1])
        self.assertEqual(self.token_row(user_id)[0], tokens[0])

    def test_token_rejected_at_login_one_forced_refresh(self):
        user_id, login, _email = self.make_oauth_recruiter()
        self.idp.expire_access_tokens(login)  # our clock still thinks it fresh
        before = self.token_requests()
        self.assert_syncs(user_id, login, "Retried")
        self.assertEqual(self.token_requests(), before + 1)
        # A token rejected that another worker has replaced meanwhile: the
        # new one is used, without another refresh.
        current = self.token_row(user_id)[0]
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            token = box._oauth_access_token(force=True, rejected="replaced-token")
        self.assertEqual(token, current)
        self.assertEqual(self.token_requests(), before + 1)

    def test_session_ended_mid_sync_goes_on_from_the_last_batch(self):
        user_id, login, _email = self.make_oauth_recruiter()
        for subject in ("First", "Second"):
            self.deliver(login, "Carla <carla@candidate.example>", login, subject)
        Box = self.registry["carerix.mailbox"]
        original = Box._archive_fetched_batch
        batches = []

        def ended_later(box, messages, *args, **kwargs):
            batches.append(len(messages))
            if len(batches) == 2:  # the first batch is committed
                raise OAuthSessionExpired(
                    host="imap", port=143, reason="BYE AccessTokenExpired"
                )
            return original(box, messages, *args, **kwargs)

        before = self.token_requests()
        with (
            patch.object(mailbox_module, "SYNC_BATCH_SIZE", 1),
            patch.object(
                Box,
                "_archive_fetched_batch",
                autospec=True,
                side_effect=ended_later,
            ),
        ):
            health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        # Logged in again with a new token; the second mail fetched once more
        # (its batch was not committed), the first not again.
        self.assertEqual(batches, [1, 1, 1])
        self.assertEqual(self.token_requests(), before + 1)
        self.assertEqual(health["count_fetched"], 2)
        subjects = [entry["subject"] for entry in self.entries(user_id)]
        self.assertEqual(subjects, ["First", "Second"])


@tagged("post_install", "-at_install")
class TestOAuthReconnectNeeded(OAuthSyncCase):
    def notices(self, user_id):
        with self.real_env() as env:
            partner = env["res.users"].browse(user_id).partner_id
            return env["mail.message"].search_count(
                [
                    ("message_type", "=", "user_notification"),
                    ("partner_ids", "in", partner.ids),
                    ("subject", "=", "Mailbox: reconnect needed"),
                ]
            )

    def test_revoked_grant(self):
        user_id, login, _email = self.make_oauth_recruiter()
        self.idp.revoke(login)
        self.expire(user_id)
        health = self.sync(user_id)
        self.assertEqual(health["state"], "failing")
        self.assertIn("Reconnect needed", health["last_error"])
        self.assertEqual(self.token_row(user_id)[2], "reconnect")
        self.assertEqual(self.notices(user_id), 1)
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            self.assertEqual(box.oauth_status, "reconnect")
            box_id = box.id
            others = env["carerix.mailbox"].search([("id", "!=", box_id)]).ids
        # The scheduled sync leaves it alone until he reconnects.
        before = self.token_requests()
        with self.real_env() as env:
            self.assertIsNone(env["carerix.mailbox"]._claim_and_sync(exclude=others))
            self.assertEqual(env["carerix.mailbox"]._cron_oauth_keepalive(), 0)
        # Sync now tells him again, without a new notice or a refresh.
        health = self.sync(user_id)
        self.assertIn("Reconnect needed", health["last_error"])
        self.assertEqual(self.notices(user_id), 1)
        self.assertEqual(self.token_requests(), before)
        # Reconnected: synced again.
        self.sign_in(user_id, login)
        with self.real_env() as env:
            claimed = env["carerix.mailbox"]._claim_and_sync(exclude=others)
        self.assertEqual(claimed, box_id)
        self.assertEqual(self.sync(user_id)["state"], "ok")

    def test_keepalive_refreshes_idle_mailboxes(self):
        user_id, _login, _email = self.make_oauth_recruiter()
        _access, refresh, _status = self.token_row(user_id)
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            env.cr.execute(
                f"UPDATE {TOKEN_TABLE} SET refreshed_at = refreshed_at - "
                "interval '2 days' WHERE mailbox_id = %s",
                [box.id],
            )
        with self.real_env() as env:
            self.assertGreaterEqual(env["carerix.mailbox"]._cron_oauth_keepalive(), 1)
        self.assertNotEqual(self.token_row(user_id)[1], refresh)
        with self.real_env() as env:  # a second run finds nothing idle
            self.assertEqual(env["carerix.mailbox"]._cron_oauth_keepalive(), 0)


class OAuthHttpCase(HttpCase):
    """A user whose Dovecot account signs in at the local identity provider,
    posing as "Microsoft"; the provider consents at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.idp = load_idp()
        cls.dovecot = load_dovecot()

    def setUp(self):
        super().setUp()
        self.client = set_client(self.env, base_url=self.idp.url)
        redirect_uri = self.env["carerix.mailbox"]._oauth_redirect_uri()
        self.idp.register_client(*self.client, redirect_uri)
        self.addCleanup(self.idp.set_consent_user, None)
        self.login = unique("conn")
        self.dovecot.add_user(self.login, "pw-" + uuid.uuid4().hex)
        self.addCleanup(self.dovecot.remove_user, self.login)
        self.idp.add_user(self.login)
        self.owner = new_test_user(self.env, login=self.login, password=self.login * 2)
        self.box = self.owner._carerix_mailbox(create=True)
        self.box.write(
            {
                "auth_method": "microsoft",
                "host": self.dovecot.host,
                "port": self.dovecot.imap_port,
                "security": "starttls",
                "login": self.login,
                "ca_file": self.dovecot.ca_file,
            }
        )

    def connect(self):
        """Connect through the provider; returns the callback's page."""
        self.authenticate(self.login, self.login * 2)
        response = self.url_open("/carerix_mail/oauth/start", allow_redirects=False)
        self.assertEqual(response.status_code, 303, response.text[:300])
        consent = requests.get(
            response.headers["Location"],
            verify=self.idp.ca_file,
            allow_redirects=False,
            timeout=30,
        )
        self.assertIn(consent.status_code, (302, 303), consent.text[:300])
        callback = urllib.parse.urlsplit(consent.headers["Location"])
        self.assertEqual(callback.path, CALLBACK)
        page = self.url_open(f"{callback.path}?{callback.query}")
        self.assertEqual(page.status_code, 200)
        return page.text


@tagged("post_install", "-at_install")
class TestOAuthConnect(OAuthHttpCase):
    """Connect from start to "Connected as ..."."""

    def test_connected_as_and_login_tested(self):
        page = self.connect()
        self.assertIn("Connected as", page)
        self.assertIn(self.login, page)
        self.assertIn("The mail server accepted the sign-in", page)
        self.assertNotIn("o_carerix_oauth_warning", page)
        self.box.invalidate_recordset()
        self.assertEqual(self.box.oauth_status, "connected")
        self.assertEqual(self.box.oauth_account, self.login)
        action = self.owner.with_user(self.owner).action_mailbox_test_connection()
        self.assertEqual(action["params"]["type"], "success")

    def test_google(self):
        set_client(self.env, self.idp.url, key="google", client=self.client)
        self.box.auth_method = "google"
        page = self.connect()
        self.assertIn("The mail server accepted the sign-in", page)
        self.box.invalidate_recordset()
        self.assertEqual(self.box.oauth_status, "connected")
        self.assertEqual(self.box._oauth_provider("google").key, "google")

    def test_other_account_is_warned(self):
        other = unique("shared")
        self.idp.add_user(other)
        self.idp.set_consent_user(other)
        page = self.connect()
        self.assertIn("o_carerix_oauth_warning", page)
        self.assertIn(f"You signed in as {other}", page)
        # Dovecot lets a token of one user read only his own mailbox.
        self.assertIn("o_carerix_oauth_test_error", page)

    def test_client_misconfigured_names_the_redirect_uri(self):
        self.idp.fail_next("token", "invalid_client", status=401)
        page = self.connect()
        self.assertIn("o_carerix_oauth_error", page)
        redirect_uri = self.env["carerix.mailbox"]._oauth_redirect_uri()
        self.assertIn(redirect_uri, page)
        self.assertEqual(self.box.oauth_status, "none")

    def test_consent_required(self):
        self.idp.fail_next(
            "authorize",
            "consent_required",
            description="AADSTS65001: The user or administrator has not consented",
        )
        page = self.connect()
        self.assertIn("o_carerix_oauth_error", page)
        self.assertIn("Ask your administrator", page)


def _commit_keeping_later_savepoints(original):
    """TestCursor.commit for a tour that syncs: Odoo's test cursors are
    savepoints of one transaction, and releasing one releases those opened
    after it; the sync commits its batches on the request's cursor while the
    cursor of its claim is still open, which a real database allows. A cursor
    below another open one keeps its savepoint until that one is closed."""

    def commit(cursor):
        stack = sql_db.TestCursor._cursors_stack
        if stack and stack[-1] is not cursor:
            cursor.flush()
            cursor.clear()
            return
        original(cursor)

    return commit


def _ignore_certificate_errors(original):
    """ChromeBrowser.navigate_to for a browser that accepts the certificate
    of the local identity provider (issued by the test run's own CA)."""

    def navigate_to(browser, *args, **kwargs):
        browser._websocket_request(
            "Security.setIgnoreCertificateErrors", params={"ignore": True}
        )
        return original(browser, *args, **kwargs)

    return navigate_to


@tagged("post_install", "-at_install")
class TestOAuthTour(OAuthHttpCase):
    """Connect, Test connection and Sync now in a real browser (Chromium)."""

    browser_size = "1366x1000"

    def test_connect_test_and_sync(self):
        self.box.write({"auth_method": "password", "host": False, "port": 0})
        self.owner.write({"tz": "Europe/Amsterdam", "name": "Mia Microsoft"})
        self.dovecot.deliver(
            self.login,
            "INBOX",
            make_mail("Carla <carla@candidate.example>", self.login, "TOUROAUTH"),
        )
        values = {
            "host": self.dovecot.host,
            "port": self.dovecot.imap_port,
            "login": self.login,
        }
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False}
        code = (
            f"window.carerixTourValues = {json.dumps(values)}; "
            f"odoo.startTour('carerix_mail_oauth', {json.dumps(options)})"
        )
        build_tour_assets(self.env)
        for bundle_name in ("web.assets_frontend", "web.assets_frontend_minimal"):
            bundle = self.env["ir.qweb"]._get_asset_bundle(bundle_name)
            bundle.js()
            bundle.css()
        futures = {}
        with (
            screenshot_on_request(futures),
            patch.object(
                sql_db.TestCursor,
                "commit",
                _commit_keeping_later_savepoints(sql_db.TestCursor.commit),
            ),
            patch.object(
                ChromeBrowser,
                "navigate_to",
                _ignore_certificate_errors(ChromeBrowser.navigate_to),
            ),
        ):
            self.start_tour(
                "/odoo", "carerix_mail_oauth", login=self.login, code=code, timeout=180
            )
        assert_screenshots(
            self, futures, {"oauth_settings", "oauth_connected", "oauth_synced"}
        )
        self.box.invalidate_recordset()
        self.assertEqual(self.box.oauth_status, "connected")
        self.assertEqual(self.box.state, "ok")
        subjects = (
            self.env["carerix.mailbox.message"]
            .search([("owner_id", "=", self.owner.id)])
            .mapped("subject")
        )
        self.assertEqual(subjects, ["TOUROAUTH"])
