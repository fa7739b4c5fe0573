"""Error taxonomy, settings and TLS context: no server needed.

Real failures are covered against Dovecot in test_engine_imap/test_engine_pop3;
here exceptions are built by hand only for faults a local server cannot produce
(a connect timeout, an expired certificate, a DNS failure code, ...).
"""

import errno
import imaplib
import pickle
import poplib
import re
import socket
import ssl
from pathlib import Path

import pytest
from imapclient import exceptions as imapclient_exceptions

from carerix_mail.engine import (
    AuthenticationFailed,
    CertificateAuthorityFileInvalid,
    CertificateError,
    CertificateHostMismatch,
    CertificateUntrusted,
    ConnectionLost,
    ConnectionRefused,
    ConnectionSettings,
    ConnectionTimeout,
    FolderNotFound,
    HostNotFound,
    MailError,
    NetworkError,
    PlaintextLoginDisabled,
    ProtocolError,
    ReadTimeout,
    StartTlsNotOffered,
    TlsError,
    TlsHandshakeFailed,
    TlsNotSpokenOnPort,
    clean_server_text,
    create_ssl_context,
    default_port,
    diagnose,
    errors,
    translate_exception,
)

SECRET = "S3cr3t-Pa55word"
SETTINGS = ConnectionSettings(
    host="mail.example.com",
    port=993,
    login="jan@example.com",
    password=SECRET,
    protocol="imap",
    security="ssl",
    connect_timeout=15.0,
    read_timeout=60.0,
)
ALL_ERRORS = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, MailError)
]


def _cert_error(code, message):
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] " + message)
    exc.verify_code = code
    exc.verify_message = message
    exc.reason = "CERTIFICATE_VERIFY_FAILED"
    return exc


# -- settings ------------------------------------------------------------------------


def test_engine_errors_settings_hide_password():
    assert SECRET not in repr(SETTINGS) and SECRET not in str(SETTINGS)
    assert "jan@example.com" in repr(SETTINGS)
    with pytest.raises(AttributeError):
        SETTINGS.password = "x"  # frozen


@pytest.mark.parametrize(
    "protocol, security, port",
    [
        ("imap", "none", 143),
        ("imap", "starttls", 143),
        ("imap", "ssl", 993),
        ("pop3", "none", 110),
        ("pop3", "starttls", 110),
        ("pop3", "ssl", 995),
    ],
)
def test_engine_errors_default_port(protocol, security, port):
    assert default_port(protocol, security) == port
    settings = ConnectionSettings("h", None, "l", "p", protocol, security)
    assert settings.port == port


@pytest.mark.parametrize(
    "overrides",
    [
        {"protocol": "lmtp"},
        {"security": "tls"},
        {"security": "None"},
        {"port": 0},
        {"port": 70000},
        {"host": ""},
        {"connect_timeout": 0},
        {"read_timeout": -1},
    ],
)
def test_engine_errors_settings_validation(overrides):
    values = {"host": "h", "port": 143, "login": "l", "password": "p"}
    values.update(overrides)
    with pytest.raises(ValueError):
        ConnectionSettings(**values)


def test_engine_errors_tls_context_always_verifies(tmp_path):
    context = create_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    with pytest.raises(CertificateAuthorityFileInvalid) as info:
        create_ssl_context(str(tmp_path / "missing.pem"))
    assert "missing.pem" in str(info.value)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(CertificateAuthorityFileInvalid):
        create_ssl_context(str(garbage))


def test_engine_errors_tls_context_shared_until_the_ca_file_changes(tmp_path, dovecot):
    assert create_ssl_context() is create_ssl_context()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(Path(dovecot.ca_file).read_bytes())
    first = create_ssl_context(str(ca_file))
    assert create_ssl_context(str(ca_file)) is first
    assert len(first.get_ca_certs()) == 1
    ca_file.write_bytes(ca_file.read_bytes() * 2)  # changed: read again
    assert create_ssl_context(str(ca_file)) is not first
    ca_file.write_text("not a certificate")  # a broken file is never cached
    with pytest.raises(CertificateAuthorityFileInvalid):
        create_ssl_context(str(ca_file))


# -- the hierarchy and its messages --------------------------------------------------


def test_engine_errors_every_template_is_marked_for_translation():
    source = Path(errors.__file__).read_text()
    assigned = re.findall(r"^    template = (\S+)", source, re.MULTILINE)
    assert assigned and all(value.startswith("_lt(") for value in assigned)
    assert len(assigned) == len(ALL_ERRORS)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_engine_errors_every_class_renders(cls):
    err = cls(
        host="h.example",
        port=1,
        login="l",
        reason="r",
        folder="F",
        timeout="2",
        ca_file="ca.pem",
        uid=1,
        size=2,
        limit=1,
        provider="Microsoft",
        code="invalid_grant",
        detail="d",
        redirect_uri="https://odoo.example.com/cb",
        offered="XOAUTH2",
    )
    text = str(err)
    assert text and "%(" not in text and "?" not in text
    assert err.user_message() == text
    assert pickle.loads(pickle.dumps(err)).params == err.params


def test_engine_errors_missing_param_never_raises():
    assert "?" in str(AuthenticationFailed(login="l"))


def test_engine_errors_user_message_translates():
    err = AuthenticationFailed(host="imap.example.com", login="jan")

    def to_dutch(text):
        assert text == AuthenticationFailed.template
        return "De server %(host)s weigert %(login)s."

    assert err.user_message(to_dutch) == "De server imap.example.com weigert jan."
    assert err.user_message(lambda text: "kapot %(onbekend)d") == str(err)
    assert err.user_message(lambda text: None) == str(err)


