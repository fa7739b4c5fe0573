"""SMTP submission (RFC 6409) with a user's own outgoing server.

:class:`SmtpSubmission` connects (SSL/TLS from the first byte, or STARTTLS,
refused when the server does not offer it), says EHLO and authenticates with
the password (AUTH PLAIN/LOGIN) or an OAuth2 access token (SASL XOAUTH2, else
OAUTHBEARER), every failure raised as a :class:`~.errors.MailError` with the
same diagnosis as for incoming mail. :attr:`SmtpSubmission.smtp` is then a
logged-in ``smtplib.SMTP`` that can send any number of messages: one
connection for a whole batch.

Failures while sending are classified by :func:`translate_send_error`: a
permanent refusal (5xx) as :class:`~.errors.SendRefused`, a transient one (4xx,
timeout, connection lost) as :class:`~.errors.SendDeferred`, to retry later.
"""

import functools
import logging
import smtplib
import socket

from . import oauth
from .connection import MailboxConnection
from .errors import (
    AuthenticationFailed,
    MailError,
    NetworkError,
    OAuthMechanismNotOffered,
    OAuthTokenRejected,
    PlaintextLoginDisabled,
    ProtocolError,
    SendDeferred,
    SendRefused,
    SmtpAuthNotOffered,
    SmtpPasswordAuthNotOffered,
    StartTlsNotOffered,
    clean_server_text,
    translate_exception,
)

_logger = logging.getLogger(__name__)

PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")


@functools.cache
def _local_hostname():
    """The name said in EHLO; ``socket.getfqdn()`` may cost a DNS round trip,
    once per process instead of once per connection."""
    return socket.getfqdn() or "localhost"


