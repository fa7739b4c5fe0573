#!/usr/bin/env python3
"""Throwaway dev services on 127.0.0.1: PostgreSQL 15, Dovecot (IMAP, POP3 and
SMTP submission), an OAuth2 identity provider and an SMTP sink.

Used by the demo, the engine tests and the benchmarks. Self-contained: standard
library plus ``imapclient``; it never imports odoo nor carerix_mail.

Python API::

    with Dovecot(tmp / "dovecot") as dc:
        dc.add_user("alice", "secret")
        uid = dc.deliver("alice", "INBOX", raw, flags=(b"\\Seen",))
        assert b"\\Seen" in dc.flags("alice", "INBOX", uid)

    with Postgres(tmp / "pg") as pg:
        ...  # pg.host, pg.port, pg.user, pg.password

    ca = CertificateAuthority(tmp / "ca")
    with IdentityProvider(tmp / "idp", ca=ca) as idp, Dovecot(
        tmp / "dovecot", idp=idp, ca=ca
    ) as dc:
        idp.register_client("app", "app-secret", "https://odoo.test/callback")
        tokens = idp.issue("alice", "app")  # XOAUTH2/OAUTHBEARER for alice

Command line::

    python scripts/devservices.py start --dir DIR [--no-starttls] [--only pg|dovecot]
    python scripts/devservices.py stop --dir DIR
    python scripts/devservices.py add-user --dir DIR LOGIN PASSWORD
    python scripts/devservices.py deliver --dir DIR LOGIN FOLDER FILE.eml...
    python scripts/devservices.py status --dir DIR

``start`` leaves the services running (detached) and writes ``DIR/state.json`` and
``DIR/env.sh`` (``CARERIX_IDP_URL``: the identity provider, which Dovecot asks
about OAuth2 tokens; ``CARERIX_SUBMISSION_PORT``: Dovecot's submission service,
which relays to the sink at ``CARERIX_SMTP_SINK_PORT``, whose mail lands in
``CARERIX_SMTP_SINK_DIR``); ``stop`` stops whatever ``state.json`` lists and is
idempotent.

Both services need root (they drop privileges: PostgreSQL runs as ``postgres``,
Dovecot mail processes as ``nobody``); run as a normal user they run as that user.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import datetime as _dt
import grp
import hashlib
import ipaddress
import json
import os
import poplib
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import socketserver
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

try:
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError
except ImportError:  # pragma: no cover - only the Dovecot mail helpers need it
    IMAPClient = None
    IMAPClientError = Exception

__all__ = [
    "CertificateAuthority",
    "DevServiceError",
    "Dovecot",
    "IdentityProvider",
    "Postgres",
    "SmtpSink",
    "load_idp",
    "load_sink",
    "load_state",
]

DOVECOT_BIN = os.environ.get("CARERIX_DOVECOT_BIN", "/usr/sbin/dovecot")
DOVEADM_BIN = os.environ.get("CARERIX_DOVEADM_BIN", "/usr/bin/doveadm")
PG_BIN = os.environ.get("CARERIX_PG_BIN", "/usr/lib/postgresql/15/bin")
DH_FILE = "/usr/share/dovecot/dh.pem"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# Unix sockets live below the service root; sun_path is limited to 107 bytes.
_MAX_ROOT_LEN = 64

# RFC 6154 special-use folders configured in Dovecot (not auto-created).
SPECIAL_USE = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
    "[Gmail]/Sent Mail": "\\Sent",
    "[Gmail]/All Mail": "\\All",
    "[Gmail]/Spam": "\\Junk",
}


class DevServiceError(RuntimeError):
    """A dev service could not be started, stopped or used."""


# ---------------------------------------------------------------------------
# small helpers


def _is_root() -> bool:
    return os.geteuid() == 0


def _run(argv, *, check=True, env=None, input=None, timeout=60):
    proc = subprocess.run(
        [str(a) for a in argv],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise DevServiceError(
            f"command failed ({proc.returncode}): {shlex.join(map(str, argv))}\n"
            f"{proc.stdout}{proc.stderr}".rstrip()
        )
    return proc


def _as_user(user: str | None, argv: list) -> list:
    """Prefix argv so that it runs as `user` (only when we are root)."""
    if user and _is_root():
        return ["runuser", "-u", user, "--", *argv]
    return list(argv)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path, lines: int = 30) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _proc_stat(pid: int):
    """(state, pgid) of a process from /proc, or None if it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _proc_stat(int(entry))
        if st and st[1] == pgid and st[0] != "Z":
            members.append(int(entry))
    return members


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _kill_group(pgid: int, marker: str, timeout: float = STOP_TIMEOUT, proc=None):
    """Terminate process group `pgid` (SIGTERM, then SIGKILL after `timeout`).

    `marker` must appear in the command line of the group leader (or of some
    member) so that a stale state file never makes us kill an unrelated process.
    """

    def ours() -> list[int]:
        members = _group_members(pgid)
        if any(marker in _cmdline(p) for p in members):
            return members
        return []

    def reap():
        if proc is not None:
            proc.poll()

    if not ours():
        reap()
        return
    # SIGTERM to the leader only (it shuts its children down in order), then
    # SIGKILL to whatever is left in the group.
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            if sig == signal.SIGTERM:
                os.kill(pgid, sig)
            else:
                os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap()
            if not _group_members(pgid):
                if proc is not None:
                    proc.wait(timeout=5)
                return
            time.sleep(0.02)
    raise DevServiceError(f"process group {pgid} survived SIGKILL")


