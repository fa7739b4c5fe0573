"""OAuth2 sign-in against the real Dovecot and the local identity provider.

The provider (scripts/devservices.py) checks client secrets, redirect URIs,
single-use codes, PKCE and rotates refresh tokens; its ``fail_next`` makes it
answer as Microsoft or Google do when something is wrong, so the error
classification is exercised over HTTPS, not with mocks. Dovecot checks the
tokens at the provider's introspection endpoint (passdb ``oauth2``).
"""

import imaplib
import poplib
import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest

from carerix_mail.engine import (
    ConnectionLost,
    ImapMailbox,
    MailError,
    OAuthClientMisconfigured,
    OAuthConsentRequired,
    OAuthError,
    OAuthGrantInvalid,
    OAuthMechanismNotOffered,
    OAuthProviderUnavailable,
    OAuthSessionExpired,
    OAuthTokenRejected,
    Pop3Mailbox,
    ReadTimeout,
    oauth,
    translate_exception,
)
from conftest import OAUTH_CLIENT, https_no_redirect

CLIENT = oauth.Client(*OAUTH_CLIENT)
MAILBOXES = {"imap": ImapMailbox, "pop3": Pop3Mailbox}


@pytest.fixture
def no_delay(idp):
    yield idp
    idp.set_delay(0)


def _oauth_settings(user, token, protocol="imap", security="ssl", **overrides):
    return user.settings(
        protocol, security, auth="oauth2", access_token=token, **overrides
    )


