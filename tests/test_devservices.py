"""The dev services (scripts/devservices.py) against the real Dovecot/PostgreSQL."""

import base64
import email.utils
import importlib
import json
import poplib
import smtplib
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from imapclient import IMAPClient

from conftest import https_no_redirect

try:
    import psycopg2
except ImportError:  # pragma: no cover - without Odoo's deps: psql instead
    psycopg2 = None

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "devservices.py"
sys.path.insert(0, str(SCRIPT.parent))

devservices = importlib.import_module("devservices")

pytestmark = pytest.mark.skipif(
    not Path(devservices.DOVECOT_BIN).exists()
    or not Path(devservices.PG_BIN, "initdb").exists(),
    reason="dovecot / postgresql-15 not installed",
)

RAW = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: hello\r\n"
    b"Message-ID: <devservices-test@example.com>\r\n"
    b"Date: " + email.utils.formatdate().encode() + b"\r\n"
    b"\r\n"
    b"body\r\n"
)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    dc = devservices.Dovecot(tmp_path_factory.mktemp("dovecot")).start()
    dc.add_user("alice", "alice-pw")
    yield dc
    dc.stop()
    assert not dc.is_running()


@pytest.fixture
def ctx(dovecot):
    context = ssl.create_default_context(cafile=dovecot.ca_file)
    assert context.check_hostname
    return context


def _running_pids(pid):
    return devservices._group_members(pid) if pid else []


def test_imaps_verified_by_ca(dovecot, ctx):
    with IMAPClient(
        dovecot.host, port=dovecot.imaps_port, ssl=True, ssl_context=ctx, timeout=5
    ) as c:
        c.login("alice", "alice-pw")
        assert c.select_folder("INBOX") is not None


def test_starttls_verified_by_ca(dovecot, ctx):
    with IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=5) as c:
        assert b"STARTTLS" in c.capabilities()
        c.starttls(ctx)
        c.login("alice", "alice-pw")
    pop = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=5)
    try:
        assert "STLS" in pop.capa()
        pop.stls(context=ctx)
        pop.user("alice")
        pop.pass_("alice-pw")
    finally:
        pop.quit()
    pop = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=ctx, timeout=5)
    pop.quit()


def test_plain_login_without_tls(dovecot):
    with IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=5) as c:
        c.login("alice", "alice-pw")


def test_untrusted_ca_fails(dovecot):
    context = ssl.create_default_context()  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=context)


@pytest.mark.parametrize("port_attr", ["other_imaps_port", "other_pop3s_port"])
def test_other_host_fails_hostname_check(dovecot, ctx, port_attr):
    port = getattr(dovecot, port_attr)
    with (
        socket.create_connection((dovecot.other_host, port), timeout=5) as sock,
        pytest.raises(ssl.SSLCertVerificationError, match="mismatch"),
    ):
        ctx.wrap_socket(sock, server_hostname=dovecot.other_host)
    # the chain itself is fine: it is valid for other.invalid only
    with (
        socket.create_connection((dovecot.other_host, port), timeout=5) as sock,
        ctx.wrap_socket(sock, server_hostname="other.invalid") as tls,
    ):
        names = [v for _, v in tls.getpeercert()["subjectAltName"]]
    assert names == ["other.invalid"]


def test_deliver_and_flags_round_trip(dovecot):
    dovecot.add_user("bob", "bob-pw")  # no restart needed
    uid = dovecot.deliver("bob", "INBOX", RAW, flags=(b"\\Seen",))
    assert uid >= 1
    assert dovecot.flags("bob", "INBOX", uid) == (b"\\Seen",)
    uid2 = dovecot.deliver("bob", "INBOX", RAW)
    assert uid2 == uid + 1
    assert dovecot.flags("bob", "INBOX", uid2) == ()
    assert dovecot.flags("bob", "INBOX", uid2) == ()  # reading changed nothing
    with dovecot.imap("bob") as c:
        c.select_folder("INBOX", readonly=True)
        body = c.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    assert body == RAW
    # a missing folder is created by deliver
    assert dovecot.deliver("bob", "Archief/2024", RAW) == 1