def _spawn(argv: list, output: Path) -> subprocess.Popen:
    """Start `argv` in a session of its own (a process group we can kill as a
    whole), its output appended to `output`."""
    with open(output, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def _traversable_by_others(path: Path) -> bool:
    """True if every ancestor of `path` can be traversed by any user."""
    for p in [path, *path.parents]:
        try:
            mode = p.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def _prepare_root(base_dir: Path) -> tuple[Path, bool]:
    """Create the directory that holds a service's files.

    Normally `base_dir` itself. When service users (postgres, dovecot, nobody)
    could not reach it -- e.g. pytest's 0700 /tmp/pytest-of-root -- or when its
    path is too long for unix sockets, a fresh directory under /tmp is used
    instead (recorded in base_dir/ROOT and in the state; removed on stop).
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    if len(str(base_dir)) <= _MAX_ROOT_LEN and (
        not _is_root() or _traversable_by_others(base_dir.parent)
    ):
        base_dir.chmod(0o755)
        return base_dir, False
    root = Path(tempfile.mkdtemp(prefix="carerix-dev-", dir="/tmp"))
    root.chmod(0o755)
    (base_dir / "ROOT").write_text(f"{root}\n")
    return root, True


def _service_user(name: str) -> pwd.struct_passwd:
    if _is_root():
        return pwd.getpwnam(name)
    return pwd.getpwuid(os.getuid())


def _chown(path: Path, pw: pwd.struct_passwd | None):
    if pw is not None and _is_root():
        os.chown(path, pw.pw_uid, pw.pw_gid)


# Instances started in this process; stopped at interpreter exit unless detached.
_LIVE: list = []


def _stop_live():
    for svc in list(reversed(_LIVE)):
        try:
            svc.stop()
        except (OSError, subprocess.SubprocessError, DevServiceError) as exc:
            print(f"devservices: stopping {svc!r} failed: {exc}", file=sys.stderr)


atexit.register(_stop_live)


class _Service:
    kind = "service"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def detach(self):
        """Keep the service running after this Python process exits."""
        if self in _LIVE:
            _LIVE.remove(self)
        return self

    def _track(self):
        if self not in _LIVE:
            _LIVE.append(self)

    def _untrack(self):
        if self in _LIVE:
            _LIVE.remove(self)


class _ChildServer(_Service):
    """A server of this script run in a process of its own, listening on
    ``self.host``/``self.port``; :meth:`_marker` is in its command line."""

    label = "server"

    def _marker(self) -> str:
        raise NotImplementedError

    def _start_process(self, argv: list, output: Path):
        self._proc = _spawn([sys.executable, __file__, *argv], output)
        self.pid = self._proc.pid
        self._track()
        deadline = time.monotonic() + READY_TIMEOUT
        while not _port_open(self.host, self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DevServiceError(f"{self.label} did not start:\n" + _tail(output))
            time.sleep(0.02)

    def stop(self):
        """Stop the server's process; safe to call twice."""
        self._untrack()
        if self.pid is not None:
            _kill_group(self.pid, self._marker(), timeout=5, proc=self._proc)
        self.pid = None
        self._proc = None

    def is_running(self) -> bool:
        return self.pid is not None and bool(_group_members(self.pid))


# ---------------------------------------------------------------------------
# certificate authority


class CertificateAuthority:
    """A per-run CA made with the ``openssl`` CLI; its files live in `directory`."""

    def __init__(self, directory, name: str = "carerix dev CA"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = str(self.directory / "ca.pem")
        self.ca_key = str(self.directory / "ca.key")
        if not Path(self.ca_file).exists():
            _run(
                [
                    "openssl", "req", "-x509", "-new", "-nodes",
                    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-keyout", self.ca_key, "-out", self.ca_file,
                    "-days", "7", "-subj", f"/CN={name} {secrets.token_hex(4)}",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                ]
            )  # fmt: skip
            os.chmod(self.ca_key, 0o600)
            os.chmod(self.ca_file, 0o644)

    def issue(self, name: str, hosts: list[str]) -> tuple[str, str]:
        """Issue a server certificate for `hosts` (IP or DNS SANs).

        Returns (cert_path, key_path); the key is readable by its owner only.
        """
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"bad certificate name {name!r}")
        sans = []
        for host in hosts:
            try:
                ipaddress.ip_address(host)
                sans.append(f"IP:{host}")
            except ValueError:
                sans.append(f"DNS:{host}")
        cert = self.directory / f"{name}.pem"
        key = self.directory / f"{name}.key"
        csr = self.directory / f"{name}.csr"
        ext = self.directory / f"{name}.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
            f"subjectAltName={','.join(sans)}\n"
        )
        _run(
            [
                "openssl", "req", "-new", "-nodes",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", key, "-out", csr, "-subj", f"/CN={hosts[0]}",
            ]
        )  # fmt: skip
        _run(
            [
                "openssl", "x509", "-req", "-in", csr,
                "-CA", self.ca_file, "-CAkey", self.ca_key,
                "-set_serial", f"0x{secrets.token_hex(12)}",
                "-days", "7", "-sha256", "-extfile", ext, "-out", cert,
            ]
        )  # fmt: skip
        os.chmod(key, 0o600)
        csr.unlink()
        ext.unlink()
        return str(cert), str(key)


# ---------------------------------------------------------------------------
# Dovecot


_DOVECOT_CONF = """\
# Generated by scripts/devservices.py -- throwaway dev instance, do not edit.
base_dir = {root}/run
state_dir = {root}/state
instance_name = carerix-dev-{imap_port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{user_settings}
protocols = {protocols}
listen = 127.0.0.1
shutdown_clients = yes

ssl = {ssl}
{ssl_settings}

disable_plaintext_auth = no
auth_mechanisms = {auth_mechanisms}
auth_failure_delay = 0
auth_cache_size = 0
auth_verbose = yes

first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
mail_location = maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX
mail_fsync = never
pop3_uidl_format = %08Xu%08Xv

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}/%u
{password_mechanisms}}}
{oauth_passdb}userdb {{
  driver = passwd-file
  args = username_format=%u {users}/%u
  default_fields = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
  prefix =
{special_use}
}}

# Login processes in Dovecot's high-performance mode, as on a busy production
# server: a few long-lived processes each serve many connections, instead of
# the master forking a new one (and loading TLS) for every connection, which
# serializes concurrent logins (two sync workers: 33 ms a login instead of 17).
service imap-login {{
  service_count = 0
  process_min_avail = 2
{imap_listeners}
}}
service pop3-login {{
  service_count = 0
  process_min_avail = 2
{pop3_listeners}
}}
# Tests fail logins on purpose: no auth penalty (a growing delay before every
# login from an IP with recent failures). The auth process disables it when
# it cannot find this socket.
service anvil {{
  unix_listener anvil-auth-penalty {{
    path = anvil-auth-penalty-disabled
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
{imap_capability}
}}
protocol pop3 {{
  mail_max_userip_connections = 1000
}}
{submission}"""

# With an SMTP sink: Dovecot's submission service (RFC 6409) on a plain port
# (STARTTLS offered) and an implicit TLS port, relaying to the sink.
_SUBMISSION_CONF = """\
hostname = localhost
submission_relay_host = {relay_host}
submission_relay_port = {relay_port}
submission_relay_ssl = no
submission_relay_trusted = no
service submission-login {{
  service_count = 0
  process_min_avail = 2
{listeners}
}}
protocol submission {{
  mail_max_userip_connections = 1000
}}
"""


