"""OAuth2 sign-in at Microsoft or Google: authorization code with PKCE, refresh.

Plain Python: the token endpoint is called with ``urllib.request`` over the
engine's verifying TLS (:func:`.tls.create_ssl_context`). Usage::

    provider = oauth.microsoft("organizations")
    client = oauth.Client(client_id, client_secret, redirect_uri)
    verifier, challenge = oauth.pkce_pair()
    url = oauth.authorize_url(provider, client, state, challenge, login_hint=user)
    ...  # the browser comes back to redirect_uri with ?code=...&state=...
    tokens = oauth.exchange_code(provider, client, code, verifier)
    tokens = oauth.refresh(provider, client, tokens.refresh_token)

Every failure is an :class:`~.errors.OAuthError`, classified so that the caller
knows whether to retry (:class:`~.errors.OAuthProviderUnavailable`), to ask the
user to connect again (:class:`~.errors.OAuthGrantInvalid`), to ask an
administrator (:class:`~.errors.OAuthConsentRequired`,
:class:`~.errors.OAuthClientMisconfigured`). Secrets, codes and tokens never
appear in a message or a repr.
"""

import base64
import dataclasses
import hashlib
import http.client
import json
import re
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import (
    OAuthClientMisconfigured,
    OAuthConsentRequired,
    OAuthError,
    OAuthGrantInvalid,
    OAuthProviderUnavailable,
    clean_server_text,
    mask_secrets,
)
from .tls import create_ssl_context

MICROSOFT_BASE_URL = "https://login.microsoftonline.com"
GOOGLE_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
MICROSOFT_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
    "openid",
    "email",
)
GOOGLE_SCOPES = ("https://mail.google.com/", "openid", "email")
_LABELS = {"microsoft": "Microsoft", "google": "Google"}
_MAX_ANSWER = 1_000_000


@dataclasses.dataclass(frozen=True)
class Provider:
    """Where a provider signs users in and hands out tokens."""

    key: str
    authorize_url: str
    token_url: str
    scopes: tuple
    extra_authorize_params: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self):
        """The provider's name for messages."""
        return _LABELS.get(self.key, self.key)


def microsoft(tenant="organizations", base_url=None):
    """Microsoft identity platform (v2.0) of ``tenant``; ``base_url`` replaces
    ``https://login.microsoftonline.com`` (a local identity provider)."""
    if not tenant or not re.fullmatch(r"[A-Za-z0-9.-]+", tenant):
        raise ValueError("not a Microsoft tenant: %r" % (tenant,))
    base = "%s/%s/oauth2/v2.0" % ((base_url or MICROSOFT_BASE_URL).rstrip("/"), tenant)
    return Provider(
        key="microsoft",
        authorize_url=base + "/authorize",
        token_url=base + "/token",
        scopes=MICROSOFT_SCOPES,
        extra_authorize_params={"response_mode": "query"},
    )


def google(base_url=None):
    """Google; ``base_url`` replaces both Google hosts (a local identity provider)."""
    authorize, token = GOOGLE_AUTHORIZE_URL, GOOGLE_TOKEN_URL
    if base_url:
        base = base_url.rstrip("/")
        authorize = base + urllib.parse.urlsplit(GOOGLE_AUTHORIZE_URL).path
        token = base + urllib.parse.urlsplit(GOOGLE_TOKEN_URL).path
    return Provider(
        key="google",
        authorize_url=authorize,
        token_url=token,
        scopes=GOOGLE_SCOPES,
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
    )


@dataclasses.dataclass(frozen=True)
class Client:
    """The application registered at the provider."""

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    redirect_uri: str


