"""One error hierarchy for everything that can go wrong talking to a mail server.

Every class carries a user-facing English ``template`` with named placeholders and
every instance keeps the values in ``params``. Nothing in ``params`` is ever the
password, a ``bytes`` repr or a traceback: server text is cleaned by
:func:`clean_server_text` first. The original exception stays in ``__cause__`` for
the logs.

The templates are wrapped in ``_lt`` (a no-op here) so that Odoo's translation
extractor picks them up; the Odoo layer translates them with
``err.user_message(translate=env._)``.

:func:`translate_exception` (or the :func:`diagnose` context manager) turns any
low-level exception (socket, ssl, imaplib/imapclient, poplib, smtplib) into one
of these.
"""

import contextlib
import errno as errno_module
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl

from imapclient import exceptions as imapclient_exceptions


def _lt(text):
    """Mark ``text`` for translation; the Odoo layer translates it lazily."""
    return text


class _Params(dict):
    """Parameters for ``template % params`` that never raise on a missing key."""

    def __missing__(self, key):
        return "?"


def _rebuild(cls, params):
    err = cls.__new__(cls)
    MailError.__init__(err, **params)
    return err


class MailError(Exception):
    """Base class of every engine error; ``str(err)`` is the English message."""

    template = _lt("The mail server %(host)s could not be used: %(reason)s")

    def __init__(self, **params):
        self.params = dict(params)
        super().__init__(self._render(self.template))

    def _render(self, template):
        try:
            return template % _Params(self.params)
        except (TypeError, ValueError):
            return self.template % _Params(self.params)

    def __str__(self):
        return self._render(self.template)

    def __reduce__(self):
        return (_rebuild, (self.__class__, self.params))

    def user_message(self, translate=None):
        """The message for a user, translated by ``translate(template)`` if given."""
        template = self.template
        if translate is not None:
            try:
                template = translate(template) or self.template
            except Exception:  # a broken translation must not hide the error
                template = self.template
        return self._render(template)


class AuthenticationFailed(MailError):
    template = _lt(
        "The mail server %(host)s rejected the user name or password for %(login)s."
    )


class PlaintextLoginDisabled(AuthenticationFailed):
    template = _lt(
        "The mail server %(host)s refuses to log in %(login)s without encryption. "
        "Choose the security setting STARTTLS or SSL/TLS."
    )


class NetworkError(MailError):
    """The connection could not be made or was lost."""

    template = _lt(
        "The connection to the mail server %(host)s:%(port)s failed: %(reason)s."
    )


class HostNotFound(NetworkError):
    template = _lt(
        "The mail server %(host)s was not found. Check the server name (%(reason)s)."
    )


class ConnectionRefused(NetworkError):
    template = _lt(
        "The mail server %(host)s refused the connection on port %(port)s. "
        "Check the port and the security setting."
    )


class ConnectionTimeout(NetworkError):
    template = _lt(
        "The mail server %(host)s:%(port)s could not be reached within %(timeout)s "
        "seconds. Check the server name, the port and any firewall."
    )


class ReadTimeout(ConnectionTimeout):
    template = _lt(
        "The mail server %(host)s:%(port)s accepted the connection but did not "
        "answer within %(timeout)s seconds. Check the port and the security setting."
    )


class ConnectionLost(NetworkError):
    template = _lt(
        "The mail server %(host)s:%(port)s closed the connection unexpectedly "
        "(%(reason)s)."
    )


class TlsError(MailError):
    template = _lt("The secure connection to %(host)s:%(port)s failed: %(reason)s.")


class TlsHandshakeFailed(TlsError):
    template = _lt(
        "The secure (TLS) connection to %(host)s:%(port)s could not be set up: "
        "%(reason)s."
    )


class TlsNotSpokenOnPort(TlsHandshakeFailed):
    template = _lt(
        "The mail server %(host)s does not speak SSL/TLS on port %(port)s "
        "(%(reason)s). Check the port, or choose STARTTLS or no encryption for it."
    )


class CertificateError(TlsError):
    template = _lt(
        "The certificate of the mail server %(host)s is not valid: %(reason)s."
    )


class CertificateUntrusted(CertificateError):
    template = _lt(
        "The certificate of the mail server %(host)s is not signed by a trusted "
        "authority (%(reason)s)."
    )


class CertificateHostMismatch(CertificateError):
    template = _lt(
        "The certificate of the mail server is not valid for the name %(host)s "
        "(%(reason)s). Use the server name the certificate was issued for."
    )