# With an identity provider: XOAUTH2 and OAUTHBEARER go to the oauth2 passdb
# (token introspection at the provider), PLAIN and LOGIN to the passwd-file
# only (a password is never sent to the provider, a token never checked as
# a password).
_OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = {mechanisms}
  args = {conf}
}}
"""
_OAUTH_CONF = """\
# Generated by scripts/devservices.py: tokens are checked at the identity provider.
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {ca_file}
timeout_msecs = 10000
"""


def _listener(name: str, address: str, port: int | None, ssl: bool) -> str:
    return (
        f"  inet_listener {name} {{\n"
        f"    address = {address}\n"
        f"    port = {port or 0}\n"
        f"    ssl = {'yes' if ssl else 'no'}\n"
        "  }"
    )


class Dovecot(_Service):
    """A Dovecot 2.3 instance (IMAP + POP3) with its own config in `base_dir`.

    With an ``idp`` (:class:`IdentityProvider`) the same users also log in
    with its access tokens, by SASL ``oauth_mechanisms``; ``ca`` (the
    :class:`CertificateAuthority` of the run) replaces a CA of its own.

    Listeners: plain IMAP/POP3 on 127.0.0.1 (STARTTLS/STLS offered when
    ``starttls``), implicit TLS IMAPS/POP3S on 127.0.0.1 with a certificate for
    127.0.0.1 and localhost, and IMAPS/POP3S on ``other_host`` whose certificate
    names only ``other.invalid``. All certificates come from a per-run CA
    (``ca_file``). Without ``starttls`` Dovecot runs with ``ssl = no`` and the
    TLS ports are ``None``. ``imap_capability``, when given, replaces the
    capabilities announced after login (to play a server without IDLE/NOTIFY).

    With a ``sink`` (:class:`SmtpSink`) Dovecot's submission service also
    runs: ``submission_port`` (STARTTLS offered) and ``submissions_port``
    (implicit TLS), the same users and mechanisms as IMAP, relaying to the sink.
    """

    kind = "dovecot"
    host = "127.0.0.1"
    other_host = "127.0.0.2"
    other_name = "other.invalid"
    mail_user = "nobody"

    def __init__(
        self,
        base_dir,
        *,
        starttls: bool = True,
        idp: IdentityProvider | None = None,
        ca: CertificateAuthority | None = None,
        oauth_mechanisms: str = "xoauth2 oauthbearer",
        imap_capability: str | None = None,
        sink: SmtpSink | None = None,
    ):
        self.base_dir = Path(base_dir).absolute()
        self.sink = sink
        self.submission_port = self.submissions_port = None
        self.starttls = starttls
        self.idp = idp
        self.oauth_mechanisms = oauth_mechanisms
        self.ca = ca
        self.imap_capability = imap_capability
        self.root: Path | None = None
        self.relocated = False
        self.imap_port = self.pop3_port = None
        self.imaps_port = self.pop3s_port = None
        self.other_imaps_port = self.other_pop3s_port = None
        self.ca_file: str | None = None
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    def __repr__(self):
        return f"<Dovecot {self.host}:{self.imap_port} root={self.root}>"

    # paths
    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def users_dir(self) -> Path:
        """One passwd-file per user: Dovecot re-reads a passwd-file at most once a
        second, but a file it has never opened is read at once."""
        return self.root / "users"

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    # lifecycle
    def start(self) -> Dovecot:
        if self.pid is not None:
            raise DevServiceError("Dovecot already started")
        if not os.path.exists(DOVECOT_BIN):
            raise DevServiceError(
                f"{DOVECOT_BIN} not found: apt-get install dovecot-imapd dovecot-pop3d"
            )
        self.root, self.relocated = _prepare_root(self.base_dir)
        try:
            self._write_files()
            self._spawn()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _write_files(self):
        root = self.root
        mail_pw = _service_user(self.mail_user)
        self.imap_port = free_port(self.host)
        self.pop3_port = free_port(self.host)
        ca = self.ca or CertificateAuthority(root / "ssl")
        self.ca_file = ca.ca_file
        if self.starttls:
            self.imaps_port = free_port(self.host)
            self.pop3s_port = free_port(self.host)
            self.other_imaps_port = free_port(self.other_host)
            self.other_pop3s_port = free_port(self.other_host)
            # A shared CA holds the certificates of several servers.
            name = "server" if self.ca is None else f"dovecot-{self.imap_port}"
            cert, key = ca.issue(name, [self.host, "localhost"])
            ocert, okey = ca.issue(f"other-{name}", [self.other_name])
            dh = f"ssl_dh = <{DH_FILE}\n" if os.path.exists(DH_FILE) else ""
            ssl_settings = (
                f"ssl_cert = <{cert}\nssl_key = <{key}\n{dh}"
                f"local {self.other_host} {{\n"
                f"  ssl_cert = <{ocert}\n  ssl_key = <{okey}\n}}"
            )
        else:
            ssl_settings = ""
        if _is_root():
            user_settings = ""
        else:  # unprivileged: every process runs as us, no chroot possible
            me = mail_pw.pw_name
            group = grp.getgrgid(mail_pw.pw_gid).gr_name
            user_settings = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {group}\n"
                "service imap-login {\n  chroot =\n}\n"
                "service pop3-login {\n  chroot =\n}\n"
                "service submission-login {\n  chroot =\n}"
            )
        special = "\n".join(
            f'  mailbox "{name}" {{\n    special_use = {flag}\n  }}'
            for name, flag in SPECIAL_USE.items()
        )
        tls = self.starttls
        imap_listeners = "\n".join(
            [
                _listener("imap", self.host, self.imap_port, False),
                _listener("imaps", self.host, self.imaps_port, True),
                _listener("imaps_other", self.other_host, self.other_imaps_port, tls),
            ]
        )
        pop3_listeners = "\n".join(
            [
                _listener("pop3", self.host, self.pop3_port, False),
                _listener("pop3s", self.host, self.pop3s_port, True),
                _listener("pop3s_other", self.other_host, self.other_pop3s_port, tls),
            ]
        )
        shutil.rmtree(root / "run", ignore_errors=True)  # no stale sockets
        for sub in ("run", "state"):
            (root / sub).mkdir(exist_ok=True)
        home = root / "home"
        home.mkdir(exist_ok=True)
        _chown(home, mail_pw)
        self.users_dir.mkdir(exist_ok=True)
        self.users_dir.chmod(0o755)  # read by the auth process (user dovecot)
        self.conf.write_text(
            _DOVECOT_CONF.format(
                **self._auth_settings(),
                root=root,
                imap_port=self.imap_port,
                user_settings=user_settings,
                ssl="yes" if self.starttls else "no",
                ssl_settings=ssl_settings,
                mail_uid=mail_pw.pw_uid,
                mail_gid=mail_pw.pw_gid,
                users=self.users_dir,
                special_use=special,
                imap_capability=(
                    f"  imap_capability = {self.imap_capability}"
                    if self.imap_capability
                    else ""
                ),
                imap_listeners=imap_listeners,
                pop3_listeners=pop3_listeners,
                **self._submission_settings(),
            )
        )
        _run([DOVECOT_BIN, "-c", self.conf, "-n"])  # fails loudly on a config error

    def _submission_settings(self) -> dict:
        """The submission service, relaying to the sink (none without one)."""
        if self.sink is None:
            return {"protocols": "imap pop3", "submission": ""}
        self.submission_port = free_port(self.host)
        listeners = [_listener("submission", self.host, self.submission_port, False)]
        if self.starttls:
            self.submissions_port = free_port(self.host)
            listeners.append(
                _listener("submissions", self.host, self.submissions_port, True)
            )
        return {
            "protocols": "imap pop3 submission",
            "submission": _SUBMISSION_CONF.format(
                relay_host=self.sink.host,
                relay_port=self.sink.port,
                listeners="\n".join(listeners),
            ),
        }

    def _auth_settings(self) -> dict:
        """Mechanisms and passdbs: password users, and with an identity
        provider OAuth2 bearer tokens for the same users."""
        if self.idp is None:
            return {
                "auth_mechanisms": "plain login",
                "password_mechanisms": "",
                "oauth_passdb": "",
            }
        # The auth process (user dovecot) must read the provider's CA.
        (self.root / "ssl").mkdir(exist_ok=True)
        idp_ca = self.root / "ssl" / "idp-ca.pem"
        shutil.copyfile(self.idp.ca_file, idp_ca)
        idp_ca.chmod(0o644)
        oauth_conf = self.root / "oauth2.conf.ext"
        oauth_conf.write_text(
            _OAUTH_CONF.format(url=self.idp.introspection_url, ca_file=idp_ca)
        )
        oauth_conf.chmod(0o644)
        return {
            "auth_mechanisms": "plain login " + self.oauth_mechanisms,
            "password_mechanisms": "  mechanisms = plain login\n",
            "oauth_passdb": _OAUTH_PASSDB.format(
                conf=oauth_conf, mechanisms=self.oauth_mechanisms
            ),
        }

    def _spawn(self):
        # -F: foreground, so the Popen child IS the master.
        self._proc = _spawn(
            [DOVECOT_BIN, "-F", "-c", str(self.conf)], self.root / "dovecot.out"
        )
        self.pid = self._proc.pid
        self._track()

    def ports(self) -> list[tuple[str, int]]:
        pairs = [
            (self.host, self.imap_port),
            (self.host, self.pop3_port),
            (self.host, self.imaps_port),
            (self.host, self.pop3s_port),
            (self.other_host, self.other_imaps_port),
            (self.other_host, self.other_pop3s_port),
            (self.host, self.submission_port),
            (self.host, self.submissions_port),
        ]
        return [(h, p) for h, p in pairs if p]

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        pending = self.ports()
        while pending:
            if self._proc is not None and self._proc.poll() is not None:
                raise DevServiceError(
                    f"Dovecot exited with {self._proc.returncode}:\n"
                    + _tail(self.root / "dovecot.out")
                    + "\n"
                    + _tail(self.log_file)
                )
            pending = [hp for hp in pending if not _port_open(*hp)]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise DevServiceError(
                    f"Dovecot not listening on {pending} after {READY_TIMEOUT}s:\n"
                    + _tail(self.log_file)
                )
            time.sleep(0.02)

    def restart(self) -> Dovecot:
        """Stop the server, cutting every client connection, and start it
        again on the same ports, with the same CA, users and mail. Whatever
        has not stopped a second after SIGTERM is killed (Dovecot's login
        processes may wait 5 s for services already gone)."""
        if self.pid is None:
            raise DevServiceError("Dovecot is not running")
        self._untrack()
        _kill_group(self.pid, f"-c {self.conf}", timeout=1.0, proc=self._proc)
        self.pid = self._proc = None
        self._spawn()
        self._wait_ready()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT):
        """Stop the whole Dovecot process group (SIGKILL after ``timeout``
        seconds); safe to call twice."""
        self._untrack()
        if self.pid is not None:
            _kill_group(self.pid, f"-c {self.conf}", timeout=timeout, proc=self._proc)
        self.pid = None
        self._proc = None
        if self.relocated and self.root is not None and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def is_running(self) -> bool:
        return self.pid is not None and bool(_group_members(self.pid))

    # state
    def state(self) -> dict:
        return {
            "kind": self.kind,
            "base_dir": str(self.base_dir),
            "root": str(self.root) if self.root else None,
            "relocated": self.relocated,
            "starttls": self.starttls,
            "pid": self.pid,
            "host": self.host,
            "imap_port": self.imap_port,
            "pop3_port": self.pop3_port,
            "imaps_port": self.imaps_port,
            "pop3s_port": self.pop3s_port,
            "other_host": self.other_host,
            "other_name": self.other_name,
            "other_imaps_port": self.other_imaps_port,
            "other_pop3s_port": self.other_pop3s_port,
            "submission_port": self.submission_port,
            "submissions_port": self.submissions_port,
            "ca_file": self.ca_file,
            "oauth": self.idp is not None,
            "conf": str(self.conf) if self.root else None,
            "log_file": str(self.log_file) if self.root else None,
        }

    @classmethod
    def from_state(cls, state: dict) -> Dovecot:
        self = cls(state["base_dir"], starttls=state["starttls"])
        self.root = Path(state["root"]) if state.get("root") else None
        self.relocated = state.get("relocated", False)
        self.pid = state.get("pid")
        for key in (
            "imap_port",
            "pop3_port",
            "imaps_port",
            "pop3s_port",
            "other_imaps_port",
            "other_pop3s_port",
            "submission_port",
            "submissions_port",
            "ca_file",
        ):
            setattr(self, key, state.get(key))
        return self

    # users
    def add_user(self, login: str, password: str) -> None:
        """Add a user (or change a password); effective at once, no restart."""
        for value in (login, password):
            if not value or re.search(r"[:/\s]", value) or value.startswith("."):
                raise ValueError("login/password: non-empty, no ':', '/' or blanks")
        path = self.users_dir / login
        changed = path.exists()
        tmp = path.with_name(f".{login}.tmp")
        tmp.write_text(f"{login}:{{PLAIN}}{password}::::::\n")
        tmp.chmod(0o644)
        os.replace(tmp, path)
        if changed:  # Dovecot may have read the old file during this second
            time.sleep(1.1)

    def remove_user(self, login: str) -> None:
        """Remove a user and his mail (a no-op for an unknown user)."""
        if not login or "/" in login or login.startswith("."):
            raise ValueError(f"not a login: {login!r}")
        (self.users_dir / login).unlink(missing_ok=True)
        shutil.rmtree(self.root / "home" / login, ignore_errors=True)

    def password(self, login: str) -> str:
        try:
            line = (self.users_dir / login).read_text()
        except OSError:
            raise DevServiceError(f"no Dovecot user {login!r}") from None
        return line.split(":", 2)[1].removeprefix("{PLAIN}")

    # IMAP helpers
    def imap(self, login: str):
        """A logged-in IMAPClient on the plain port (for helpers and tests)."""
        if IMAPClient is None:
            raise DevServiceError(
                "imapclient is not installed (pip install imapclient)"
            )
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        try:
            client.login(login, self.password(login))
        except BaseException:
            client.shutdown()
            raise
        return client

    def create_folder(self, login: str, name: str) -> None:
        with self.imap(login) as c:
            c.create_folder(name)

    def delete_folder(self, login: str, name: str) -> None:
        with self.imap(login) as c:
            c.delete_folder(name)

    def deliver(
        self,
        login: str,
        folder: str,
        raw: bytes,
        flags=(),
        date: _dt.datetime | None = None,
    ) -> int:
        """APPEND `raw` to `folder` (created if missing); return its new UID."""
        with self.imap(login) as c:
            try:
                resp = c.append(folder, raw, flags=tuple(flags), msg_time=date)
            except IMAPClientError as exc:
                if "TRYCREATE" not in str(exc):
                    raise
                c.create_folder(folder)
                resp = c.append(folder, raw, flags=tuple(flags), msg_time=date)
        if isinstance(resp, str):
            resp = resp.encode()
        match = re.search(rb"APPENDUID (\d+) (\d+)", resp or b"")
        if not match:
            raise DevServiceError(f"no APPENDUID in APPEND response {resp!r}")
        return int(match.group(2))

    def flags(self, login: str, folder: str, uid: int) -> tuple[bytes, ...]:
        """Stored flags of message `uid`, read with EXAMINE so nothing changes.

        The session flag ``\\Recent`` is left out (EXAMINE does not clear it, a
        read-write SELECT by any client does).
        """
        with self.imap(login) as c:
            c.select_folder(folder, readonly=True)
            flags = c.get_flags([uid]).get(uid, ())
        return tuple(f for f in flags if f != b"\\Recent")

    def uidvalidity(self, login: str, folder: str) -> int:
        with self.imap(login) as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def message_count(self, login: str, folder: str) -> int:
        with self.imap(login) as c:
            return int(c.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm -c CONF ARGS...`` and return its stdout."""
        return _run([DOVEADM_BIN, "-c", self.conf, *args]).stdout

    def reset_uidvalidity(self, login: str, folder: str) -> int:
        """Give `folder` a new, larger UIDVALIDITY; messages (and UIDs) stay."""
        new = max(self.uidvalidity(login, folder) + 1, int(time.time()))
        self.set_uids(login, folder, new)
        return new

    def set_uids(
        self, login: str, folder: str, uidvalidity: int, next_uid: int | None = None
    ) -> None:
        """Give `folder` this UIDVALIDITY and, with `next_uid`, the UID of its
        next message (at least). IMAP allows both up to 4,294,967,295."""
        self.uidvalidity(login, folder)  # opened once: a new user's INBOX exists
        args = ["--uid-validity", str(uidvalidity)]
        if next_uid is not None:
            args += ["--min-next-uid", str(next_uid)]
        self.doveadm("mailbox", "update", "-u", login, *args, folder)
        got = self.uidvalidity(login, folder)
        if got != uidvalidity:
            raise DevServiceError(
                f"UIDVALIDITY of {folder} is {got}, wanted {uidvalidity}"
            )

    # POP3
    def pop3_count(self, login: str) -> int:
        pop = poplib.POP3(self.host, self.pop3_port, timeout=10)
        try:
            pop.user(login)
            pop.pass_(self.password(login))
            return pop.stat()[0]
        finally:
            pop.quit()


