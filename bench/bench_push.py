"""Benchmark phase ``push`` of bench_sync.py: mail in seconds.

200 mailboxes watched by the push runner (``odoo carerix_push``); another
thread appends 100 messages, one every 300 ms, to random mailboxes. Latency
runs from APPEND's OK until the archived row is visible in the database, and
until the bus notification for it is; then a burst of 100 back to back. Then
the idle cost per mailbox (runner RSS and CPU, connections, Dovecot
processes), and Layer 1 (no runner): an Odoo server with its cron threads,
the owner comes online, until the mail he missed is archived.
"""

import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import psycopg2

LOG = [print]  # bench_sync's log, set by run()
COUNT = 200
MESSAGES = 100
INTERVAL = 0.3


def _mail(token):
    msg = EmailMessage()
    msg["From"] = "candidate@mail.example"
    msg["To"] = "recruiter@agency.example"
    msg["Subject"] = f"Reactie {token}"
    msg.set_content(f"Beste recruiter, {token}")
    return msg.as_bytes()


def _percentiles(values):
    ordered = sorted(values)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    return statistics.median(ordered), p95, ordered[-1]


class Observer(threading.Thread):
    """Polls the database every 20 ms: when each token's archived row, and its
    bus notification, became visible."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.connection = psycopg2.connect(dsn)
        self.connection.autocommit = True
        self.archived = {}
        self.notified = {}
        self.stopping = threading.Event()
        with self.connection.cursor() as cr:
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM carerix_mailbox_message")
            self.last_entry = cr.fetchone()[0]
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM bus_bus")
            self.last_bus = cr.fetchone()[0]

    def run(self):
        # Rows commit out of id order (two sync threads): read everything
        # since the start each time, not past the last id seen.
        token = re.compile(r"tok\w+?x\d+z")
        while not self.stopping.is_set():
            now = time.monotonic()
            with self.connection.cursor() as cr:
                cr.execute(
                    "SELECT subject FROM carerix_mailbox_message WHERE id > %s",
                    [self.last_entry],
                )
                for (subject,) in cr.fetchall():
                    for found in token.findall(subject or ""):
                        self.archived.setdefault(found, now)
                cr.execute(
                    "SELECT message FROM bus_bus WHERE id > %s"
                    " AND message LIKE '%%mail.message/inbox%%'",
                    [self.last_bus],
                )
                for (message,) in cr.fetchall():
                    for found in token.findall(message):
                        self.notified.setdefault(found, now)
            time.sleep(0.02)

    def wait(self, tokens, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(t in self.archived and t in self.notified for t in tokens):
                return
            time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        self.join(2)
        self.connection.close()


def _append(bench, logins, tokens, interval, ok_at):
    rnd = random.Random(11)
    for token in tokens:
        started = time.monotonic()
        bench.dovecot.deliver(rnd.choice(logins), "INBOX", _mail(token))
        ok_at[token] = time.monotonic()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _report(bench, label, observer, ok_at):
    for what, seen in (("archived", observer.archived), ("bus", observer.notified)):
        latencies = [seen[t] - ok for t, ok in ok_at.items() if t in seen]
        missing = len(ok_at) - len(latencies)
        if not latencies:
            bench_log(bench, f"push {label}: nothing {what}")
            continue
        p50, p95, top = _percentiles(latencies)
        bench_log(
            bench,
            f"push {label}, APPEND OK -> {what}: p50 {p50:.2f} s, p95 {p95:.2f} s, "
            f"max {top:.2f} s ({missing} missing)",
        )


def bench_log(_bench, text):
    LOG[0](text)


def _proc(pid, name):
    with open(f"/proc/{pid}/{name}", encoding="ascii") as handle:
        return handle.read()


def _rss_kb(pid):
    for line in _proc(pid, "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid):
    fields = _proc(pid, "stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, ticks


def _dovecot_sessions(bench):
    out = bench.dovecot.doveadm("who", "-1")
    return sum(1 for line in out.splitlines()[1:] if line.strip())


def _dovecot_imap_processes(bench):
    """The pids of Dovecot's imap processes (one per session)."""
    out = subprocess.run(
        ["ps", "-o", "pid=,comm=", "-g", str(bench.dovecot.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    pids = []
    for line in out.splitlines():
        pid, _sep, name = line.strip().partition(" ")
        if name.strip() == "imap":
            pids.append(pid)
    return pids


def _dovecot_idle_sessions_with_inotify(bench):
    """Dovecot imap processes holding an inotify instance (the others poll
    every 30 s: fs.inotify.max_user_instances is per user, for all of them)."""
    count = 0
    for pid in _dovecot_imap_processes(bench):
        fds = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == "anon_inode:inotify" for fd in fds.iterdir()):
                count += 1
    return count


def _wait(predicate, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _odoo(bench, registry, *args, log_file):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odoo",
            *args,
            "-c",
            str(bench.conf),
            "-d",
            registry.db_name,
            f"--logfile={log_file}",
            "--log-level=info",
        ],
        stdin=subprocess.DEVNULL,
    )


def run(bench, log, count=200):
    LOG[0] = log
    global COUNT  # noqa: PLW0603 (one phase per process)
    COUNT = count
    registry = bench.fresh("bench_tpl_ours", "push")
    logins = [f"push{n}" for n in range(COUNT)]
    with registry.cursor() as cr:
        for login in logins:
            bench.recruiter(cr, login)
        # The 5-minute sweep must not run during the measures.
        bench.env(cr).ref("carerix_mail.carerix_mailbox_cron_sync").active = False
        cr.commit()
    addons = bench.odoo.tools.config["addons_path"]
    runner_log = bench.tmp / "push-runner.log"
    runner_log.touch()
    runner = _odoo(
        bench,
        registry,
        f"--addons-path={addons}",
        "carerix_push",
        "--reload-interval=2",
        log_file=runner_log,
    )
    try:
        _measure_runner(bench, registry, logins, runner, runner_log)
    finally:
        runner.terminate()
        runner.wait(10)
    _layer1(bench, registry, logins)


def _measure_runner(bench, registry, logins, runner, runner_log):
    _wait(lambda: "leading database" in runner_log.read_text(errors="replace"), 120)
    time.sleep(3)  # the registry loaded, nothing watched yet (no first sync)
    rss_before = _rss_kb(runner.pid)
    with registry.cursor() as cr:
        started = time.monotonic()
        bench.env(cr)["carerix.mailbox"]._cron_sync(time_budget=600)
        elapsed = time.monotonic() - started
        bench_log(bench, f"push: first syncs of {COUNT} mailboxes {elapsed:.1f} s")
    watched = _wait(lambda: _dovecot_sessions(bench) >= COUNT, 120)
    sessions = _dovecot_sessions(bench)
    bench_log(bench, f"push: {sessions} IMAP sessions (all watched: {watched})")
    time.sleep(5)
    rss_after = _rss_kb(runner.pid)
    cpu_start = _cpu_seconds(runner.pid)
    time.sleep(60)
    cpu_minute = _cpu_seconds(runner.pid) - cpu_start
    bench_log(
        bench,
        f"push idle cost per mailbox: RSS {(rss_after - rss_before) / COUNT:.0f} KB "
        f"(target <= 100 KB), CPU {cpu_minute / COUNT * 1000:.2f} ms per minute "
        f"(target <= 1 ms), {_dovecot_sessions(bench) / COUNT:.0f} connection, "
        f"{len(_dovecot_imap_processes(bench))} Dovecot imap processes for {COUNT} "
        f"mailboxes, {_dovecot_idle_sessions_with_inotify(bench)} of them with "
        f"inotify (fs.inotify.max_user_instances here: "
        f"{Path('/proc/sys/fs/inotify/max_user_instances').read_text().strip()})",
    )
    dsn = bench.pg.dsn(registry.db_name)
    for label, count, interval in (
        (f"{MESSAGES} messages, one every {INTERVAL:.1f} s", MESSAGES, INTERVAL),
        (f"burst of {MESSAGES} back to back", MESSAGES, 0.0),
    ):
        observer = Observer(dsn)
        observer.start()
        tokens = [f"tok{int(interval * 1000)}x{n}z" for n in range(count)]
        ok_at = {}
        _append(bench, logins, tokens, interval, ok_at)
        observer.wait(tokens)
        observer.stop()
        _report(bench, label, observer, ok_at)


def _layer1(bench, registry, logins):
    """No runner: an Odoo server with its cron threads; the owner comes
    online and the mail he missed is archived."""
    from odoo import fields  # noqa: PLC0415

    server_log = bench.tmp / "odoo-server.log"
    server = _odoo(
        bench,
        registry,
        "--max-cron-threads=1",
        f"--http-port={_free_port()}",
        log_file=server_log,
    )
    try:
        time.sleep(15)  # started, and its cron thread done with the due jobs
        with registry.cursor() as cr:
            env = bench.env(cr)
            users = env["res.users"].search([("login", "in", logins)])
            by_login = {u.login: u.id for u in users}
        latencies = []
        rnd = random.Random(5)
        for n in range(20):
            login = rnd.choice(logins)
            token = f"tokL1x{n}z"
            bench.dovecot.deliver(login, "INBOX", _mail(token))
            observer = Observer(bench.pg.dsn(registry.db_name))
            observer.start()
            with registry.cursor() as cr:
                env = bench.env(cr)
                user_id = by_login[login]
                presence = env["bus.presence"].search([("user_id", "=", user_id)])
                if presence:
                    presence.last_poll = fields.Datetime.subtract(
                        fields.Datetime.now(), minutes=10
                    )
                    cr.commit()
                env["bus.presence"]._update_presence(0, "user_id", user_id)
                cr.commit()
                came_online = time.monotonic()
            _wait(lambda token=token, o=observer: token in o.archived, 30, 0.02)
            observer.stop()
            if token in observer.archived:
                latencies.append(observer.archived[token] - came_online)
        if latencies:
            p50, p95, top = _percentiles(latencies)
            bench_log(
                bench,
                f"layer 1 (owner online -> archived, one cron thread free): p50 "
                f"{p50:.2f} s, p95 {p95:.2f} s, max {top:.2f} s over "
                f"{len(latencies)} of 20 (target p95 <= 3 s)",
            )
        else:
            bench_log(bench, "layer 1: nothing archived")
    finally:
        server.terminate()
        server.wait(15)


def _free_port():
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
