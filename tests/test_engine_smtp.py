"""SMTP submission against Dovecot's real submission service.

Dovecot (scripts/devservices.py) relays what it accepts to the SMTP sink; the
tests read what the sink received. The sink refuses recipients named
``reject550...`` (550) and defers ``defer451...`` (451), and Dovecot passes
those replies back to the client as a real relay would.
"""

import email
import secrets
import smtplib
import time

import pytest

from carerix_mail.engine import (
    AuthenticationFailed,
    CertificateUntrusted,
    ConnectionRefused,
    HostNotFound,
    OAuthMechanismNotOffered,
    OAuthTokenRejected,
    ReadTimeout,
    SendDeferred,
    SendRefused,
    SmtpAuthNotOffered,
    SmtpSubmission,
    StartTlsNotOffered,
    TlsNotSpokenOnPort,
    default_port,
    translate_send_error,
)
from conftest import OAUTH_CLIENT


def _message(sender, to="bob@example.com", subject="Hello"):
    mid = "<smtp-%s@example.com>" % secrets.token_hex(6)
    raw = (
        "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nHello\r\n.line with a dot\r\n"
        % (sender, to, subject, mid)
    ).encode()
    return mid, raw


def _received(sink, message_id, timeout=10.0):
    """The sink's messages with ``message_id``, once there is one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            m
            for m in sink.messages()
            if email.message_from_bytes(m["raw"])["Message-ID"] == message_id
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _token(idp, user):
    return idp.issue(user.login, OAUTH_CLIENT[0])["access_token"]


def _login_method(server, login, expected, timeout=5.0):
    """The SASL mechanism of ``login``'s submission logins (Dovecot's log,
    written asynchronously): the first of ``expected`` logged, else the last
    one logged within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        methods = [
            line.split("method=")[1].split(",")[0]
            for line in server.log_file.read_text().splitlines()
            if "submission-login:" in line and "Login: user=<%s>," % login in line
        ]
        for method in methods:
            if method in expected:
                return method
        if time.monotonic() > deadline:
            return methods[-1] if methods else None
        time.sleep(0.05)


def test_engine_smtp_default_ports():
    assert default_port("smtp", "starttls") == 587
    assert default_port("smtp", "ssl") == 465


@pytest.mark.parametrize("security", ["starttls", "ssl", "none"])
def test_engine_smtp_password_send(security, mail_user, smtp_sink):
    sender = "%s@example.com" % mail_user.login
    mid, raw = _message(sender)
    with SmtpSubmission(mail_user.settings("smtp", security)) as submission:
        assert submission.send(sender, ["bob@example.com"], raw) == {}
    (got,) = _received(smtp_sink, mid)
    assert got["mail_from"] == sender
    assert got["rcpt_tos"] == ["bob@example.com"]
    msg = email.message_from_bytes(got["raw"])
    assert msg["From"] == sender and msg["Subject"] == "Hello"
    assert b"\r\n.line with a dot\r\n" in got["raw"]
    assert _login_method(mail_user.server, mail_user.login, ("PLAIN", "LOGIN")) in (
        "PLAIN",
        "LOGIN",
    )


def test_engine_smtp_one_connection_for_many_messages(mail_user, smtp_sink):
    sender = "%s@example.com" % mail_user.login
    before = smtp_sink.connections
    ids = []
    with SmtpSubmission(mail_user.settings("smtp", "starttls")) as submission:
        for n in range(5):
            mid, raw = _message(sender, subject="n%d" % n)
            ids.append(mid)
            submission.send(sender, ["bob@example.com"], raw)
        assert submission.sessions == 1
    for mid in ids:
        assert len(_received(smtp_sink, mid)) == 1
    # Dovecot relays one client session over one connection to the sink.
    assert smtp_sink.connections - before == 1


def test_engine_smtp_wrong_password(mail_user):
    settings = mail_user.settings("smtp", "starttls", password="Wrong-Secret-42")
    with pytest.raises(AuthenticationFailed) as info:
        SmtpSubmission(settings).connect()
    assert type(info.value) is AuthenticationFailed
    assert mail_user.login in str(info.value)
    assert "Wrong-Secret-42" not in str(info.value)
    assert "Wrong-Secret-42" not in repr(info.value.params)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_engine_smtp_oauth_send(
    mechanism, security, idp, mail_user, bearer_user, smtp_sink
):
    user = mail_user if mechanism == "XOAUTH2" else bearer_user
    settings = user.settings(
        "smtp", security, auth="oauth2", access_token=_token(idp, user), password=""
    )
    sender = "%s@example.com" % user.login
    mid, raw = _message(sender)
    with SmtpSubmission(settings) as submission:
        submission.send(sender, ["carol@example.com"], raw)
    assert _received(smtp_sink, mid)[0]["rcpt_tos"] == ["carol@example.com"]
    assert _login_method(user.server, user.login, (mechanism,)) == mechanism


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_engine_smtp_oauth_token_rejected(mechanism, idp, mail_user, bearer_user):
    user = mail_user if mechanism == "XOAUTH2" else bearer_user
    token = _token(idp, user)
    idp.revoke(user.login)
    settings = user.settings(
        "smtp", "starttls", auth="oauth2", access_token=token, password=""
    )
    with pytest.raises(OAuthTokenRejected) as info:
        SmtpSubmission(settings).connect()
    assert info.value.detail and "535" in info.value.detail
    assert token not in str(info.value) and token not in repr(info.value.params)