class CertificateAuthorityFileInvalid(CertificateError):
    template = _lt(
        "The certificate authority file %(ca_file)s cannot be used: %(reason)s."
    )


class StartTlsNotOffered(TlsError):
    template = _lt(
        "The mail server %(host)s:%(port)s does not offer STARTTLS, so no secure "
        "connection is possible on this port. Choose SSL/TLS on its SSL port."
    )


class FolderNotFound(MailError):
    template = _lt("The folder %(folder)s does not exist on the mail server %(host)s.")


class ProtocolError(MailError):
    template = _lt("The mail server %(host)s answered with an error: %(reason)s")


class _Detailed:
    """``code`` and ``detail`` of an OAuth error, read from its params."""

    @property
    def code(self):
        """The provider's or server's error code (``invalid_grant``, ...), or None."""
        return self.params.get("code")

    @property
    def detail(self):
        """The provider's or server's explanation, cleaned and masked, or None."""
        return self.params.get("detail")


class OAuthError(_Detailed, MailError):
    """The sign-in provider refused a request (code exchange or refresh)."""

    template = _lt(
        "The sign-in service of %(provider)s refused the request: %(detail)s "
        "(%(code)s)."
    )


class OAuthGrantInvalid(OAuthError):
    template = _lt(
        "The permission to read the mailbox through %(provider)s has expired or "
        "was withdrawn (%(detail)s). Connect the mailbox again."
    )


class OAuthConsentRequired(OAuthError):
    template = _lt(
        "%(provider)s needs an administrator's consent before this application may "
        "read mailboxes (%(detail)s). Ask your administrator to grant it."
    )


class OAuthClientMisconfigured(OAuthError):
    template = _lt(
        "The application registered at %(provider)s does not accept this sign-in "
        "(%(detail)s). An administrator must check the client ID, the client secret "
        "and the redirect URI %(redirect_uri)s."
    )


class OAuthProviderUnavailable(OAuthError, NetworkError):
    template = _lt(
        "The sign-in service of %(provider)s is unavailable right now (%(detail)s). "
        "It will be tried again later."
    )


class OAuthMechanismNotOffered(AuthenticationFailed):
    template = _lt(
        "The mail server %(host)s does not offer sign-in with OAuth2 (XOAUTH2 or "
        "OAUTHBEARER) for %(login)s. Use password sign-in for this server."
    )


class OAuthTokenRejected(_Detailed, AuthenticationFailed):
    template = _lt(
        "The mail server %(host)s did not accept the access token of %(login)s "
        "(%(detail)s)."
    )


class OAuthSessionExpired(ConnectionLost):
    template = _lt(
        "The mail server %(host)s:%(port)s ended the session because the access "
        "token expired (%(reason)s)."
    )


class SmtpAuthNotOffered(MailError):
    template = _lt(
        "The mail server %(host)s:%(port)s does not offer to sign in (AUTH) on this "
        "connection. Choose STARTTLS or SSL/TLS if it asks for encryption first, and "
        "check that the port is a submission port (587 or 465)."
    )


class SmtpPasswordAuthNotOffered(SmtpAuthNotOffered):
    template = _lt(
        "The mail server %(host)s:%(port)s does not accept a password to sign in "
        "(it offers %(offered)s). Use the sign-in method it expects."
    )


class SendError(MailError):
    """The outgoing server did not take a message; ``code`` is its SMTP reply
    code (0 when there was none)."""

    template = _lt(
        "The outgoing mail server %(host)s did not accept the message: %(reason)s"
    )

    @property
    def code(self):
        return self.params.get("code") or 0


class SendRefused(SendError):
    """Refused for good (5xx): sending again will not help."""

    template = _lt("The outgoing mail server %(host)s refused the message: %(reason)s")


class SendDeferred(SendError):
    """Not sent now (4xx, timeout, connection lost): try again later."""

    template = _lt(
        "The outgoing mail server %(host)s could not take the message now "
        "(%(reason)s). It will be tried again later."
    )


# --------------------------------------------------------------------------------------
# Cleaning server text
# --------------------------------------------------------------------------------------

_BYTES_REPR = re.compile(r"""\bb(['"])(.*?)\1(,\s*)?""")
_MAX_REASON = 300