def test_special_use_folders(dovecot):
    dovecot.create_folder("alice", "[Gmail]/Sent Mail")
    dovecot.create_folder("alice", "Verzonden items")
    dovecot.create_folder("alice", "Sent")
    with dovecot.imap("alice") as c:
        assert c.has_capability("SPECIAL-USE")
        folders = {name: flags for flags, _sep, name in c.list_folders()}
        assert {d for _f, d, _n in c.list_folders()} == {b"/"}
    assert b"\\Sent" in folders["[Gmail]/Sent Mail"]
    assert b"\\Sent" in folders["Sent"]
    assert b"\\Sent" not in folders["Verzonden items"]
    dovecot.delete_folder("alice", "Verzonden items")
    with dovecot.imap("alice") as c:
        assert not c.folder_exists("Verzonden items")


def test_reset_uidvalidity(dovecot):
    dovecot.add_user("carol", "carol-pw")
    dovecot.deliver("carol", "INBOX", RAW)
    dovecot.deliver("carol", "INBOX", RAW)
    before = dovecot.uidvalidity("carol", "INBOX")
    new = dovecot.reset_uidvalidity("carol", "INBOX")
    assert new != before
    assert dovecot.uidvalidity("carol", "INBOX") == new
    assert dovecot.message_count("carol", "INBOX") == 2


def test_set_uids_past_2_31(dovecot):
    dovecot.add_user("frank", "frank-pw")
    dovecot.set_uids("frank", "INBOX", 2**32 - 1, 2**31 + 1)
    assert dovecot.uidvalidity("frank", "INBOX") == 2**32 - 1
    assert dovecot.deliver("frank", "INBOX", RAW) == 2**31 + 1


def test_remove_user(dovecot):
    dovecot.add_user("grace", "grace-pw")
    dovecot.deliver("grace", "INBOX", RAW)
    home = dovecot.root / "home" / "grace"
    assert home.is_dir()
    dovecot.remove_user("grace")
    assert not home.exists()
    with pytest.raises(devservices.DevServiceError):
        dovecot.password("grace")
    dovecot.remove_user("grace")  # twice: nothing left to remove
    with pytest.raises(ValueError):
        dovecot.remove_user("../alice")


def test_pop3_count(dovecot):
    dovecot.add_user("dave", "dave-pw")
    assert dovecot.pop3_count("dave") == 0
    dovecot.deliver("dave", "INBOX", RAW)
    dovecot.deliver("dave", "Other", RAW)
    assert dovecot.pop3_count("dave") == 1


def test_state_round_trip(dovecot):
    state = json.loads(json.dumps(dovecot.state()))
    clone = devservices.Dovecot.from_state(state)
    uid = clone.deliver("alice", "INBOX", RAW, flags=(b"\\Flagged",))
    assert dovecot.flags("alice", "INBOX", uid) == (b"\\Flagged",)


def test_no_starttls_instance(tmp_path):
    with devservices.Dovecot(tmp_path / "dc", starttls=False) as dc:
        assert dc.imaps_port is None and dc.other_imaps_port is None
        dc.add_user("erin", "erin-pw")
        with IMAPClient(dc.host, port=dc.imap_port, ssl=False, timeout=5) as c:
            assert b"STARTTLS" not in c.capabilities()
            c.login("erin", "erin-pw")
        pop = poplib.POP3(dc.host, dc.pop3_port, timeout=5)
        try:
            assert "STLS" not in pop.capa()
        finally:
            pop.quit()
        pid = dc.pid
        assert _running_pids(pid)
    assert not _running_pids(pid)
    dc.stop()  # idempotent