def test_engine_smtp_oauth_not_offered(idp, plain_user):
    settings = plain_user.settings(
        "smtp", "none", auth="oauth2", access_token="x" * 40, password=""
    )
    with pytest.raises(OAuthMechanismNotOffered):
        SmtpSubmission(settings).connect()


def test_engine_smtp_starttls_not_offered(plain_user):
    with pytest.raises(StartTlsNotOffered) as info:
        SmtpSubmission(plain_user.settings("smtp", "starttls")).connect()
    assert str(plain_user.server.submission_port) in str(info.value)


def test_engine_smtp_auth_not_offered(mail_user, smtp_sink):
    """The sink is an SMTP server without AUTH (a relay port, not submission)."""
    settings = mail_user.settings("smtp", "none", port=smtp_sink.port)
    with pytest.raises(SmtpAuthNotOffered) as info:
        SmtpSubmission(settings).connect()
    assert "AUTH" in str(info.value) and "587" in str(info.value)


def test_engine_smtp_tls_on_plain_port(mail_user):
    port = mail_user.server.submission_port
    with pytest.raises(TlsNotSpokenOnPort):
        SmtpSubmission(mail_user.settings("smtp", "ssl", port=port)).connect()


def test_engine_smtp_untrusted_certificate(mail_user):
    settings = mail_user.settings("smtp", "ssl", ca_file=None)
    with pytest.raises(CertificateUntrusted):
        SmtpSubmission(settings).connect()


def test_engine_smtp_network_failures(mail_user, closed_port, silent_server):
    with pytest.raises(HostNotFound):
        SmtpSubmission(
            mail_user.settings("smtp", "ssl", host="smtp.nonexistent.invalid")
        ).connect()
    with pytest.raises(ConnectionRefused):
        SmtpSubmission(mail_user.settings("smtp", "none", port=closed_port)).connect()
    started = time.monotonic()
    settings = mail_user.settings("smtp", "none", port=silent_server, read_timeout=1.0)
    with pytest.raises(ReadTimeout) as info:
        SmtpSubmission(settings).connect()
    assert time.monotonic() - started < 5
    assert "1 seconds" in str(info.value)


def test_engine_smtp_permanent_and_transient_refusals(mail_user, smtp_sink):
    sender = "%s@example.com" % mail_user.login
    with SmtpSubmission(mail_user.settings("smtp", "starttls")) as submission:
        _mid, raw = _message(sender)
        with pytest.raises(SendRefused) as refused:
            submission.send(sender, ["reject550@example.com"], raw)
        assert refused.value.code == 550
        assert "reject550@example.com" in str(refused.value)
        with pytest.raises(SendDeferred) as deferred:
            submission.send(sender, ["defer451@example.com"], raw)
        assert deferred.value.code == 451
        # One recipient refused among others: sent to the rest, refusal returned.
        mid, raw = _message(sender)
        refusals = submission.send(
            sender, ["reject550@example.com", "dave@example.com"], raw
        )
        assert list(refusals) == ["reject550@example.com"]
        assert refusals["reject550@example.com"][0] == 550
        # Still usable after the refusals: one session for all of it.
        assert submission.sessions == 1
    assert _received(smtp_sink, mid)[0]["rcpt_tos"] == ["dave@example.com"]


def test_engine_smtp_lost_connection_is_transient(mail_user):
    settings = mail_user.settings("smtp", "starttls")
    err = translate_send_error(smtplib.SMTPServerDisconnected("gone"), settings)
    assert isinstance(err, SendDeferred) and err.code == 0
    err = translate_send_error(TimeoutError("timed out"), settings)
    assert isinstance(err, SendDeferred)
    err = translate_send_error(
        smtplib.SMTPDataError(554, b"5.6.0 Message content rejected"), settings
    )
    assert isinstance(err, SendRefused) and "content rejected" in str(err)