class _EngineSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` with the connect timeout for the TCP connection, the
    read timeout afterwards, and TLS from the first byte when an SSL context is
    given (implicit TLS, port 465)."""

    def __init__(self, settings, ssl_context, session):
        self._engine_settings = settings
        self._engine_ssl_context = ssl_context
        self._engine_session = session
        super().__init__(local_hostname=_local_hostname())
        self.timeout = settings.connect_timeout
        self._host = settings.host  # STARTTLS checks the certificate for it
        code, message = self.connect(settings.host, settings.port)
        if code != 220:
            self.close()
            raise smtplib.SMTPConnectError(code, message)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        self._engine_session.phase = "read"
        try:
            sock.settimeout(self._engine_settings.read_timeout)
            if self._engine_ssl_context is not None:
                sock = self._engine_ssl_context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return sock


def _reply_text(code, message, hidden=()):
    text = clean_server_text(message, tuple(hidden))
    return "%s %s" % (code, text) if code else text


def translate_send_error(exc, settings):
    """The :class:`~.errors.MailError` for a failure while sending a message:
    :class:`~.errors.SendRefused` (5xx, permanent) or
    :class:`~.errors.SendDeferred` (4xx, timeout, lost connection: transient)."""
    if isinstance(exc, SendRefused | SendDeferred):
        return exc
    params = {"host": settings.host, "port": settings.port, "login": settings.login}
    hidden = (settings.password, settings.access_token)
    code, reason = None, None
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # Every recipient refused: permanent only if every refusal is.
        replies = list(exc.recipients.values())
        code = max((c for c, _m in replies), default=None)
        if any(c < 500 for c, _m in replies):
            code = min(c for c, _m in replies)
        reason = "; ".join(
            "%s: %s" % (rcpt, _reply_text(c, m, hidden))
            for rcpt, (c, m) in exc.recipients.items()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, reason = exc.smtp_code, _reply_text(exc.smtp_code, exc.smtp_error, hidden)
    if code is not None:
        cls = SendRefused if code >= 500 else SendDeferred
        err = cls(**params, code=code, reason=reason)
    else:
        mapped = translate_exception(exc, settings)
        if isinstance(mapped, NetworkError) or isinstance(
            exc, smtplib.SMTPServerDisconnected
        ):
            err = SendDeferred(**params, code=0, reason=mapped.user_message())
        else:
            err = SendRefused(**params, code=0, reason=mapped.user_message())
    err.__cause__ = exc
    return err


class SmtpSubmission(MailboxConnection):
    """A logged-in SMTP submission session; use as a context manager.

    ``settings.protocol`` must be ``"smtp"``. :meth:`send` sends one message;
    :attr:`smtp` is the ``smtplib.SMTP`` object for callers that send
    themselves (Odoo's ``ir.mail_server.send_email``).
    """

    protocol = "smtp"
    label = "SMTP"

    @property
    def smtp(self):
        """The logged-in ``smtplib.SMTP``; ``RuntimeError`` when not connected."""
        return self._require_connection()

    @property
    def sessions(self):
        """How many connections this object has opened (for the benchmark)."""
        return self._opened

    def __init__(self, settings):
        super().__init__(settings)
        self._opened = 0

    def _open(self, ssl_context, session):
        self._opened += 1
        try:
            return _EngineSMTP(self.settings, ssl_context, session)
        except smtplib.SMTPConnectError as exc:
            raise ProtocolError(
                **self._params(), reason=_reply_text(exc.smtp_code, exc.smtp_error)
            ) from exc

    def _params(self):
        settings = self.settings
        return {"host": settings.host, "port": settings.port, "login": settings.login}

    def _log_in(self, ssl_context):
        settings = self.settings
        smtp = self._connection
        self._ehlo(smtp)
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise StartTlsNotOffered(**self._params())
            smtp.starttls(context=ssl_context)
            self._ehlo(smtp)
        if not smtp.has_extn("auth"):
            raise SmtpAuthNotOffered(**self._params())
        offered = {m.upper() for m in smtp.esmtp_features["auth"].split()}
        if settings.auth == "oauth2":
            self._oauth_log_in(smtp, offered)
        else:
            self._password_log_in(smtp, offered)

    def _ehlo(self, smtp):
        code, message = smtp.ehlo()
        if code != 250:
            raise ProtocolError(**self._params(), reason=_reply_text(code, message))

    def _password_log_in(self, smtp, offered):
        usable = [m for m in PASSWORD_MECHANISMS if m in offered]
        if not usable:
            raise SmtpPasswordAuthNotOffered(
                **self._params(), offered=" ".join(sorted(offered))
            )
        hidden = (self.settings.password,)
        try:
            smtp.login(self.settings.login, self.settings.password)
        except smtplib.SMTPAuthenticationError as exc:
            text = _reply_text(exc.smtp_code, exc.smtp_error, hidden)
            if exc.smtp_code == 538 or "ENCRYPTION" in text.upper():
                raise PlaintextLoginDisabled(**self._params()) from exc
            raise AuthenticationFailed(**self._params(), reason=text) from exc

    def _oauth_log_in(self, smtp, offered):
        settings = self.settings
        mechanism = oauth.choose_mechanism(offered)
        if mechanism is None:
            raise OAuthMechanismNotOffered(**self._params())
        hidden = (settings.access_token,)
        challenges = []

        def respond(challenge=None):
            if challenge is None:
                return oauth.sasl_response(
                    mechanism, settings.login, settings.access_token
                )
            challenges.append(challenge)  # an error challenge: abort
            return oauth.sasl_abort_response(mechanism)

        try:
            smtp.auth(mechanism, respond, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            detail = _reply_text(exc.smtp_code, exc.smtp_error, hidden)
            if challenges:
                detail = "%s; %s" % (
                    oauth.challenge_detail(challenges[0], hidden),
                    detail,
                )
            raise OAuthTokenRejected(**self._params(), detail=detail) from exc

    def _say_goodbye(self, connection):
        try:
            connection.quit()
        finally:
            connection.close()

    def _hard_close(self, connection):
        connection.close()

    def quit(self):
        """Send QUIT and close, never raising."""
        self._disconnect(goodbye=True)

    def close(self):
        """Close the socket without QUIT, never raising."""
        self._disconnect(goodbye=False)

    def send(self, from_addr, to_addrs, message):
        """Send ``message`` (bytes or ``email.message.Message``) to ``to_addrs``;
        returns the recipients refused while others were accepted
        (``{address: (code, text)}``). Raises :class:`~.errors.SendRefused` or
        :class:`~.errors.SendDeferred`."""
        smtp = self.smtp
        try:
            if isinstance(message, bytes | str):
                refused = smtp.sendmail(from_addr, list(to_addrs), message)
            else:
                refused = smtp.send_message(message, from_addr, list(to_addrs))
        except MailError:
            raise
        except Exception as exc:
            raise translate_send_error(exc, self.settings) from exc
        return {
            rcpt: (code, clean_server_text(text))
            for rcpt, (code, text) in refused.items()
        }