def _psql(pg, sql):
    """One query through Debian's psql (no driver needed), rows as a|b."""
    return subprocess.run(
        [
            str(Path(devservices.PG_BIN, "psql")),
            "-h", pg.host, "-p", str(pg.port), "-U", pg.user,
            "-d", "postgres", "-Atc", sql,
        ],
        env={"PGPASSWORD": pg.password, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_postgres(tmp_path):
    pg = devservices.Postgres(tmp_path / "pg").start()
    pid = pg.pid
    try:
        assert pg.user == "odoo" and pg.password
        if psycopg2 is None:  # pragma: no cover
            out = _psql(
                pg, "select rolsuper from pg_roles where rolname = current_user"
            )
            assert out == "t"
        else:
            conn = psycopg2.connect(
                host=pg.host,
                port=pg.port,
                user=pg.user,
                password=pg.password,
                dbname="postgres",
            )
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        "select rolsuper, current_setting('fsync') from pg_roles "
                        "where rolname = current_user"
                    )
                    assert cur.fetchone() == (True, "off")
            finally:
                conn.close()
            with pytest.raises(psycopg2.OperationalError):
                psycopg2.connect(
                    host=pg.host, port=pg.port, user=pg.user, password="wrong"
                )
        clone = devservices.Postgres.from_state(json.loads(json.dumps(pg.state())))
    finally:
        pg.stop()
    assert not _running_pids(pid)
    pg.stop()
    clone.stop()  # a stale state stops nothing and does not fail


def test_postgres_durable_for_benchmarks(tmp_path):
    pg = devservices.Postgres(tmp_path / "pg", durable=True).start()
    try:
        out = _psql(
            pg,
            "select current_setting('fsync'), current_setting('synchronous_commit'),"
            " current_setting('full_page_writes')",
        )
        assert out == "on|on|on"
    finally:
        pg.stop()


def _cli(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_cli_start_deliver_stop(tmp_path):
    d = tmp_path / "svc"
    _cli("start", "--dir", str(d), "--only", "dovecot", "--no-starttls")
    try:
        pg, dc = devservices.load_state(d / "state.json")
        assert pg is None and dc.is_running()  # outlived the start command
        env = (d / "env.sh").read_text()
        assert f"CARERIX_DEVSERVICES_STATE={d / 'state.json'}" in env
        idp = devservices.load_idp(d / "state.json")
        assert idp.is_running() and f"CARERIX_IDP_URL={idp.url}" in env
        assert idp.requests["token"] == 0  # its control API answers
        _cli("start", "--dir", str(d), "--only", "dovecot")  # already running: no-op
        _cli("add-user", "--dir", str(d), "frank", "frank-pw")
        eml = tmp_path / "m.eml"
        eml.write_bytes(RAW)
        out = _cli("deliver", "--dir", str(d), "frank", "INBOX", str(eml), str(eml))
        assert "UID 2" in out.stdout
        assert dc.pop3_count("frank") == 2
        sink = devservices.load_sink(d / "state.json")
        assert sink.is_running() and f"CARERIX_SMTP_SINK_PORT={sink.port}" in env
        assert f"CARERIX_SUBMISSION_PORT={dc.submission_port}" in env
        with smtplib.SMTP(dc.host, dc.submission_port, timeout=10) as smtp:
            smtp.login("frank", "frank-pw")  # no TLS here: plaintext allowed
            smtp.sendmail("frank@example.com", ["bob@example.com"], RAW)
        (got,) = sink.wait_for(1)
        assert got["mail_from"] == "frank@example.com"
        assert got["rcpt_tos"] == ["bob@example.com"]
        assert b"Message-ID: <devservices-test@example.com>" in got["raw"]
        assert sink.connections == 1
        sink.clear()
        assert sink.messages() == [] and sink.connections == 0
    finally:
        _cli("stop", "--dir", str(d))
    assert not dc.is_running() and not idp.is_running() and not sink.is_running()
    _cli("stop", "--dir", str(d))  # safe twice


# -- the identity provider -------------------------------------------------------


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    server = devservices.IdentityProvider(tmp_path_factory.mktemp("idp")).start()
    server.register_client("app", "app-secret", "https://odoo.test/cb")
    yield server
    server.stop()
    assert not server.is_running()


def _https(idp, path, data=None, headers=None):
    """(status, headers, body) of a request to the provider, no redirects."""
    opener = https_no_redirect(idp.ca_file)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(idp.url + path, data=body, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def _authorize_query(**overrides):
    query = {
        "client_id": "app",
        "redirect_uri": "https://odoo.test/cb",
        "response_type": "code",
        "state": "xyz",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
        "login_hint": "alice@example.com",
    }
    query.update(overrides)
    return "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v})


def _redirect(idp, path):
    status, headers, _body = _https(idp, path)
    assert status == 302
    query = urllib.parse.urlsplit(headers["Location"]).query
    return dict(urllib.parse.parse_qsl(query))


def test_idp_serves_both_path_layouts(idp):
    for path in ("/common/oauth2/v2.0/authorize", "/o/oauth2/v2/auth"):
        answer = _redirect(idp, path + _authorize_query())
        assert answer["state"] == "xyz" and answer["code"].startswith("code-")
    assert _https(idp, "/nothing/here")[0] == 404


def test_idp_authorize_refusals(idp):
    # Unknown client or redirect URI: an error page, never a redirect there.
    assert _https(idp, "/o/oauth2/v2/auth" + _authorize_query(client_id="x"))[0] == 400
    bad = _authorize_query(redirect_uri="https://evil.test/cb")
    assert _https(idp, "/o/oauth2/v2/auth" + bad)[0] == 400
    # PKCE S256 is required.
    plain = _authorize_query(code_challenge_method="plain")
    assert _redirect(idp, "/o/oauth2/v2/auth" + plain)["error"] == "invalid_request"
    idp.fail_next("authorize", "access_denied", description="user said no")
    answer = _redirect(idp, "/o/oauth2/v2/auth" + _authorize_query())
    assert answer == {
        "state": "xyz",
        "error": "access_denied",
        "error_description": "user said no",
    }


def test_idp_token_and_introspection(idp):
    tokens = idp.issue("carol@example.com", "app")
    status, _headers, body = _https(
        idp, "/introspect", {"token": tokens["access_token"]}
    )
    assert status == 200
    assert json.loads(body)["username"] == "carol@example.com"
    idp.expire_access_tokens("carol@example.com")
    assert not json.loads(
        _https(idp, "/introspect", {"token": tokens["access_token"]})[2]
    )["active"]
    # Client authentication by HTTP Basic works too; a wrong secret does not.
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"app:nope").decode()}
    status, _headers, body = _https(idp, "/token", form, wrong)
    assert status == 401 and json.loads(body)["error"] == "invalid_client"
    right = {"Authorization": "Basic " + base64.b64encode(b"app:app-secret").decode()}
    status, _headers, body = _https(idp, "/token", form, right)
    assert status == 200
    assert json.loads(body)["refresh_token"] != tokens["refresh_token"]
    status, _headers, body = _https(idp, "/token", form, right)  # rotated out
    assert status == 400 and json.loads(body)["error"] == "invalid_grant"
    assert json.loads(body)["error_codes"] == [700082]


def test_idp_control_needs_its_key(idp):
    status, _headers, _body = _https(
        idp, "/_control/revoke", {}, {"X-Control-Key": "guess"}
    )
    assert status == 403
    with pytest.raises(devservices.DevServiceError):
        idp.fail_next("nowhere", "invalid_grant")


def test_idp_dovecot_password_only_without_provider(dovecot):
    """Without an identity provider Dovecot offers no OAuth2 mechanism."""
    with IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=5) as c:
        offered = c.capabilities()
    assert b"AUTH=PLAIN" in offered and b"AUTH=XOAUTH2" not in offered
    assert "driver = oauth2" not in dovecot.conf.read_text()