def _login_method(server, login, service, expected, timeout=5.0):
    """The SASL mechanism of ``login``'s logins to ``service`` (``imap`` or
    ``pop3``), from Dovecot's log: ``expected`` once a login with it is
    logged (the log is written asynchronously, after the login of the
    fixture's APPEND too), else the last one logged within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        methods = [
            line.split("method=")[1].split(",")[0]
            for line in server.log_file.read_text().splitlines()
            if f"{service}-login:" in line and "Login: user=<%s>," % login in line
        ]
        if expected in methods:
            return expected
        if time.monotonic() > deadline:
            return methods[-1] if methods else None
        time.sleep(0.05)


def _token(idp, user, **kwargs):
    return idp.issue(user.login, CLIENT.client_id, **kwargs)["access_token"]


# -- logging in: XOAUTH2 and OAUTHBEARER x IMAP and POP3 x SSL and STARTTLS -----------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_engine_oauth_login_matrix(
    mechanism, protocol, security, idp, mail_user, bearer_user, new_message
):
    user = mail_user if mechanism == "XOAUTH2" else bearer_user
    uid = user.server.deliver(user.login, "INBOX", new_message(1))
    settings = _oauth_settings(user, _token(idp, user), protocol, security)
    with MAILBOXES[protocol](settings) as mailbox:
        if protocol == "imap":
            batches = list(mailbox.sync_folder("INBOX", None))
            assert [m.uid for b in batches for m in b.messages] == [uid]
        else:
            assert len(list(mailbox.new_messages(()))) == 1
    assert _login_method(user.server, user.login, protocol, mechanism) == mechanism


def test_engine_oauth_password_users_unchanged(mail_user, idp):
    """PLAIN/LOGIN go to the passwd-file only: the provider is not asked, and a
    token is no password."""
    before = idp.requests["introspect"]
    with ImapMailbox(mail_user.settings()):
        pass
    with Pop3Mailbox(mail_user.settings("pop3")):
        pass
    assert idp.requests["introspect"] == before
    token = _token(idp, mail_user)
    with pytest.raises(MailError) as info:
        ImapMailbox(mail_user.settings(password=token)).connect()
    assert type(info.value).__name__ == "AuthenticationFailed"


def test_engine_oauth_password_is_no_token(mail_user):
    """The password sent as a bearer token is refused (no passwd-file check)."""
    settings = _oauth_settings(mail_user, mail_user.password, security="none")
    with pytest.raises(OAuthTokenRejected):
        ImapMailbox(settings).connect()


# -- refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_engine_oauth_rejected_token_gives_server_detail(
    mechanism, protocol, idp, mail_user, bearer_user
):
    user = mail_user if mechanism == "XOAUTH2" else bearer_user
    token = _token(idp, user)
    idp.revoke(user.login)
    with pytest.raises(OAuthTokenRejected) as info:
        MAILBOXES[protocol](_oauth_settings(user, token, protocol)).connect()
    err = info.value
    # The JSON status of the server's error challenge, then its NO/-ERR text.
    expected = "status: 401" if mechanism == "XOAUTH2" else "status: invalid_token"
    assert err.detail.startswith(expected + ", ") or err.detail.startswith(
        expected + ";"
    )
    assert "Authentication failed" in err.detail
    assert err.detail in str(err) and user.login in str(err)
    assert isinstance(err, MailError) and err.params["host"] == user.server.host


def test_engine_oauth_expired_token_refused(idp, mail_user):
    token = _token(idp, mail_user)
    with ImapMailbox(_oauth_settings(mail_user, token)):
        pass
    idp.expire_access_tokens(mail_user.login)
    with pytest.raises(OAuthTokenRejected):
        ImapMailbox(_oauth_settings(mail_user, token)).connect()


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_engine_oauth_other_users_token_refused(protocol, idp, _user_pool):
    owner, other = _user_pool.take(), _user_pool.take()
    token = _token(idp, owner)
    with pytest.raises(OAuthTokenRejected):
        MAILBOXES[protocol](_oauth_settings(other, token, protocol)).connect()
    with MAILBOXES[protocol](_oauth_settings(owner, token, protocol)):
        pass


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_engine_oauth_no_mechanism_offered(protocol, idp, plain_user):
    """A password-only Dovecot offers neither XOAUTH2 nor OAUTHBEARER."""
    token = _token(idp, plain_user)
    settings = _oauth_settings(plain_user, token, protocol, "none")
    with pytest.raises(OAuthMechanismNotOffered) as info:
        MAILBOXES[protocol](settings).connect()
    assert "XOAUTH2" in str(info.value) and plain_user.login in str(info.value)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_engine_oauth_3kb_token(protocol, idp, mail_user):
    token = _token(idp, mail_user, access_token_size=3072)
    assert len(token) >= 3072
    with MAILBOXES[protocol](_oauth_settings(mail_user, token, protocol)):
        pass


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_engine_oauth_token_masked_in_every_error(protocol, idp, mail_user):
    token = _token(idp, mail_user, access_token_size=600)
    idp.revoke(mail_user.login)
    settings = _oauth_settings(mail_user, token, protocol)
    assert token not in repr(settings) and token not in str(settings)
    with pytest.raises(OAuthTokenRejected) as info:
        MAILBOXES[protocol](settings).connect()
    errors = [info.value]
    # A server quoting the token back (or a library error carrying it).
    for exc in (
        imaplib.IMAP4.error("NO token %s is invalid" % token),
        imaplib.IMAP4.abort("BYE token %s expired" % token),
        OSError("weird %s" % token),
    ):
        errors.append(translate_exception(exc, settings))
    for err in errors:
        for text in (str(err), repr(err), err.user_message(), repr(err.params)):
            assert token not in text and token[:40] not in text


# -- the session ends mid-sync -----------------------------------------------------


@pytest.fixture
def expiring_server():
    """An IMAP server that accepts XOAUTH2, then ends the session as Exchange
    Online does when the access token expires."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)

    def serve():
        conn, _ = sock.accept()
        with conn:
            stream = conn.makefile("rb")
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] ready\r\n")
            for line in stream:
                tag = line.split()[0]
                if b"AUTHENTICATE" in line:
                    conn.sendall(b"+ \r\n")
                    stream.readline()
                    conn.sendall(tag + b" OK [CAPABILITY IMAP4rev1] done\r\n")
                elif b"CAPABILITY" in line:
                    conn.sendall(
                        b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n%s OK done\r\n" % tag
                    )
                else:
                    conn.sendall(b"* BYE Session invalidated - AccessTokenExpired\r\n")
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    sock.close()
    thread.join(5)


def test_engine_oauth_session_expired(expiring_server, mail_user):
    settings = _oauth_settings(
        mail_user, "tok", security="none", host="127.0.0.1", port=expiring_server
    )
    with ImapMailbox(settings) as mailbox, pytest.raises(OAuthSessionExpired) as info:
        mailbox.list_folders()
    assert isinstance(info.value, ConnectionLost)
    assert "AccessTokenExpired" in str(info.value)