def clean_server_text(value, password=None):
    """Turn anything a library put in an exception into a short readable text.

    Decodes bytes, unwraps ``b'...'`` reprs, drops imaplib's ``command: X =>``
    prefixes, collapses whitespace and replaces the password (a string, or a
    tuple of secrets such as a password and an access token) by ``********``.
    """
    if isinstance(value, BaseException):
        args = [a for a in value.args if a not in (None, "")]
        value = " ".join(
            a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)
            for a in args
        )
    elif isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    elif isinstance(value, list | tuple):
        value = " ".join(clean_server_text(v) for v in value)
    text = str(value)
    for _ in range(3):  # nested reprs such as "[b'NO ...']"
        new = _BYTES_REPR.sub(lambda m: m.group(2) + (" " if m.group(3) else ""), text)
        if new == text:
            break
        text = new
    text = re.sub(r"^\s*\[(.*)\]\s*$", r"\1", text)
    text = re.sub(r"\b\w+ command error: BAD\b", "", text)
    text = re.sub(r"\b(command: )?\w+ => ", "", text)
    text = re.sub(r"^\s*\w+ failed: ", "", text)
    text = text.replace("\\r\\n", " ").replace("\\n", " ")
    text = " ".join(text.split())
    text = mask_secrets(text, password)
    if len(text) > _MAX_REASON:
        text = text[: _MAX_REASON - 1] + "…"
    return text or "no details given"


# Bearer tokens and JWTs, which a server may quote back.
_TOKEN_LIKE = re.compile(
    r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]*|(?<![A-Za-z0-9_./+~-])"
    r"[A-Za-z0-9_./+~-]{40,}={0,2}"
)


def mask_secrets(text, secrets=None, *, tokens=False):
    """``text`` with every secret in ``secrets`` (a string or a tuple of them)
    replaced by ``********``; with ``tokens`` also anything that looks like a
    bearer token or a JWT."""
    if isinstance(secrets, str):
        secrets = (secrets,)
    for secret in sorted(filter(None, secrets or ()), key=len, reverse=True):
        text = text.replace(secret, "********")
    if tokens:
        text = _TOKEN_LIKE.sub("********", text)
    return text


# --------------------------------------------------------------------------------------
# Mapping library exceptions
# --------------------------------------------------------------------------------------

_UNTRUSTED_CODES = {2, 18, 19, 20, 21, 27, 28}
_HOST_MISMATCH_CODES = {62, 64}


def _base_params(settings):
    return {
        "host": getattr(settings, "host", "?"),
        "port": getattr(settings, "port", "?"),
        "login": getattr(settings, "login", "?"),
    }


def _is_auth_failure(text):
    upper = text.upper()
    return any(
        marker in upper
        for marker in (
            "AUTHENTICATIONFAILED",
            "[AUTH]",
            "AUTHENTICATION FAILED",
            "LOGIN FAILED",
            "INVALID CREDENTIALS",
            "[AUTHORIZATIONFAILED]",
            "BAD USER NAME OR PASSWORD",
            "INVALID LOGIN",
        )
    )


def _is_plaintext_refused(text):
    upper = text.upper()
    return (
        "PLAINTEXT" in upper or "LOGINDISABLED" in upper or "[PRIVACYREQUIRED]" in upper
    )


def _is_missing_folder(text):
    upper = text.upper()
    return any(
        marker in upper
        for marker in (
            "[NONEXISTENT]",
            "[TRYCREATE]",
            "DOESN'T EXIST",
            "DOES NOT EXIST",
            "NO SUCH MAILBOX",
            "UNKNOWN MAILBOX",
            "MAILBOX NOT FOUND",
        )
    )


def _ssl_reason(exc):
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or reason
    if not reason:
        reason = clean_server_text(exc)
    return str(reason).replace("_", " ").lower() if reason.isupper() else str(reason)


def translate_exception(exc, settings, *, phase="read", folder=None, timeout=None):
    """Map any exception raised while talking to a server to a :class:`MailError`.

    ``phase`` is ``"connect"`` while the TCP connection is being made and
    ``"read"`` afterwards (it tells a connect timeout from a server that does not
    answer). ``folder`` is the folder being worked on, if any. The returned error
    has ``__cause__`` set to ``exc``; a :class:`MailError` is returned unchanged.
    """
    if isinstance(exc, MailError):
        return exc
    password = (
        getattr(settings, "password", None),
        getattr(settings, "access_token", None),
    )
    params = _base_params(settings)
    if timeout is None:
        timeout = getattr(
            settings, "connect_timeout" if phase == "connect" else "read_timeout", "?"
        )
    err = _map(exc, settings, params, password, phase, folder, timeout)
    err.__cause__ = exc
    return err


_SESSION_EXPIRED = re.compile(
    r"AccessTokenExpired|token (has )?expired|expired token|session invalidated",
    re.IGNORECASE,
)