# ---------------------------------------------------------------------------
# Identity provider (OAuth2, posing as Microsoft or Google)

_IDP_ENDPOINTS = ("authorize", "token", "introspect")
_CODE_LIFETIME = 600
_ACCESS_LIFETIME = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class _IdpState:
    """Clients, users, codes and tokens of the identity provider (in memory)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clients: dict[str, dict] = {}
        self.users: set[str] = set()
        self.consent_user: str | None = None
        self.codes: dict[str, dict] = {}
        self.spent_codes: set[str] = set()
        self.access: dict[str, dict] = {}
        self.refresh: dict[str, dict] = {}
        self.failures: dict[str, list] = {name: [] for name in _IDP_ENDPOINTS}
        self.delays: dict[str, float] = {}
        self.requests: dict[str, int] = dict.fromkeys(_IDP_ENDPOINTS, 0)

    # control actions (called with the lock held)
    def register_client(self, client_id, client_secret, redirect_uri):
        uris = [redirect_uri] if isinstance(redirect_uri, str) else redirect_uri
        self.clients[client_id] = {"secret": client_secret, "redirect_uris": uris}
        return {}

    def add_user(self, username):
        self.users.add(username)
        return {}

    def set_consent_user(self, username):
        self.consent_user = username or None
        return {}

    def revoke(self, username):
        for table in (self.access, self.refresh):
            for token in [t for t, v in table.items() if v["user"] == username]:
                del table[token]
        return {}

    def expire_access_tokens(self, username=None):
        for grant in self.access.values():
            if username is None or grant["user"] == username:
                grant["expires"] = 0
        return {}

    def fail_next(self, endpoint, error, count=1, status=400, description=""):
        if endpoint not in self.failures:
            raise ValueError(f"no endpoint {endpoint!r}")
        rule = {"error": error, "status": status, "description": description}
        self.failures[endpoint].extend([rule] * count)
        return {}

    def set_delay(self, seconds, endpoint="token"):
        self.delays[endpoint] = float(seconds)
        return {}

    def counters(self):
        return dict(self.requests)

    def issue(self, username, client_id, access_token_size=None, scope="mail"):
        self.users.add(username)
        return self._tokens(username, client_id, scope, access_token_size)

    def _tokens(self, username, client_id, scope, access_token_size=None):
        access = "at-" + secrets.token_urlsafe(32)
        if access_token_size:
            access += "x" * max(0, access_token_size - len(access))
        refresh = "rt-" + secrets.token_urlsafe(32)
        now = time.time()
        self.access[access] = {
            "user": username,
            "client_id": client_id,
            "expires": now + _ACCESS_LIFETIME,
        }
        self.refresh[refresh] = {"user": username, "client_id": client_id}
        claims = {
            "iss": "carerix-dev-idp",
            "aud": client_id,
            "sub": hashlib.sha256(username.encode()).hexdigest()[:24],
            "email": username,
            "preferred_username": username,
            "iat": int(now),
            "exp": int(now) + _ACCESS_LIFETIME,
        }
        header = _b64url(b'{"alg":"none","typ":"JWT"}')
        id_token = f"{header}.{_b64url(json.dumps(claims).encode())}."
        return {
            "token_type": "Bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": _ACCESS_LIFETIME,
            "scope": scope,
            "id_token": id_token,
        }

    # protocol
    def authorize(self, query):
        """(status, redirect URL or error text) for an authorization request."""
        client = self.clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None:
            return 400, "unknown client_id"
        if redirect_uri not in client["redirect_uris"]:
            return 400, "redirect_uri is not registered for this client"
        answer = {"state": query.get("state", "")}
        rule = self._failure("authorize")
        user = self.consent_user or query.get("login_hint")
        if rule:
            answer.update(error=rule["error"], error_description=rule["description"])
        elif query.get("response_type") != "code":
            answer.update(error="unsupported_response_type")
        elif (
            not query.get("code_challenge")
            or query.get("code_challenge_method") != "S256"
        ):
            answer.update(error="invalid_request", error_description="PKCE S256")
        elif not user:
            answer.update(error="login_required", error_description="no user")
        else:
            code = "code-" + secrets.token_urlsafe(24)
            self.users.add(user)
            self.codes[code] = {
                "client_id": query["client_id"],
                "redirect_uri": redirect_uri,
                "user": user,
                "challenge": query["code_challenge"],
                "scope": query.get("scope", ""),
                "expires": time.time() + _CODE_LIFETIME,
            }
            answer["code"] = code
        separator = "&" if "?" in redirect_uri else "?"
        return 302, redirect_uri + separator + urllib.parse.urlencode(answer)

    def _failure(self, endpoint):
        queue = self.failures[endpoint]
        return queue.pop(0) if queue else None

    def token(self, form, basic):
        """(status, JSON answer) for a token request."""
        rule = self._failure("token")
        if rule:
            return rule["status"], _idp_error(rule["error"], rule["description"])
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        client = self.clients.get(client_id or "")
        if client is None or not secrets.compare_digest(client["secret"], secret or ""):
            return 401, _idp_error(
                "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(form, client_id)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, client_id)
        return 400, _idp_error("unsupported_grant_type", grant_type or "none")

    def _code_grant(self, form, client_id):
        code = form.get("code", "")
        grant = self.codes.pop(code, None)
        if grant is None:
            spent = code in self.spent_codes
            return 400, _idp_error(
                "invalid_grant",
                "AADSTS54005: OAuth2 Authorization code was already redeemed."
                if spent
                else "AADSTS70008: The provided authorization code is invalid "
                "or has expired.",
            )
        self.spent_codes.add(code)
        if grant["client_id"] != client_id or grant["expires"] < time.time():
            return 400, _idp_error("invalid_grant", "code expired or not yours")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, _idp_error(
                "invalid_grant",
                "AADSTS50011: The redirect_uri does not match the one of the "
                "authorization request.",
            )
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return 400, _idp_error(
                "invalid_grant",
                "AADSTS501481: The Code_Verifier does not match the code_challenge "
                "supplied in the authorization request.",
            )
        return 200, self._tokens(grant["user"], client_id, grant["scope"])

    def _refresh_grant(self, form, client_id):
        grant = self.refresh.get(form.get("refresh_token", ""))
        if grant is None or grant["client_id"] != client_id:
            return 400, _idp_error(
                "invalid_grant",
                "AADSTS700082: The refresh token has expired, was revoked or was "
                "already used.",
            )
        del self.refresh[form["refresh_token"]]  # rotated: single use
        return 200, self._tokens(grant["user"], client_id, form.get("scope", ""))

    def introspect(self, form):
        rule = self._failure("introspect")
        if rule:
            return rule["status"], _idp_error(rule["error"], rule["description"])
        grant = self.access.get(form.get("token", ""))
        if grant is None or grant["expires"] < time.time():
            return 200, {"active": False}
        return 200, {
            "active": True,
            "username": grant["user"],
            "email": grant["user"],
            "client_id": grant["client_id"],
            "exp": int(grant["expires"]),
        }


def _idp_error(error, description=""):
    answer = {"error": error, "error_description": description or error}
    codes = [int(c) for c in re.findall(r"\bAADSTS(\d+)", description)]
    if codes:
        answer["error_codes"] = codes
    return answer


_CONTROL_ACTIONS = (
    "register_client",
    "add_user",
    "set_consent_user",
    "revoke",
    "expire_access_tokens",
    "fail_next",
    "set_delay",
    "counters",
    "issue",
)


class _IdpHandler(BaseHTTPRequestHandler):
    server_version = "carerix-dev-idp"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.log_file:
            with open(self.server.log_file, "a") as log:
                log.write("%s %s\n" % (self.log_date_time_string(), format % args))

    def _send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _endpoint(self, path):
        if path in ("/o/oauth2/v2/auth",) or re.fullmatch(
            r"/[^/]+/oauth2/v2\.0/authorize", path
        ):
            return "authorize"
        if path == "/token" or re.fullmatch(r"/[^/]+/oauth2/v2\.0/token", path):
            return "token"
        if path == "/introspect":
            return "introspect"
        return None

    def _count(self, endpoint):
        state = self.server.idp
        with state.lock:
            state.requests[endpoint] += 1
            delay = state.delays.get(endpoint, 0)
        if delay:
            time.sleep(delay)

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        if self._endpoint(url.path) != "authorize":
            return self._send(404, {"error": "not_found"})
        self._count("authorize")
        query = dict(urllib.parse.parse_qsl(url.query))
        state = self.server.idp
        with state.lock:
            status, target = state.authorize(query)
        if status == 302:
            return self._send(302, b"", "text/plain", [("Location", target)])
        return self._send(status, target.encode(), "text/plain")

    def _form(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        return dict(urllib.parse.parse_qsl(body, keep_blank_values=True)), body

    def _basic(self):
        value = self.headers.get("Authorization", "")
        if not value.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return urllib.parse.unquote(user), urllib.parse.unquote(password)

    def do_POST(self):  # noqa: N802 - http.server's name
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_control/"):
            return self._control(path.removeprefix("/_control/"))
        endpoint = self._endpoint(path)
        if endpoint not in ("token", "introspect"):
            return self._send(404, {"error": "not_found"})
        self._count(endpoint)
        form, _body = self._form()
        state = self.server.idp
        with state.lock:
            if endpoint == "token":
                status, answer = state.token(form, self._basic())
            else:
                status, answer = state.introspect(form)
        return self._send(status, answer)

    def _control(self, action):
        key = self.headers.get("X-Control-Key", "")
        if not secrets.compare_digest(key, self.server.control_key):
            return self._send(403, {"error": "forbidden"})
        if action not in _CONTROL_ACTIONS:
            return self._send(404, {"error": f"no action {action}"})
        _form, body = self._form()
        state = self.server.idp
        try:
            with state.lock:
                answer = getattr(state, action)(**json.loads(body or "{}"))
        except (TypeError, ValueError) as exc:
            return self._send(400, {"error": str(exc)})
        return self._send(200, answer)


class _IdpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context, control_key, log_file=None):
        super().__init__(address, _IdpHandler)
        self.context = context
        self.control_key = control_key
        self.log_file = log_file
        self.idp = _IdpState()

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's thread, not in accept().
        request.settimeout(30)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def serve_idp(config_file) -> None:
    """Run the identity provider of `config_file` (JSON) until SIGTERM."""
    config = json.loads(Path(config_file).read_text())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["cert"], config["key"])
    server = _IdpServer(
        ("127.0.0.1", config["port"]),
        context,
        config["control_key"],
        config.get("log_file"),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


class IdentityProvider(_ChildServer):
    """A local OAuth2 identity provider over HTTPS (a certificate of `ca`, the
    per-run CA), in a process of its own. It serves both Microsoft's path
    layout (``/{tenant}/oauth2/v2.0/authorize|token``) and Google's
    (``/o/oauth2/v2/auth``, ``/token``), ``/introspect`` for Dovecot's oauth2
    passdb, and ``/_control/...`` (with the control key) for the methods below.
    """

    kind = "idp"
    label = "identity provider"
    host = "127.0.0.1"

    def __init__(self, base_dir, *, ca: CertificateAuthority | None = None):
        self.base_dir = Path(base_dir).absolute()
        self.ca = ca
        self.ca_file: str | None = ca.ca_file if ca else None
        self.port: int | None = None
        self.control_key: str | None = None
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    def __repr__(self):
        return f"<IdentityProvider {self.url}>"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def introspection_url(self) -> str:
        return self.url + "/introspect"

    @property
    def config_file(self) -> Path:
        return self.base_dir / "idp.json"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "idp.log"

    def start(self) -> IdentityProvider:
        if self.pid is not None:
            raise DevServiceError("identity provider already started")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.ca is None:
            self.ca = CertificateAuthority(self.base_dir / "ssl")
        self.ca_file = self.ca.ca_file
        self.port = free_port(self.host)
        cert, key = self.ca.issue(f"idp-{self.port}", [self.host, "localhost"])
        self.control_key = secrets.token_hex(16)
        config = {
            "port": self.port,
            "cert": cert,
            "key": key,
            "control_key": self.control_key,
            "log_file": str(self.log_file),
        }
        self.config_file.write_text(json.dumps(config))
        self.config_file.chmod(0o600)
        self._start_process(
            ["idp-serve", str(self.config_file)], self.base_dir / "idp.out"
        )
        return self

    def _marker(self) -> str:
        return str(self.config_file)

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "base_dir": str(self.base_dir),
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "url": self.url,
            "ca_file": self.ca_file,
            "control_key": self.control_key,
        }

    @classmethod
    def from_state(cls, state: dict) -> IdentityProvider:
        self = cls(state["base_dir"])
        self.pid = state.get("pid")
        self.port = state.get("port")
        self.ca_file = state.get("ca_file")
        self.control_key = state.get("control_key")
        return self

    # control API
    def _control(self, action: str, **payload):
        request = urllib.request.Request(
            f"{self.url}/_control/{action}",
            data=json.dumps(payload).encode(),
            headers={"X-Control-Key": self.control_key or ""},
            method="POST",
        )
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise DevServiceError(f"identity provider: {exc.read()!r}") from None

    def register_client(self, client_id: str, client_secret: str, redirect_uri):
        """Register an application (`redirect_uri`: one URI or a list)."""
        self._control(
            "register_client",
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
        )

    def add_user(self, username: str):
        self._control("add_user", username=username)

    def set_consent_user(self, username: str | None):
        """Consent as `username` whatever the login_hint (None: the login_hint)."""
        self._control("set_consent_user", username=username)

    def issue(self, username: str, client_id: str, access_token_size=None) -> dict:
        """Tokens for `username` straight away, as the token endpoint answers."""
        return self._control(
            "issue",
            username=username,
            client_id=client_id,
            access_token_size=access_token_size,
        )

    def revoke(self, username: str):
        """Withdraw every access and refresh token of `username`."""
        self._control("revoke", username=username)

    def expire_access_tokens(self, username: str | None = None):
        self._control("expire_access_tokens", username=username)

    def fail_next(self, endpoint, error, count=1, status=400, description=""):
        """Answer the next `count` requests to `endpoint` ("token", "authorize",
        "introspect") with `error` (HTTP `status`; AADSTS codes in
        `description` also go to ``error_codes``)."""
        self._control(
            "fail_next",
            endpoint=endpoint,
            error=error,
            count=count,
            status=status,
            description=description,
        )

    def set_delay(self, seconds: float, endpoint: str = "token"):
        self._control("set_delay", seconds=seconds, endpoint=endpoint)

    @property
    def requests(self) -> dict:
        """How many requests each endpoint has had."""
        return self._control("counters")


# ---------------------------------------------------------------------------
# SMTP sink: where Dovecot's submission service relays mail to


class _SinkHandler(socketserver.StreamRequestHandler):
    """One SMTP session (RFC 5321, the part a relay client uses): every message
    accepted is stored as ``NNNNNN.eml`` plus its envelope in ``NNNNNN.json``.

    A recipient whose local part starts with ``reject550`` is refused with a
    permanent 550, one starting with ``defer451`` with a transient 451: the
    tests' way to make the relay fail."""

    timeout = 60

    def _reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self._reply("220 sink.invalid ESMTP carerix dev sink")
        mail_from, rcpts, greeted = None, [], False
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if not greeted:  # a session, not a port probe
                    self.server.count_connection()
                mail_from, rcpts, greeted = None, [], True
                self._reply(
                    "250-sink.invalid\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE"
                )
            elif verb == "MAIL":
                mail_from, rcpts = _smtp_path(command), []
                self._reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                self._reply(self._rcpt(command, rcpts))
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    self._reply("503 5.5.1 MAIL and RCPT first")
                    continue
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                name = self.server.store(mail_from, rcpts, self._data())
                self._reply(f"250 2.0.0 Ok: queued as {name}")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self._reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self._reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self._reply("221 2.0.0 Bye")
                return
            else:
                self._reply("502 5.5.2 Command not implemented")

    def _rcpt(self, command, rcpts):
        path = _smtp_path(command)
        local = path.split("@", 1)[0].lower()
        if local.startswith("reject550"):
            return "550 5.7.1 Recipient refused by the sink"
        if local.startswith("defer451"):
            return "451 4.3.0 Recipient deferred by the sink, try again later"
        rcpts.append(path)
        return "250 2.1.5 Ok"

    def _data(self):
        lines = []
        while True:
            line = self.rfile.readline(1 << 20)
            if not line or line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