def test_engine_oauth_session_end_with_password_is_connection_lost(mail_user):
    exc = imaplib.IMAP4.abort("Session invalidated - AccessTokenExpired")
    err = translate_exception(exc, mail_user.settings())
    assert type(err) is ConnectionLost


# -- the provider: authorization code with PKCE, refresh ------------------------------


def _providers(idp):
    return {
        "microsoft": oauth.microsoft("contoso.example", base_url=idp.url),
        "google": oauth.google(base_url=idp.url),
    }


def _authorize(idp, provider, login, challenge, state="st-1", client=CLIENT):
    """Follow the authorization URL as the browser would; the redirect's query."""
    url = oauth.authorize_url(provider, client, state, challenge, login_hint=login)
    with pytest.raises(urllib.error.HTTPError) as info:
        https_no_redirect(idp.ca_file).open(url, timeout=10)
    assert info.value.code == 302
    location = info.value.headers["Location"]
    assert location.startswith(client.redirect_uri + "?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def test_engine_oauth_presets():
    ms = oauth.microsoft()
    assert ms.token_url == (
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    )
    assert "https://outlook.office.com/POP.AccessAsUser.All" in ms.scopes
    assert "https://outlook.office.com/SMTP.Send" in ms.scopes
    assert "offline_access" in ms.scopes
    g = oauth.google()
    assert g.authorize_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert g.token_url == "https://oauth2.googleapis.com/token"
    assert g.scopes[0] == "https://mail.google.com/"
    assert g.extra_authorize_params == {"access_type": "offline", "prompt": "consent"}
    with pytest.raises(ValueError):
        oauth.microsoft("../evil")
    verifier, challenge = oauth.pkce_pair()
    assert 43 <= len(verifier) <= 128 and verifier != oauth.pkce_pair()[0]
    url = oauth.authorize_url(g, CLIENT, "s", challenge, login_hint="a@b.example")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == challenge and query["login_hint"] == "a@b.example"
    assert CLIENT.client_secret not in repr(CLIENT)


@pytest.mark.parametrize("key", ["microsoft", "google"])
def test_engine_oauth_code_flow_then_imap(key, idp, mail_user):
    provider = _providers(idp)[key]
    verifier, challenge = oauth.pkce_pair()
    answer = _authorize(idp, provider, mail_user.login, challenge, state="s-" + key)
    assert answer["state"] == "s-" + key
    tokens = oauth.exchange_code(
        provider, CLIENT, answer["code"], verifier, ca_file=idp.ca_file
    )
    assert tokens.account == mail_user.login
    assert tokens.refresh_token and tokens.expires_at > time.time() + 3000
    assert tokens.access_token not in repr(tokens)
    assert tokens.refresh_token not in repr(tokens)
    with ImapMailbox(_oauth_settings(mail_user, tokens.access_token)):
        pass
    # A code is good once.
    with pytest.raises(OAuthGrantInvalid) as info:
        oauth.exchange_code(
            provider, CLIENT, answer["code"], verifier, ca_file=idp.ca_file
        )
    assert info.value.code == "AADSTS54005"
    assert answer["code"] not in str(info.value) + repr(info.value.params)


def test_engine_oauth_pkce_mismatch(idp, mail_user):
    provider = _providers(idp)["microsoft"]
    _verifier, challenge = oauth.pkce_pair()
    code = _authorize(idp, provider, mail_user.login, challenge)["code"]
    other_verifier, _ = oauth.pkce_pair()
    with pytest.raises(OAuthGrantInvalid) as info:
        oauth.exchange_code(provider, CLIENT, code, other_verifier, ca_file=idp.ca_file)
    assert "Code_Verifier" in info.value.detail
    assert other_verifier not in str(info.value)


def test_engine_oauth_consent_user_differs_from_hint(idp, mail_user):
    provider = _providers(idp)["google"]
    verifier, challenge = oauth.pkce_pair()
    idp.set_consent_user("someone-else@example.com")
    try:
        code = _authorize(idp, provider, mail_user.login, challenge)["code"]
    finally:
        idp.set_consent_user(None)
    tokens = oauth.exchange_code(provider, CLIENT, code, verifier, ca_file=idp.ca_file)
    assert tokens.account == "someone-else@example.com"


def test_engine_oauth_refresh_rotates(idp, mail_user):
    provider = _providers(idp)["microsoft"]
    first = idp.issue(mail_user.login, CLIENT.client_id)
    tokens = oauth.refresh(
        provider, CLIENT, first["refresh_token"], ca_file=idp.ca_file
    )
    assert tokens.refresh_token and tokens.refresh_token != first["refresh_token"]
    assert tokens.access_token != first["access_token"]
    with Pop3Mailbox(_oauth_settings(mail_user, tokens.access_token, "pop3")):
        pass
    # The rotated-out refresh token is spent.
    with pytest.raises(OAuthGrantInvalid) as info:
        oauth.refresh(provider, CLIENT, first["refresh_token"], ca_file=idp.ca_file)
    assert info.value.code == "AADSTS700082"
    assert first["refresh_token"] not in str(info.value)
    # Revoking the user spends the newest one too.
    idp.revoke(mail_user.login)
    with pytest.raises(OAuthGrantInvalid):
        oauth.refresh(provider, CLIENT, tokens.refresh_token, ca_file=idp.ca_file)


def test_engine_oauth_wrong_secret_and_redirect_uri(idp, mail_user):
    provider = _providers(idp)["google"]
    refresh_token = idp.issue(mail_user.login, CLIENT.client_id)["refresh_token"]
    wrong = oauth.Client(CLIENT.client_id, "not-the-secret", CLIENT.redirect_uri)
    with pytest.raises(OAuthClientMisconfigured) as info:
        oauth.refresh(provider, wrong, refresh_token, ca_file=idp.ca_file)
    assert CLIENT.redirect_uri in str(info.value)
    assert "not-the-secret" not in str(info.value) + repr(info.value.params)
    verifier, challenge = oauth.pkce_pair()
    code = _authorize(idp, provider, mail_user.login, challenge)["code"]
    moved = oauth.Client(CLIENT.client_id, CLIENT.client_secret, "https://x.test/cb")
    with pytest.raises(OAuthClientMisconfigured) as info:
        oauth.exchange_code(provider, moved, code, verifier, ca_file=idp.ca_file)
    assert info.value.code == "AADSTS50011"
    assert "https://x.test/cb" in str(info.value)


@pytest.mark.parametrize(
    ("error", "status", "description", "cls", "code"),
    [
        ("invalid_grant", 400, "AADSTS700082: The refresh token has expired due "
         "to inactivity.", OAuthGrantInvalid, "AADSTS700082"),
        ("invalid_grant", 400, "AADSTS50173: The provided grant has expired due "
         "to it being revoked.", OAuthGrantInvalid, "AADSTS50173"),
        ("invalid_grant", 400, "AADSTS70043: The refresh token has expired or is "
         "invalid due to sign-in frequency checks.", OAuthGrantInvalid, "AADSTS70043"),
        ("invalid_grant", 400, "Token has been expired or revoked.",
         OAuthGrantInvalid, "invalid_grant"),
        ("invalid_grant", 400, "AADSTS65001: The user or administrator has not "
         "consented to use the application.", OAuthConsentRequired, "AADSTS65001"),
        ("invalid_request", 400, "AADSTS90094: The grant requires admin "
         "permission.", OAuthConsentRequired, "AADSTS90094"),
        ("invalid_client", 401, "AADSTS7000215: Invalid client secret provided.",
         OAuthClientMisconfigured, "AADSTS7000215"),
        ("invalid_request", 400, "AADSTS50194: Application is not configured as "
         "a multi-tenant application.", OAuthClientMisconfigured, "AADSTS50194"),
        ("invalid_request", 400, "AADSTS500112: The reply address does not match "
         "the reply address provided when requesting the authorization code.",
         OAuthClientMisconfigured, "AADSTS500112"),
        ("invalid_client", 401, "The OAuth client was not found.",
         OAuthClientMisconfigured, "invalid_client"),
        ("redirect_uri_mismatch", 400, "Bad Request", OAuthClientMisconfigured,
         "redirect_uri_mismatch"),
        ("server_error", 500, "AADSTS90033: A transient error has occurred.",
         OAuthProviderUnavailable, "AADSTS90033"),
        ("temporarily_unavailable", 503, "", OAuthProviderUnavailable,
         "temporarily_unavailable"),
        ("invalid_scope", 400, "The scope is not valid.", OAuthError, "invalid_scope"),
    ],
)  # fmt: skip
def test_engine_oauth_provider_errors(
    error, status, description, cls, code, idp, mail_user
):
    provider = _providers(idp)["microsoft"]
    refresh_token = idp.issue(mail_user.login, CLIENT.client_id)["refresh_token"]
    # The provider quotes the refresh token back: it must not show.
    quoted = (description + " (grant %s)" % refresh_token).strip()
    idp.fail_next("token", error, status=status, description=quoted)
    with pytest.raises(OAuthError) as info:
        oauth.refresh(provider, CLIENT, refresh_token, ca_file=idp.ca_file)
    err = info.value
    assert type(err) is cls
    assert err.code == code
    assert err.params["provider"] == "Microsoft"
    for text in (str(err), repr(err.params), err.user_message()):
        assert refresh_token not in text and CLIENT.client_secret not in text
    if description:
        assert description.split(":")[0] in err.detail
    # The failure was one answer only: the grant still works.
    assert oauth.refresh(provider, CLIENT, refresh_token, ca_file=idp.ca_file)


def test_engine_oauth_provider_timeout(no_delay, mail_user):
    idp = no_delay
    provider = _providers(idp)["google"]
    refresh_token = idp.issue(mail_user.login, CLIENT.client_id)["refresh_token"]
    idp.set_delay(2)
    started = time.monotonic()
    with pytest.raises(OAuthProviderUnavailable) as info:
        oauth.refresh(provider, CLIENT, refresh_token, ca_file=idp.ca_file, timeout=0.5)
    assert time.monotonic() - started < 1.8
    assert isinstance(info.value, OAuthError) and "in time" in info.value.detail


def test_engine_oauth_provider_refused_and_untrusted(idp, closed_port):
    down = oauth.google(base_url="https://127.0.0.1:%d" % closed_port)
    with pytest.raises(OAuthProviderUnavailable):
        oauth.refresh(down, CLIENT, "rt", ca_file=idp.ca_file, timeout=2)
    # The system trust store does not know the run's CA: never accepted.
    with pytest.raises(OAuthError) as info:
        oauth.refresh(_providers(idp)["google"], CLIENT, "rt", timeout=5)
    assert info.value.code == "certificate"
    assert not isinstance(info.value, OAuthProviderUnavailable)


def test_engine_oauth_requests_counted(idp, mail_user):
    before = idp.requests
    with ImapMailbox(_oauth_settings(mail_user, _token(idp, mail_user))):
        pass
    after = idp.requests
    assert after["introspect"] == before["introspect"] + 1
    assert after["token"] == before["token"]


def test_engine_oauth_pop3_session_end_mapped(mail_user):
    settings = _oauth_settings(mail_user, "tok", "pop3")
    err = translate_exception(
        poplib.error_proto(b"-ERR Session invalidated - AccessTokenExpired"), settings
    )
    assert type(err) is OAuthSessionExpired and "AccessTokenExpired" in str(err)


@pytest.fixture
def stalling_server():
    """Offers XOAUTH2 (IMAP) and then never answers the AUTHENTICATE."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    connections = []

    def serve():
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        connections.append(conn)
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] ready\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    sock.close()
    thread.join(5)
    for conn in connections:
        conn.close()


def test_engine_oauth_login_keeps_the_read_timeout(stalling_server, mail_user):
    settings = _oauth_settings(
        mail_user,
        "tok",
        security="none",
        host="127.0.0.1",
        port=stalling_server,
        read_timeout=0.5,
    )
    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        ImapMailbox(settings).connect()
    assert time.monotonic() - started < 3


def test_engine_oauth_answer_without_token(idp, mail_user):
    provider = _providers(idp)["google"]
    refresh_token = idp.issue(mail_user.login, CLIENT.client_id)["refresh_token"]
    idp.fail_next("token", "surprise", status=200)
    with pytest.raises(OAuthError) as info:
        oauth.refresh(provider, CLIENT, refresh_token, ca_file=idp.ca_file)
    assert type(info.value) is OAuthError and info.value.code == "invalid_response"