def _map_oauth(exc, params, password):
    """An OAuth session ended by the server (``BYE ... AccessTokenExpired``)."""
    if isinstance(exc, imaplib.IMAP4.error | poplib.error_proto):
        text = clean_server_text(exc, password)
        if _SESSION_EXPIRED.search(text):
            return OAuthSessionExpired(**params, reason=text)
    return None


def _map_tls(exc, params):
    """A certificate or TLS handshake failure (``exc`` an ``ssl.SSLError``)."""
    reason = _ssl_reason(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code in _HOST_MISMATCH_CODES or "mismatch" in reason.lower():
            return CertificateHostMismatch(**params, reason=reason)
        if code in _UNTRUSTED_CODES:
            return CertificateUntrusted(**params, reason=reason)
        return CertificateError(**params, reason=reason)
    if "WRONG_VERSION_NUMBER" in str(exc).upper() or "wrong version" in reason:
        return TlsNotSpokenOnPort(**params, reason=reason)
    return TlsHandshakeFailed(**params, reason=reason)


def _map_server_text(text, params, folder):
    """An IMAP or POP3 error answer, from its (cleaned) ``text``."""
    if text.upper().startswith("-ERR "):
        text = text[5:].strip()
    if _is_plaintext_refused(text):
        return PlaintextLoginDisabled(**params)
    if _is_auth_failure(text):
        return AuthenticationFailed(**params, reason=text)
    if folder is not None and _is_missing_folder(text):
        return FolderNotFound(**params, folder=folder)
    if text.upper() == "EOF" or "EOF" in text.upper().split():
        return ConnectionLost(**params, reason="the server ended the session")
    return ProtocolError(**params, reason=text)


def _map(exc, settings, params, password, phase, folder, timeout):  # noqa: C901
    if getattr(settings, "auth", "password") == "oauth2":
        err = _map_oauth(exc, params, password)
        if err is not None:
            return err
    # imapclient's LoginError is an imaplib.IMAP4.error; checked before the others.
    if isinstance(exc, imapclient_exceptions.LoginError):
        text = clean_server_text(exc, password)
        if _is_plaintext_refused(text):
            return PlaintextLoginDisabled(**params)
        return AuthenticationFailed(**params, reason=text)
    if (
        isinstance(exc, imapclient_exceptions.CapabilityError)
        and "STARTTLS" in str(exc).upper()
    ):
        return StartTlsNotOffered(**params)
    if isinstance(exc, socket.gaierror):
        reason = exc.strerror or clean_server_text(exc, password)
        return HostNotFound(**params, reason=reason)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionRefused(**params)
    if isinstance(exc, ssl.SSLError):
        return _map_tls(exc, params)
    if isinstance(exc, TimeoutError | socket.timeout):
        cls = ConnectionTimeout if phase == "connect" else ReadTimeout
        return cls(**params, timeout=_fmt_seconds(timeout))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a timeout or a reset while reading into this.
        inner = exc.__context__
        if isinstance(inner, OSError) and not isinstance(inner, type(exc)):
            return _map(inner, settings, params, password, phase, folder, timeout)
        return ConnectionLost(**params, reason=clean_server_text(exc, password))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = clean_server_text(exc.smtp_error, password)
        return ProtocolError(**params, reason="%s %s" % (exc.smtp_code, text))
    if isinstance(exc, imaplib.IMAP4.abort):
        return ConnectionLost(**params, reason=clean_server_text(exc, password))
    if isinstance(exc, imaplib.IMAP4.error | poplib.error_proto):
        return _map_server_text(clean_server_text(exc, password), params, folder)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ConnectionLost(**params, reason=_errno_text(exc, password))
    if isinstance(exc, OSError):
        return NetworkError(**params, reason=_errno_text(exc, password))
    if isinstance(exc, UnicodeError):
        return ProtocolError(**params, reason=clean_server_text(exc, password))
    return MailError(
        **params,
        reason="%s: %s" % (type(exc).__name__, clean_server_text(exc, password)),
    )


def _fmt_seconds(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _errno_text(exc, password=None):
    if exc.errno:
        name = errno_module.errorcode.get(exc.errno, str(exc.errno))
        return "%s (%s)" % (exc.strerror or os.strerror(exc.errno), name)
    return clean_server_text(exc, password) if exc.args else type(exc).__name__


@contextlib.contextmanager
def diagnose(settings, *, phase="read", folder=None):
    """Context manager raising :func:`translate_exception` of any exception inside."""
    try:
        yield
    except MailError:
        raise
    except Exception as exc:
        raise translate_exception(exc, settings, phase=phase, folder=folder) from exc