def _smtp_path(command):
    match = re.search(r"<([^>]*)>", command)
    return match.group(1) if match else command.split(":", 1)[-1].strip()


class _SinkServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, directory: Path):
        super().__init__(address, _SinkHandler)
        self.directory = directory
        self.lock = threading.Lock()
        self.sequence = len(list(directory.glob("*.eml")))

    def count_connection(self):
        with self.lock, open(self.directory / "connections.log", "a") as log:
            log.write(f"{time.time():.6f}\n")

    def store(self, mail_from, rcpts, data: bytes) -> str:
        with self.lock:
            self.sequence += 1
            name = f"{self.sequence:06d}"
        envelope = {"mail_from": mail_from, "rcpt_tos": rcpts}
        (self.directory / f"{name}.json").write_text(json.dumps(envelope))
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.directory / f"{name}.eml")
        return name


def serve_sink(port, directory) -> None:
    """Run the SMTP sink on 127.0.0.1:`port`, storing mail in `directory`."""
    server = _SinkServer(("127.0.0.1", int(port)), Path(directory))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


class SmtpSink(_ChildServer):
    """A plain SMTP server on 127.0.0.1 that accepts any mail (no AUTH, no TLS)
    and keeps it in ``base_dir/mail`` for the tests to read; in a process of
    its own. Dovecot's submission service relays to it; Odoo's company
    outgoing server in the benchmark sends to it directly."""

    kind = "sink"
    label = "SMTP sink"
    host = "127.0.0.1"

    def __init__(self, base_dir):
        self.base_dir = Path(base_dir).absolute()
        self.port: int | None = None
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    def __repr__(self):
        return f"<SmtpSink {self.host}:{self.port}>"

    @property
    def mail_dir(self) -> Path:
        return self.base_dir / "mail"

    def start(self) -> SmtpSink:
        if self.pid is not None:
            raise DevServiceError("SMTP sink already started")
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.host)
        self._start_process(
            ["sink-serve", str(self.port), str(self.mail_dir)],
            self.base_dir / "sink.out",
        )
        return self

    def _marker(self) -> str:
        return str(self.mail_dir)

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "base_dir": str(self.base_dir),
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "mail_dir": str(self.mail_dir),
        }

    @classmethod
    def from_state(cls, state: dict) -> SmtpSink:
        self = cls(state["base_dir"])
        self.pid = state.get("pid")
        self.port = state.get("port")
        return self

    # reading what was received
    def messages(self) -> list[dict]:
        """Every message received so far, oldest first: ``{"mail_from",
        "rcpt_tos", "raw"}`` (``raw``: the bytes as received)."""
        found = []
        for eml in sorted(self.mail_dir.glob("*.eml")):
            envelope = json.loads(eml.with_suffix(".json").read_text())
            found.append({**envelope, "raw": eml.read_bytes()})
        return found

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The messages once at least `count` have arrived (else raise)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if len(found) < count:
            raise DevServiceError(f"SMTP sink: {len(found)} messages, wanted {count}")
        return found

    @property
    def connections(self) -> int:
        """SMTP sessions (connections that said EHLO/HELO) the sink has had
        since the last :meth:`clear`."""
        try:
            return len((self.mail_dir / "connections.log").read_text().splitlines())
        except OSError:
            return 0

    def clear(self) -> None:
        """Forget the messages and the connection count."""
        for path in self.mail_dir.iterdir():
            if path.suffix in (".eml", ".json") or path.name == "connections.log":
                path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# PostgreSQL