def test_engine_errors_hierarchy():
    assert issubclass(CertificateUntrusted, CertificateError)
    assert issubclass(CertificateHostMismatch, CertificateError)
    assert issubclass(CertificateError, TlsError)
    assert issubclass(TlsHandshakeFailed, TlsError)
    assert issubclass(StartTlsNotOffered, TlsError)
    assert issubclass(ReadTimeout, ConnectionTimeout)
    assert issubclass(PlaintextLoginDisabled, AuthenticationFailed)
    for cls in (HostNotFound, ConnectionRefused, ConnectionTimeout, ConnectionLost):
        assert issubclass(cls, NetworkError)


# -- mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc, cls, fragment",
    [
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            HostNotFound,
            "Name or service not known",
        ),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
            ConnectionRefused,
            "993",
        ),
        (
            _cert_error(20, "unable to get local issuer certificate"),
            CertificateUntrusted,
            "unable to get local issuer certificate",
        ),
        (
            _cert_error(18, "self-signed certificate"),
            CertificateUntrusted,
            "self-signed",
        ),
        (
            _cert_error(62, "Hostname mismatch, certificate is not valid for 'x'."),
            CertificateHostMismatch,
            "Hostname mismatch",
        ),
        (
            _cert_error(64, "IP address mismatch, certificate is not valid for 'y'."),
            CertificateHostMismatch,
            "IP address mismatch",
        ),
        (_cert_error(10, "certificate has expired"), CertificateError, "expired"),
        (
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            TlsNotSpokenOnPort,
            "does not speak SSL/TLS on port 993",
        ),
        (
            ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] alert"),
            TlsHandshakeFailed,
            "could not be set up",
        ),
        (
            imapclient_exceptions.LoginError(
                "b'[AUTHENTICATIONFAILED] Authentication failed.'"
            ),
            AuthenticationFailed,
            "jan@example.com",
        ),
        (
            imapclient_exceptions.CapabilityError("Server does not support STARTTLS"),
            StartTlsNotOffered,
            "does not offer STARTTLS",
        ),
        (
            poplib.error_proto(b"-ERR [AUTH] Authentication failed."),
            AuthenticationFailed,
            "rejected the user name or password",
        ),
        (
            poplib.error_proto(b"-ERR [AUTH] Plaintext authentication disallowed"),
            PlaintextLoginDisabled,
            "without encryption",
        ),
        (
            imaplib.IMAP4.error("fetch failed: b'Internal server error'"),
            ProtocolError,
            "answered with an error: Internal server error",
        ),
        (
            imaplib.IMAP4.abort("socket error: EOF"),
            ConnectionLost,
            "closed the connection",
        ),
        (
            ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
            ConnectionLost,
            "ECONNRESET",
        ),
        (
            OSError(errno.ENETUNREACH, "Network is unreachable"),
            NetworkError,
            "Network is unreachable (ENETUNREACH)",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_engine_errors_translate(exc, cls, fragment):
    err = translate_exception(exc, SETTINGS)
    assert type(err) is cls
    text = str(err)
    assert fragment in text
    assert "unknown error" not in text.lower()
    assert err.__cause__ is exc
    assert err.params["host"] == "mail.example.com"


def test_engine_errors_timeout_says_when():
    during_connect = translate_exception(TimeoutError(), SETTINGS, phase="connect")
    assert type(during_connect) is ConnectionTimeout
    assert "could not be reached within 15 seconds" in str(during_connect)
    waiting = translate_exception(TimeoutError("timed out"), SETTINGS, phase="read")
    assert type(waiting) is ReadTimeout
    assert "did not answer within 60 seconds" in str(waiting)


def test_engine_errors_folder_not_found():
    exc = imaplib.IMAP4.error("select failed: [NONEXISTENT] Mailbox doesn't exist: X")
    err = translate_exception(exc, SETTINGS, folder="Archief/2023")
    assert isinstance(err, FolderNotFound)
    assert "Archief/2023" in str(err)


def test_engine_errors_password_scrubbed_from_server_text():
    exc = imaplib.IMAP4.error("b'BAD command LOGIN jan %s'" % SECRET)
    err = translate_exception(exc, SETTINGS)
    assert SECRET not in str(err) and SECRET not in repr(err.params)
    assert "********" in str(err)


def test_engine_errors_clean_server_text():
    assert clean_server_text(b"NO [ALERT] quota \xe2\x82\xac") == "NO [ALERT] quota €"
    assert clean_server_text("[b'NO', b'foo  bar']") == "NO foo bar"
    assert clean_server_text("command: FETCH => BAD parse") == "BAD parse"
    assert clean_server_text("") == "no details given"
    assert len(clean_server_text("x" * 5000)) <= 300


def test_engine_errors_unexpected_exception_is_still_specific():
    err = translate_exception(ValueError("odd"), SETTINGS)
    assert isinstance(err, MailError) and "ValueError: odd" in str(err)


def test_engine_errors_diagnose_context_manager():
    with pytest.raises(ConnectionRefused) as info:
        with diagnose(SETTINGS):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    original = FolderNotFound(folder="x")
    with pytest.raises(FolderNotFound) as info:
        with diagnose(SETTINGS):
            raise original
    assert info.value is original