@dataclasses.dataclass(frozen=True)
class TokenSet:
    """What the token endpoint handed out; tokens never appear in ``repr``.

    ``refresh_token`` is None when the provider kept the old one; ``account``
    is the signed-in account named by the id_token (None without one).
    """

    access_token: str = dataclasses.field(repr=False)
    refresh_token: str | None = dataclasses.field(repr=False)
    expires_at: float
    account: str | None
    scope: str = ""


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_pair():
    """``(verifier, challenge)`` for PKCE with method S256 (RFC 7636)."""
    verifier = _b64url(secrets.token_bytes(48))
    return verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def authorize_url(provider, client, state, code_challenge, login_hint=None):
    """The URL to send the browser to: authorization code flow with PKCE S256."""
    params = {
        "client_id": client.client_id,
        "response_type": "code",
        "redirect_uri": client.redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    params.update(provider.extra_authorize_params)
    separator = "&" if "?" in provider.authorize_url else "?"
    return provider.authorize_url + separator + urllib.parse.urlencode(params)


def exchange_code(provider, client, code, verifier, *, ca_file=None, timeout=15.0):
    """Trade the authorization ``code`` (with its PKCE ``verifier``) for tokens."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    return _token_request(provider, client, form, (code, verifier), ca_file, timeout)


def refresh(provider, client, refresh_token, *, ca_file=None, timeout=15.0):
    """New tokens for ``refresh_token``; ``refresh_token`` of the result is None
    when the provider did not rotate it (keep the old one)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if provider.key == "microsoft":
        form["scope"] = " ".join(provider.scopes)
    tokens = _token_request(provider, client, form, (refresh_token,), ca_file, timeout)
    if tokens.refresh_token == refresh_token:
        tokens = dataclasses.replace(tokens, refresh_token=None)
    return tokens


# --------------------------------------------------------------------------------------
# The token endpoint


def _token_request(provider, client, form, hidden, ca_file, timeout):
    form = dict(form, client_id=client.client_id, client_secret=client.client_secret)
    hidden = (client.client_secret, *hidden)
    request = urllib.request.Request(
        provider.token_url,
        data=urllib.parse.urlencode(form).encode("ascii"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=create_ssl_context(ca_file))
    )
    started = time.time()
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read(_MAX_ANSWER)
        raise classify_error(provider, client, exc.code, body, hidden) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(provider, client, exc, hidden) from None
    return _token_set(provider, client, body, started, hidden)


def _network_error(provider, client, exc, hidden):
    reason = getattr(exc, "reason", exc)
    params = _params(provider, client)
    if isinstance(reason, ssl.SSLCertVerificationError):
        detail = reason.verify_message or "certificate not trusted"
        return OAuthError(**params, code="certificate", detail=detail)
    if isinstance(reason, TimeoutError | socket.timeout):
        detail = "no answer in time"
    elif isinstance(reason, OSError) and reason.strerror:
        detail = reason.strerror
    else:
        detail = clean_server_text(reason, hidden)
    return OAuthProviderUnavailable(**params, code="unavailable", detail=detail)


def _params(provider, client):
    return {
        "provider": provider.label,
        "host": urllib.parse.urlsplit(provider.token_url).hostname or "?",
        "port": urllib.parse.urlsplit(provider.token_url).port or 443,
        "redirect_uri": client.redirect_uri,
    }


def _token_set(provider, client, body, started, hidden):
    try:
        answer = json.loads(body)
        access_token = answer["access_token"]
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("empty access token")
        expires_in = float(answer.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        raise OAuthError(
            **_params(provider, client),
            code="invalid_response",
            detail="the token endpoint answered without an access token",
        ) from None
    claims = id_token_claims(answer.get("id_token"))
    account = (
        claims.get("preferred_username") or claims.get("email") or claims.get("upn")
    )
    return TokenSet(
        access_token=access_token,
        refresh_token=answer.get("refresh_token") or None,
        expires_at=started + expires_in,
        account=account or None,
        scope=answer.get("scope") or "",
    )


def id_token_claims(id_token):
    """The claims of a JWT, unverified (it comes straight from the token
    endpoint over verified TLS); ``{}`` when there is none or it is malformed."""
    try:
        payload = id_token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (AttributeError, IndexError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


# --------------------------------------------------------------------------------------
# Classifying the provider's answer

# Microsoft Entra (AADSTS) codes by meaning.
_AADSTS_GRANT = {700082, 50173, 70043, 70008, 54005, 700084, 50078, 50076, 50079}
_AADSTS_CONSENT = {65001, 90094, 90095, 65004}
_AADSTS_CLIENT = {50194, 500112, 7000215, 7000218, 700016, 50011, 500113, 70002}
_GRANT_ERRORS = {"invalid_grant", "interaction_required", "login_required"}
_CONSENT_ERRORS = {"consent_required", "access_denied"}
_CLIENT_ERRORS = {"invalid_client", "unauthorized_client", "redirect_uri_mismatch"}


def _answer_fields(body, hidden):
    try:
        answer = json.loads(body)
    except (ValueError, TypeError):
        answer = None
    if not isinstance(answer, dict):
        text = clean_server_text(body, hidden) if body else ""
        text = " ".join(re.sub(r"<[^>]*>", " ", text).split())  # an HTML page
        return "", mask_secrets(text, tokens=True), set()
    error = str(answer.get("error") or "")
    description = clean_server_text(
        str(answer.get("error_description") or error or "no details given"), hidden
    )
    listed = answer.get("error_codes")
    codes = {int(c) for c in re.findall(r"\bAADSTS(\d+)", description)}
    if isinstance(listed, list):
        codes |= {int(c) for c in listed if str(c).isdigit()}
    return error, mask_secrets(description, tokens=True), codes


def classify_error(provider, client, status, body, hidden=()):
    """The :class:`~.errors.OAuthError` for an HTTP error answer of the token
    endpoint: ``status`` and its ``body`` (JSON as RFC 6749 5.2, with
    Microsoft's ``error_codes``)."""
    error, detail, codes = _answer_fields(body, hidden)
    params = dict(_params(provider, client), code=error or str(status), detail=detail)
    if codes:
        params["code"] = "AADSTS%d" % min(codes)
    if status >= 500 or status == 429:
        params["detail"] = detail or "HTTP %d" % status
        return OAuthProviderUnavailable(**params)
    if codes & _AADSTS_CLIENT:
        return OAuthClientMisconfigured(**params)
    if codes & _AADSTS_CONSENT:
        return OAuthConsentRequired(**params)
    if codes & _AADSTS_GRANT:
        return OAuthGrantInvalid(**params)
    if error in _CLIENT_ERRORS or "redirect_uri" in detail.lower():
        return OAuthClientMisconfigured(**params)
    if error in _CONSENT_ERRORS:
        return OAuthConsentRequired(**params)
    if error in _GRANT_ERRORS or "expired or revoked" in detail.lower():
        return OAuthGrantInvalid(**params)
    return OAuthError(**params)


# --------------------------------------------------------------------------------------
# SASL for IMAP and POP3 (RFC 7628 OAUTHBEARER, Google/Microsoft XOAUTH2)

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


def choose_mechanism(offered):
    """XOAUTH2 when ``offered`` (upper-case names) has it, else OAUTHBEARER,
    else None."""
    for mechanism in MECHANISMS:
        if mechanism in offered:
            return mechanism
    return None


def sasl_response(mechanism, user, access_token):
    """The client's first (and only) SASL response, unencoded."""
    if mechanism == "XOAUTH2":
        return "user=%s\x01auth=Bearer %s\x01\x01" % (user, access_token)
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return "n,a=%s,\x01auth=Bearer %s\x01\x01" % (authzid, access_token)


def sasl_abort_response(mechanism):
    """What the client answers to an error challenge: a dummy response
    (``\\x01`` for OAUTHBEARER, RFC 7628 3.2.3; empty for XOAUTH2)."""
    return "\x01" if mechanism == "OAUTHBEARER" else ""


def challenge_detail(challenge, secrets=()):
    """A readable, masked summary of a server's SASL error challenge (the
    JSON status of XOAUTH2/OAUTHBEARER), e.g. ``status: 401, schemes: bearer``."""
    if isinstance(challenge, bytes | bytearray):
        challenge = bytes(challenge).decode("utf-8", "replace")
    try:
        answer = json.loads(challenge)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer:
        challenge = ", ".join("%s: %s" % item for item in answer.items())
    text = clean_server_text(challenge, tuple(secrets))
    return mask_secrets(text, tokens=True)