class Postgres(_Service):
    """A PostgreSQL 15 cluster in `base_dir`, listening on 127.0.0.1 only.

    The role ``odoo`` (SUPERUSER LOGIN) gets a random ``password``; TCP
    connections need it (scram-sha-256). Local socket connections (in
    ``socket_dir``) are trusted. Unless ``durable``, the cluster trades
    durability for speed (no fsync, asynchronous commits), which is what
    tests and the demo want; benchmarks compare with PostgreSQL's own
    defaults, as a production server has them.
    """

    kind = "postgres"
    host = "127.0.0.1"
    user = "odoo"
    os_user = "postgres"

    def __init__(self, base_dir, durable=False):
        self.base_dir = Path(base_dir).absolute()
        self.durable = durable
        self.root: Path | None = None
        self.relocated = False
        self.port: int | None = None
        self.password: str | None = None
        self.pid: int | None = None

    def __repr__(self):
        return f"<Postgres {self.host}:{self.port} root={self.root}>"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def _bin(self, name: str) -> str:
        return os.path.join(PG_BIN, name)

    def dsn(self, dbname: str = "postgres") -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={dbname}"
        )

    def env(self) -> dict[str, str]:
        """libpq environment variables (PGHOST...) for this server."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
        }

    def start(self) -> Postgres:
        if self.pid is not None:
            raise DevServiceError("Postgres already started")
        if not os.path.exists(self._bin("initdb")):
            raise DevServiceError(
                f"{self._bin('initdb')} not found: apt-get install postgresql-15"
            )
        self.root, self.relocated = _prepare_root(self.base_dir)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        pw = _service_user(self.os_user)
        user = pw.pw_name if _is_root() else None
        self.port = free_port(self.host)
        self.password = secrets.token_hex(16)
        for path in (self.data_dir, self.socket_dir):
            path.mkdir(mode=0o700, exist_ok=True)
            _chown(path, pw)
        self.log_file.touch()
        _chown(self.log_file, pw)
        _run(
            _as_user(
                user,
                [
                    self._bin("initdb"),
                    "-D", self.data_dir, "-U", "postgres",
                    "--auth-local=trust", "--auth-host=scram-sha-256",
                    "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
                ],
            )
        )  # fmt: skip
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# carerix devservices\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 200\n"
            )
            if not self.durable:
                conf.write(
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                )
        self._track()
        _run(
            _as_user(
                user,
                [
                    self._bin("pg_ctl"),
                    "-D", self.data_dir, "-l", self.log_file,
                    "-w", "-t", str(int(READY_TIMEOUT)), "start",
                ],
            ),
            check=False,
        )  # fmt: skip
        self.pid = self._read_pid()
        if not self.pid or not _port_open(self.host, self.port):
            raise DevServiceError("PostgreSQL did not start:\n" + _tail(self.log_file))
        self.psql(f"CREATE ROLE {self.user} SUPERUSER LOGIN PASSWORD '{self.password}'")

    def _read_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as the ``postgres`` superuser over the unix socket."""
        return _run(
            [
                self._bin("psql"),
                "-h", self.socket_dir, "-p", self.port, "-U", "postgres",
                "-d", dbname, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql,
            ]
        ).stdout  # fmt: skip

    def stop(self):
        """``pg_ctl stop -m fast``, then kill leftovers; safe to call twice."""
        self._untrack()
        if self.root is not None and (self.data_dir / "postmaster.pid").exists():
            pw = _service_user(self.os_user)
            _run(
                _as_user(
                    pw.pw_name if _is_root() else None,
                    [self._bin("pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w"]
                    + ["-t", str(int(STOP_TIMEOUT)), "stop"],
                ),
                check=False,
            )
        pid = self.pid or (self._read_pid() if self.root else None)
        if pid:
            # pg_ctl starts the postmaster with setsid(): pid == pgid.
            _kill_group(pid, f"-D {self.data_dir}", timeout=2.0)
            _kill_group(pid, "postgres: ", timeout=2.0)
        self.pid = None
        if self.relocated and self.root is not None and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def is_running(self) -> bool:
        return self.pid is not None and bool(_group_members(self.pid))

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "base_dir": str(self.base_dir),
            "root": str(self.root) if self.root else None,
            "relocated": self.relocated,
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "socket_dir": str(self.socket_dir) if self.root else None,
            "log_file": str(self.log_file) if self.root else None,
        }

    @classmethod
    def from_state(cls, state: dict) -> Postgres:
        self = cls(state["base_dir"])
        self.root = Path(state["root"]) if state.get("root") else None
        self.relocated = state.get("relocated", False)
        self.pid = state.get("pid")
        self.port = state.get("port")
        self.password = state.get("password")
        return self


