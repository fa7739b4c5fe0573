"""Shared fixtures for the engine tests: a real Dovecot per session, a user per test.

The engine is imported without running ``carerix_mail/__init__.py`` (which loads
the Odoo models): ``carerix_mail`` is registered as a bare package whose only
importable content here is ``carerix_mail.engine``, plain Python.
"""

import itertools
import os
import secrets
import socket
import ssl
import sys
import time
import types
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

if "carerix_mail" not in sys.modules:
    _package = types.ModuleType("carerix_mail")
    _package.__path__ = [str(ROOT / "carerix_mail")]
    sys.modules["carerix_mail"] = _package

from devservices import (  # noqa: E402
    CertificateAuthority,
    Dovecot,
    IdentityProvider,
    SmtpSink,
)

from carerix_mail.engine import ConnectionSettings  # noqa: E402

_counter = itertools.count(1)


OAUTH_CLIENT = ("carerix-test-app", "app-secret-0123", "https://odoo.test/callback")


def _started(service):
    """Yield ``service`` started; stop it afterwards (for session fixtures)."""
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def run_ca(tmp_path_factory):
    """The certificate authority of the run (Dovecot and identity provider)."""
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def idp(tmp_path_factory, run_ca):
    """The local OAuth2 identity provider, with the client :data:`OAUTH_CLIENT`."""
    for server in _started(IdentityProvider(tmp_path_factory.mktemp("idp"), ca=run_ca)):
        server.register_client(*OAUTH_CLIENT)
        yield server


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory):
    """The SMTP sink Dovecot's submission service relays to."""
    yield from _started(SmtpSink(tmp_path_factory.mktemp("sink")))


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory, idp, run_ca, smtp_sink):
    """Dovecot for password users, who may also log in with the :func:`idp`'s
    tokens (XOAUTH2 and OAUTHBEARER); with SMTP submission to :func:`smtp_sink`."""
    yield from _started(
        Dovecot(tmp_path_factory.mktemp("dovecot"), idp=idp, ca=run_ca, sink=smtp_sink)
    )


@pytest.fixture(scope="session")
def dovecot_oauthbearer(tmp_path_factory, idp, run_ca, smtp_sink):
    """A Dovecot that offers OAUTHBEARER but not XOAUTH2."""
    yield from _started(
        Dovecot(
            tmp_path_factory.mktemp("dovecot-bearer"),
            idp=idp,
            ca=run_ca,
            oauth_mechanisms="oauthbearer",
            sink=smtp_sink,
        )
    )


@pytest.fixture(scope="session")
def dovecot_nostarttls(tmp_path_factory, smtp_sink):
    """A password-only Dovecot without TLS."""
    yield from _started(
        Dovecot(
            tmp_path_factory.mktemp("dovecot-plain"), starttls=False, sink=smtp_sink
        )
    )


class MailUser:
    """A fresh Dovecot user plus a way to build engine settings for it."""

    def __init__(self, server, login, password):
        self.server = server
        self.login = login
        self.password = password

    def settings(self, protocol="imap", security="none", **overrides):
        server = self.server
        ports = {
            ("imap", "none"): server.imap_port,
            ("imap", "starttls"): server.imap_port,
            ("imap", "ssl"): server.imaps_port,
            ("pop3", "none"): server.pop3_port,
            ("pop3", "starttls"): server.pop3_port,
            ("pop3", "ssl"): server.pop3s_port,
            ("smtp", "none"): server.submission_port,
            ("smtp", "starttls"): server.submission_port,
            ("smtp", "ssl"): server.submissions_port,
        }
        values = {
            "host": server.host,
            "port": ports[(protocol, security)],
            "login": self.login,
            "password": self.password,
            "protocol": protocol,
            "security": security,
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
            "ca_file": server.ca_file,
        }
        values.update(overrides)
        return ConnectionSettings(**values)

    def deliver_many(self, folder, raws, flags=()):
        """APPEND many messages over one connection; returns their UIDs."""
        uids = []
        with self.server.imap(self.login) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in raws:
                response = client.append(folder, raw, flags=tuple(flags))
                if isinstance(response, str):
                    response = response.encode()
                uids.append(int(response.split(b"]")[0].split()[-1]))
        return uids


def _new_user(server):
    login = "u%d_%d_%s" % (os.getpid(), next(_counter), secrets.token_hex(3))
    # Characters that must survive quoting, and be easy to spot in a message.
    password = "Pw%s!x" % secrets.token_hex(6)
    server.add_user(login, password)
    return MailUser(server, login, password)


class _UserPool:
    """Users created ahead, many at a time.

    Dovecot re-reads its passwd-file at most once a second, so a user added
    right before logging in may not exist yet for it: users are created in bulk
    and handed out only once that second has passed.
    """

    def __init__(self, server, size):
        self.server = server
        self.size = size
        self.users = []

    def take(self):
        if not self.users:
            self.users = [_new_user(self.server) for _ in range(self.size)]
            time.sleep(1.1)
        return self.users.pop()


@pytest.fixture(scope="session")
def _user_pool(dovecot):
    return _UserPool(dovecot, 80)


@pytest.fixture(scope="session")
def _plain_user_pool(dovecot_nostarttls):
    return _UserPool(dovecot_nostarttls, 10)


@pytest.fixture(scope="session")
def _bearer_pool(dovecot_oauthbearer):
    return _UserPool(dovecot_oauthbearer, 8)


@pytest.fixture
def bearer_user(_bearer_pool):
    """A fresh user on the Dovecot that offers OAUTHBEARER only."""
    return _bearer_pool.take()


@pytest.fixture
def mail_user(_user_pool):
    """A fresh user (unique login, empty mailbox) on :func:`dovecot`."""
    return _user_pool.take()


@pytest.fixture
def plain_user(_plain_user_pool):
    """A fresh user on :func:`dovecot_nostarttls`."""
    return _plain_user_pool.take()


def make_message(n=1, subject=None, size=0, sender="alice@example.com"):
    """A small RFC 5322 message; ``size`` pads the body to about that many bytes."""
    subject = subject or "Message %d" % n
    body = "Hello %d\r\n" % n
    if size:
        line = "x" * 70 + "\r\n"
        body += line * (size // len(line) + 1)
    return (
        "From: %s\r\nTo: bob@example.com\r\nSubject: %s\r\n"
        "Message-ID: <m%d-%s@example.com>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        "\r\n%s" % (sender, subject, n, secrets.token_hex(4), body)
    ).encode()


@pytest.fixture
def closed_port():
    """A local port on which nothing listens (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def silent_server():
    """A local socket that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)  # the kernel completes the handshake; nobody ever answers
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def https_no_redirect(ca_file):
    """A urllib opener trusting ``ca_file`` that does not follow redirects
    (a 302 is raised as ``HTTPError``): the browser's side of an OAuth flow."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    context = ssl.create_default_context(cafile=ca_file)
    return urllib.request.build_opener(
        NoRedirect, urllib.request.HTTPSHandler(context=context)
    )


@pytest.fixture
def new_message():
    """The :func:`make_message` factory, as a fixture."""
    return make_message


# pytest-odoo, auto-loaded when odoo is importable, loads an Odoo registry for
# every test session. The engine tests need none: these same-named fixtures win
# for everything under tests/, so `pytest tests` works with or without `-p no:odoo`.
@pytest.fixture(scope="session")
def load_registry():
    return None


@pytest.fixture(scope="session")
def load_http():
    return None


@pytest.fixture(scope="module")
def enable_odoo_test_flag():
    return None