# ---------------------------------------------------------------------------
# state file and CLI


def load_state(path) -> tuple[Postgres | None, Dovecot | None]:
    """Objects for the services listed in a state.json written by ``start``."""
    data = json.loads(Path(path).read_text())
    pg = Postgres.from_state(data["postgres"]) if data.get("postgres") else None
    dc = Dovecot.from_state(data["dovecot"]) if data.get("dovecot") else None
    return pg, dc


def load_idp(path) -> IdentityProvider | None:
    """The identity provider listed in a state.json written by ``start``."""
    data = json.loads(Path(path).read_text())
    return IdentityProvider.from_state(data["idp"]) if data.get("idp") else None


def load_sink(path) -> SmtpSink | None:
    """The SMTP sink listed in a state.json written by ``start``."""
    data = json.loads(Path(path).read_text())
    return SmtpSink.from_state(data["sink"]) if data.get("sink") else None


def _write_state(directory: Path, pg: Postgres | None, dc: Dovecot | None):
    state_file = directory / "state.json"
    idp = dc.idp if dc else None
    sink = dc.sink if dc else None
    data = {
        "postgres": pg.state() if pg else None,
        "dovecot": dc.state() if dc else None,
        "idp": idp.state() if idp else None,
        "sink": sink.state() if sink else None,
    }
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, state_file)
    env = {"CARERIX_DEVSERVICES_STATE": str(state_file)}
    if pg:
        env.update(
            CARERIX_PG_HOST=pg.host,
            CARERIX_PG_PORT=str(pg.port),
            CARERIX_PG_USER=pg.user,
            CARERIX_PG_PASSWORD=pg.password,
        )
    if dc:
        env.update(
            CARERIX_IMAP_HOST=dc.host,
            CARERIX_IMAP_PORT=str(dc.imap_port),
            CARERIX_POP3_PORT=str(dc.pop3_port),
            CARERIX_CA_FILE=dc.ca_file,
        )
        if dc.imaps_port:
            env.update(
                CARERIX_IMAPS_PORT=str(dc.imaps_port),
                CARERIX_POP3S_PORT=str(dc.pop3s_port),
            )
    if idp:
        env.update(CARERIX_IDP_URL=idp.url, CARERIX_IDP_CA_FILE=idp.ca_file)
    if sink:
        env.update(
            CARERIX_SMTP_SINK_PORT=str(sink.port),
            CARERIX_SMTP_SINK_DIR=str(sink.mail_dir),
            CARERIX_SUBMISSION_PORT=str(dc.submission_port),
        )
        if dc.submissions_port:
            env.update(CARERIX_SUBMISSIONS_PORT=str(dc.submissions_port))
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    (directory / "env.sh").write_text("\n".join(lines) + "\n")
    (directory / "env.sh").chmod(0o600)


def _running(svc) -> bool:
    return svc is not None and svc.is_running()


def cmd_start(args) -> int:
    directory = Path(args.dir).absolute()
    state_file = directory / "state.json"
    if state_file.exists():
        pg, dc = load_state(state_file)
        others = (load_idp(state_file), load_sink(state_file))
        if _running(pg) or _running(dc) or any(map(_running, others)):
            print(f"dev services already running (see {state_file}); not restarted")
            return 0
        cmd_stop(args)
    directory.mkdir(parents=True, exist_ok=True)
    pg = dc = idp = sink = None
    try:
        if args.only in (None, "pg"):
            shutil.rmtree(directory / "pg", ignore_errors=True)
            t0 = time.monotonic()
            pg = Postgres(directory / "pg").start()
            print(
                f"postgres: {pg.host}:{pg.port} user={pg.user} "
                f"({time.monotonic() - t0:.1f}s)"
            )
        if args.only in (None, "dovecot"):
            for sub in ("dovecot", "idp", "ca", "sink"):
                shutil.rmtree(directory / sub, ignore_errors=True)
            t0 = time.monotonic()
            ca = CertificateAuthority(directory / "ca")
            idp = IdentityProvider(directory / "idp", ca=ca).start()
            sink = SmtpSink(directory / "sink").start()
            dc = Dovecot(
                directory / "dovecot", starttls=args.starttls, idp=idp, ca=ca, sink=sink
            ).start()
            print(
                f"dovecot: imap {dc.host}:{dc.imap_port} pop3 {dc.pop3_port} "
                f"imaps {dc.imaps_port} pop3s {dc.pop3s_port} "
                f"submission {dc.submission_port} submissions {dc.submissions_port} "
                f"({time.monotonic() - t0:.1f}s)"
            )
            print(f"identity provider: {idp.url}")
            print(f"SMTP sink: {sink.host}:{sink.port} ({sink.mail_dir})")
        _write_state(directory, pg, dc)
    except BaseException:
        for svc in (dc, idp, sink, pg):
            if svc:
                svc.stop()
        raise
    for svc in (pg, dc, idp, sink):
        if svc:
            svc.detach()
    print(f"state: {state_file}\nenv:   . {directory / 'env.sh'}")
    return 0


def cmd_stop(args) -> int:
    directory = Path(args.dir).absolute()
    state_file = directory / "state.json"
    if not state_file.exists():
        print("no dev services state; nothing to stop")
        return 0
    pg, dc = load_state(state_file)
    for svc in (dc, load_idp(state_file), load_sink(state_file), pg):
        if svc:
            svc.stop()
            print(f"{svc.kind}: stopped")
    state_file.unlink(missing_ok=True)
    return 0


def _dovecot_from_dir(directory) -> Dovecot:
    state_file = Path(directory).absolute() / "state.json"
    if not state_file.exists():
        raise SystemExit(f"no {state_file}: run `start` first")
    _, dc = load_state(state_file)
    if dc is None:
        raise SystemExit("Dovecot is not part of these dev services")
    return dc


def cmd_add_user(args) -> int:
    _dovecot_from_dir(args.dir).add_user(args.login, args.password)
    return 0


def cmd_deliver(args) -> int:
    dc = _dovecot_from_dir(args.dir)
    for name in args.files:
        uid = dc.deliver(args.login, args.folder, Path(name).read_bytes())
        print(f"{name}: {args.folder} UID {uid}")
    return 0


def cmd_status(args) -> int:
    state_file = Path(args.dir).absolute() / "state.json"
    if not state_file.exists():
        print("not running")
        return 1
    pg, dc = load_state(state_file)
    alive = True
    for svc in (pg, dc, load_idp(state_file), load_sink(state_file)):
        if svc:
            up = svc.is_running()
            alive &= up
            print(f"{svc.kind}: {'running' if up else 'NOT running'} {svc!r}")
    return 0 if alive else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start", help="start services detached, write state.json")
    p.add_argument("--dir", required=True)
    p.add_argument("--no-starttls", dest="starttls", action="store_false")
    p.add_argument("--only", choices=("pg", "dovecot"))
    p.set_defaults(func=cmd_start)
    p = sub.add_parser("stop", help="stop what state.json lists (idempotent)")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=cmd_stop)
    p = sub.add_parser("status", help="exit 0 if all listed services run")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("add-user", help="add a Dovecot user")
    p.add_argument("--dir", required=True)
    p.add_argument("login")
    p.add_argument("password")
    p.set_defaults(func=cmd_add_user)
    p = sub.add_parser("idp-serve", help="run an identity provider (internal)")
    p.add_argument("config")
    p.set_defaults(func=lambda args: serve_idp(args.config) or 0)
    p = sub.add_parser("sink-serve", help="run an SMTP sink (internal)")
    p.add_argument("port")
    p.add_argument("directory")
    p.set_defaults(func=lambda args: serve_sink(args.port, args.directory) or 0)
    p = sub.add_parser("deliver", help="IMAP APPEND .eml files into a folder")
    p.add_argument("--dir", required=True)
    p.add_argument("login")
    p.add_argument("folder")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_deliver)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DevServiceError as exc:
        print(f"devservices: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
