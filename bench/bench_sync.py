"""Benchmarks of the carerix_mail sync against stock Odoo fetchmail, same run.

Prints figures, asserts nothing (issue 6):

1. first sync: one mailbox of N realistic messages (plain, HTML, attachments;
   half from known partners), synced by stock ``fetchmail.server`` and by
   carerix_mail, each into its own fresh database; messages per second of
   both, the ratio, and the raw IMAP fetch speed of the same mailbox (at
   1,000 messages each side runs ``--repeat`` times, the ratio is between
   the medians);
2. idle poll: IMAP commands and milliseconds of a poll that finds nothing new,
   for a folder of 100 and one of 10,000 messages;
3. many mailboxes: one cron run over 200 mailboxes with 5 new messages each,
   then one over the same mailboxes idle;
4. memory: peak RSS growth of a worker process during a first sync of 5,000
   messages that include ten 10 MB attachments;
5. two workers: two cron processes against one on 50 mailboxes, and how many
   messages were archived twice;
6. Odoo's mail flows (bench/odoo_flows.py);
7. push: mail in seconds, with the push runner and with Layer 1 (see
   ``bench_push.py``);
8. own servers: 500 mails from 5 users sent by ``mail.mail.send`` through
   each user's own server (Dovecot's submission service, STARTTLS and AUTH,
   relaying to an SMTP sink) against stock Odoo sending them through the
   company's server (the sink itself): wall time and SMTP connections.

Usage (needs Odoo 18.0 importable; starts its own PostgreSQL and Dovecot):

    .venv/bin/python bench/bench_sync.py [--messages 1000,5000] [--only first_sync,...]
        [--repeat 3] [--postgres durable|fast] [--profile DIR]
"""

import argparse
import cProfile
import datetime
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import bench_push  # noqa: E402
import devservices  # noqa: E402
import odoo_flows  # noqa: E402

PHASES = (
    "first_sync",
    "idle_poll",
    "many_mailboxes",
    "memory",
    "two_workers",
    "odoo_flows",
    "push",
    "own_smtp",
)
OURS_TEMPLATE = "bench_tpl_ours"
STOCK_TEMPLATE = "bench_tpl_stock"

WORDS = (
    "projectleider werkvoorbereider monteur planner beschikbaar per direct "
    "ervaring rijbewijs gesprek dinsdag salarisindicatie referenties"
).split()


def log(text):
    print(text, flush=True)


def _proc_status_mb(key):
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def current_rss_mb():
    return _proc_status_mb("VmRSS")


def peak_rss_mb():
    """Peak RSS since the last :func:`reset_peak_rss`."""
    return _proc_status_mb("VmHWM")


def reset_peak_rss():
    """Start the peak over from the current RSS (Linux: loading the registry
    peaks higher than a sync, and would hide it)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")


def cpu_times():
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def make_messages(count, known, unknown, seed=7):
    """Realistic recruitment mail: every other message from a known partner,
    one in three in HTML (with its plain alternative), one in ten with a CV
    attached (20-200 KB)."""
    rnd = random.Random(seed)
    start = datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.timezone.utc)
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = rnd.choice(known if n % 2 == 0 else unknown)
        msg["To"] = "Recruiter <recruiter@agency.example>"
        msg["Subject"] = f"Sollicitatie {n} {rnd.choice(WORDS)}"
        msg["Message-ID"] = make_msgid(domain="bench.example")
        msg["Date"] = format_datetime(start + datetime.timedelta(minutes=n))
        paragraphs = [
            " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 60)))
            for _ in range(rnd.randint(1, 4))
        ]
        msg.set_content("Beste recruiter,\n\n" + "\n\n".join(paragraphs) + f"\n#{n}\n")
        if n % 3 == 0:
            html = "".join(f"<p>{p}</p>" for p in paragraphs)
            msg.add_alternative(
                f"<html><body><p>Beste <b>recruiter</b>,</p>{html}"
                f'<p style="color:#555">#{n}</p></body></html>',
                subtype="html",
            )
        if n % 10 == 0:
            msg.add_attachment(
                rnd.randbytes(rnd.randint(20_000, 200_000)),
                maintype="application",
                subtype="pdf",
                filename=f"cv-{n}.pdf",
            )
        out.append(msg.as_bytes())
    return out


def big_messages(count, size):
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = "big@b.example"
        msg["Subject"] = f"big {n}"
        msg["Message-ID"] = make_msgid(domain="bench.example")
        msg.set_content("see attachment")
        msg.add_attachment(
            os.urandom(size),
            maintype="application",
            subtype="octet-stream",
            filename=f"big{n}.bin",
        )
        out.append(msg.as_bytes())
    return out


def bulk_append(dovecot, login, folder, messages):
    client = dovecot.imap(login)
    try:
        if folder.upper() != "INBOX" and not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw)
    finally:
        client.logout()


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="carerix-bench."))
        durable = args.postgres == "durable"
        self.pg = devservices.Postgres(self.tmp / "pg", durable=durable).start()
        log(
            "PostgreSQL: "
            + (
                "its default durability (fsync, synchronous commits), as in production"
                if durable
                else "fsync and synchronous commits off, as the tests run it"
            )
        )
        self.sink = devservices.SmtpSink(self.tmp / "sink").start()
        self.dovecot = devservices.Dovecot(self.tmp / "dovecot", sink=self.sink).start()
        self.conf = self.tmp / "odoo.conf"
        addons = subprocess.run(
            ["bash", "-c", f"source {ROOT}/scripts/lib.sh && odoo_addons_path"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.conf.write_text(
            "[options]\n"
            f"db_host = {self.pg.host}\ndb_port = {self.pg.port}\n"
            f"db_user = {self.pg.user}\ndb_password = {self.pg.password}\n"
            f"addons_path = {addons}\ndata_dir = {self.tmp / 'data'}\n"
        )
        started = time.monotonic()
        self.install(OURS_TEMPLATE, "carerix_mail")
        # Stock: the same dependencies, without carerix_mail.
        self.install(STOCK_TEMPLATE, "mail,contacts")
        log(f"template databases ready in {time.monotonic() - started:.0f}s")
        import odoo  # noqa: PLC0415 (Odoo is only needed past this point)

        odoo.tools.config.parse_config(["-c", str(self.conf), "--log-level=warn"])
        self.odoo = odoo
        self.serial = 0

    def install(self, db, modules):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "odoo",
                "-c",
                str(self.conf),
                "-d",
                db,
                "-i",
                modules,
                "--without-demo=all",
                "--stop-after-init",
                "--log-level=warn",
            ],
            check=True,
        )

    def fresh(self, template, name):
        """A new database copied from ``template`` (filestore included) and
        its registry."""
        from odoo.service import db  # noqa: PLC0415

        self.serial += 1
        dbname = f"bench_{name}_{self.serial}"
        db.exp_duplicate_database(template, dbname)
        return self.odoo.modules.registry.Registry(dbname)

    def close(self):
        self.dovecot.stop()
        self.sink.stop()
        self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, cr):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        return api.Environment(cr, SUPERUSER_ID, {})

    def recruiter(self, cr, login, password="pw"):
        env = self.env(cr)
        self.dovecot.add_user(login, password)
        user = env["res.users"].create(
            {"name": login, "login": login, "email": f"{login}@agency.example"}
        )
        box = user._carerix_mailbox(create=True)
        box.write(
            {
                "host": self.dovecot.host,
                "port": self.dovecot.imap_port,
                "login": login,
                "protocol": "imap",
                "security": "starttls",
                "ca_file": self.dovecot.ca_file,
                "fetch_enabled": True,
            }
        )
        box._set_password(password)
        return box

    def engine_settings(self, login, password="pw"):
        from odoo.addons.carerix_mail.engine import (  # noqa: PLC0415
            ConnectionSettings,
        )

        return ConnectionSettings(
            host=self.dovecot.host,
            port=self.dovecot.imap_port,
            login=login,
            password=password,
            security="starttls",
            ca_file=self.dovecot.ca_file,
        )

    def worker(self, registry, mode, mailbox_id=0):
        return subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                mode,
                "--conf",
                str(self.conf),
                "--db",
                registry.db_name,
                "--mailbox",
                str(mailbox_id),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    # ------------------------------------------------------------------
    def first_sync(self):
        for count in self.args.messages:
            self.first_sync_of(count)

    def first_sync_of(self, count):
        """Both sides ``--repeat`` times (alternating, each run in a fresh
        database and a fresh copy of the mailbox; at 1,000 messages only, the
        larger runs take minutes on stock's side): the machine's noise moves
        single runs by 10-20%, so the ratio is taken between the medians."""
        known = [f"cand{n}@mail.example" for n in range(200)]
        unknown = [f"unknown{n}@else.example" for n in range(200)]
        messages = make_messages(count, known, unknown, seed=count)
        megabytes = sum(map(len, messages)) / 1e6
        repeat = self.args.repeat if count <= 1000 else 1
        log(
            f"first sync of {count} messages ({megabytes:.1f} MB; plain, HTML and "
            f"attachments; half from 200 known partners), each side in a fresh "
            f"database, {repeat} run(s) each:"
        )
        partners = [{"name": f"Candidate {n}", "email": e} for n, e in enumerate(known)]
        stock_rates, ours_rates = [], []
        for run in range(repeat):
            self.serial += 1
            ours_login = f"ours{count}_{self.serial}"
            stock_login = f"stock{count}_{self.serial}"
            for login in (ours_login, stock_login):
                self.dovecot.add_user(login, "pw")
                bulk_append(self.dovecot, login, "INBOX", messages)
            if run == 0:
                self.transport_limit(count, ours_login)
            stock_s, stock_note = self.stock_first_sync(count, stock_login, partners)
            ours_s, ours_note = self.ours_first_sync(count, ours_login, partners)
            stock_rates.append(count / stock_s)
            ours_rates.append(count / ours_s)
            log(
                f"  stock fetchmail: {stock_s:7.1f} s {count / stock_s:7.0f} msg/s  "
                f"({stock_note})"
            )
            log(
                f"  carerix_mail   : {ours_s:7.1f} s {count / ours_s:7.0f} msg/s  "
                f"({ours_note})"
            )
        stock_rate = statistics.median(stock_rates)
        ours_rate = statistics.median(ours_rates)
        if repeat > 1:
            log(
                f"  medians: stock {stock_rate:.0f} msg/s, carerix_mail "
                f"{ours_rate:.0f} msg/s"
            )
        log(
            f"  ratio carerix_mail / stock: {ours_rate / stock_rate:.1f}x "
            f"(target >= 20x)"
        )

    def transport_limit(self, count, login):
        """The same mailbox fetched by the engine, nothing stored."""
        from odoo.addons.carerix_mail.engine import ImapMailbox  # noqa: PLC0415

        started = time.perf_counter()
        fetched = 0
        with ImapMailbox(self.engine_settings(login)) as box:
            for batch in box.sync_folder("INBOX", None):
                fetched += len(batch.messages)
            commands = box.commands
        raw_s = time.perf_counter() - started
        log(
            f"  IMAP fetch only: {raw_s:7.1f} s {count / raw_s:7.0f} msg/s  "
            f"({fetched} bodies, {commands} IMAP commands, STARTTLS): "
            f"the transport limit"
        )

    def stock_first_sync(self, count, login, partners):
        stock = self.fresh(STOCK_TEMPLATE, f"stock{count}")
        with stock.cursor() as cr:
            env = self.env(cr)
            env["res.partner"].create(partners)
            server = env["fetchmail.server"].create(
                {
                    "name": "stock",
                    "server": self.dovecot.host,
                    "port": self.dovecot.imap_port,
                    "server_type": "imap",
                    "is_ssl": False,
                    "user": login,
                    "password": "pw",
                    "object_id": env.ref("base.model_res_partner").id,
                    "state": "done",
                }
            )
            cr.commit()
            before = env["mail.message"].search_count([("message_type", "=", "email")])
            started = time.perf_counter()
            server.fetch_mail()
            seconds = time.perf_counter() - started
            archived = (
                env["mail.message"].search_count([("message_type", "=", "email")])
                - before
            )
            # what Odoo's gateway sends back (its loop detector bounces)
            bounces = env["mail.mail"].search_count([])
        return seconds, (
            f"{archived} mail.message created, {count - archived} lost, "
            f"{bounces} bounces queued; plain IMAP, marks every mail read"
        )

    def ours_first_sync(self, count, login, partners):
        ours = self.fresh(OURS_TEMPLATE, f"ours{count}")
        with ours.cursor() as cr:
            env = self.env(cr)
            env["res.partner"].create(partners)
            box_id = self.recruiter(cr, login).id
            cr.commit()
        with ours.cursor() as cr:
            env = self.env(cr)
            profile = cProfile.Profile() if self.args.profile else None
            started = time.perf_counter()
            if profile:
                profile.enable()
            env["carerix.mailbox"]._claim_and_sync(mailbox_id=box_id)
            if profile:
                profile.disable()
            seconds = time.perf_counter() - started
            if profile:
                out = Path(self.args.profile) / f"first_sync_{count}_{self.serial}.prof"
                out.parent.mkdir(parents=True, exist_ok=True)
                profile.dump_stats(out)
                log(f"  profile: {out}")
            box = env["carerix.mailbox"].browse(box_id)
            entries = env["carerix.mailbox.message"].search(
                [("mailbox_id", "=", box_id)]
            )
            copies = env["mail.message"].search_count(
                [("carerix_mailbox_message_id", "in", entries.ids)]
            )
            states = {
                state: len(entries.filtered(lambda e, s=state: e.state == s))
                for state in ("matched", "unmatched", "raw")
            }
            health = f"{box.state} {box.last_error or ''}".strip()
        return seconds, (
            f"sync {health}; {len(entries)} mails archived: {states['matched']} on "
            f"partners, {states['unmatched']} unmatched, {states['raw']} raw; "
            f"{copies} archive copies; STARTTLS"
        )

    def idle_poll(self):
        from odoo.addons.carerix_mail.engine import (  # noqa: PLC0415
            Cursor,
            ImapMailbox,
        )

        results = {}
        for size in (100, 10_000):
            login = f"idle{size}"
            self.dovecot.add_user(login, "pw")
            bulk_append(
                self.dovecot,
                login,
                "INBOX",
                [
                    b"From: a@b.example\r\nSubject: m%d\r\n\r\nbody\r\n" % n
                    for n in range(size)
                ],
            )
            settings = self.engine_settings(login)
            with ImapMailbox(settings) as box:
                for batch in box.sync_folder("INBOX", None, batch_size=1000):
                    last = batch.cursor
            cursor = Cursor(last.uidvalidity, last.last_uid)
            # Idle means unchanged for a while: Dovecot rescans a Maildir
            # whose directories changed in the last seconds (it cannot trust
            # their mtime yet), which the bulk append above just did.
            time.sleep(3)
            # A poll as a scheduled run makes it: connect, STARTTLS, LOGIN,
            # the folder check, LOGOUT.
            polls, commands = [], set()
            for _ in range(30):
                started = time.perf_counter()
                with ImapMailbox(settings) as box:
                    before = box.commands
                    assert not list(box.sync_folder("INBOX", cursor))
                    commands.add(box.commands - before)
                polls.append(time.perf_counter() - started)
            # The folder check alone, on an open connection.
            checks = []
            with ImapMailbox(settings) as box:
                for _ in range(300):
                    started = time.perf_counter()
                    box.sync_folder("INBOX", cursor)
                    checks.append(time.perf_counter() - started)
            poll, check = statistics.median(polls), statistics.median(checks)
            results[size] = (poll, check)
            log(
                f"idle poll, {size:>6} messages: {max(commands)} IMAP command(s) for "
                f"the folder; whole poll (new connection) median {poll * 1000:.2f} ms, "
                f"folder check alone {check * 1000:.3f} ms"
            )
        (poll_s, check_s), (poll_l, check_l) = results[100], results[10_000]
        log(
            f"  10,000 / 100 messages: whole poll {poll_l / poll_s:.2f}x "
            f"(target within 1.2x), folder check alone {check_l / check_s:.2f}x "
            f"(the server opening its index)"
        )

    def many_mailboxes(self):
        count = 200
        registry = self.fresh(OURS_TEMPLATE, "many")
        known = [f"cand{n}@mail.example" for n in range(20)]
        with registry.cursor() as cr:
            self.env(cr)["res.partner"].create(
                [{"name": f"Candidate {n}", "email": e} for n, e in enumerate(known)]
            )
            for n in range(count):
                login = f"many{n}"
                self.recruiter(cr, login)
                bulk_append(
                    self.dovecot,
                    login,
                    "INBOX",
                    make_messages(5, known, ["x@else.example"], seed=n),
                )
            cr.commit()
        for label in ("5 new messages each", "idle"):
            with registry.cursor() as cr:
                env = self.env(cr)
                started = time.perf_counter()
                synced = env["carerix.mailbox"]._cron_sync()
                elapsed = time.perf_counter() - started
                archived = env["carerix.mailbox.message"].search_count([])
                failing = env["carerix.mailbox"].search_count([("state", "!=", "ok")])
            log(
                f"{synced} mailboxes, {label}: one cron run {elapsed:.1f} s "
                f"({elapsed / max(synced, 1) * 1000:.0f} ms each; {archived} archived "
                f"in all, {failing} failing)"
                + ("; target < 10 s" if label == "idle" else "")
            )

    def push(self):
        bench_push.run(self, log, self.args.push_mailboxes)

    def memory(self):
        login = "memory"
        registry = self.fresh(OURS_TEMPLATE, "memory")
        with registry.cursor() as cr:
            box_id = self.recruiter(cr, login).id
            cr.commit()
        messages = make_messages(5000, ["a@b.example"], ["c@d.example"], seed=5)
        messages[::500] = big_messages(10, 10 * 1024 * 1024)
        bulk_append(self.dovecot, login, "INBOX", messages)
        del messages
        proc = self.worker(registry, "memory", box_id)
        baseline = float(proc.stdout.readline().split()[1])
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, _err = proc.communicate()
        elapsed, peak, archived = out.split()
        peak = float(peak)
        log(
            f"memory: first sync of 5,000 messages incl. ten 10 MB attachments in "
            f"{float(elapsed):.1f} s, {archived} archived; worker RSS "
            f"{baseline:.0f} MB before, peak {peak:.0f} MB: growth "
            f"{peak - baseline:.0f} MB (target < 100 MB)"
        )

    def two_workers(self):
        results = {}
        for workers in (1, 2):
            registry = self.fresh(OURS_TEMPLATE, f"workers{workers}")
            with registry.cursor() as cr:
                for n in range(50):
                    login = f"w{workers}m{n}"
                    self.recruiter(cr, login)
                    bulk_append(
                        self.dovecot,
                        login,
                        "INBOX",
                        make_messages(10, ["a@b.example"], ["c@d.example"], seed=n),
                    )
                cr.commit()
            # Separate processes, as separate cron workers or servers are.
            procs = [self.worker(registry, "cron") for _ in range(workers)]
            for proc in procs:  # registries loaded
                assert proc.stdout.readline().startswith("ready")
            started = time.perf_counter()
            busy_before, total_before = cpu_times()
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            worker_cpu = sum(float(proc.communicate()[0].split()[1]) for proc in procs)
            elapsed = time.perf_counter() - started
            busy_after, total_after = cpu_times()
            machine = (busy_after - busy_before) / (total_after - total_before)
            with registry.cursor() as cr:
                env = self.env(cr)
                archived = env["carerix.mailbox.message"].search_count([])
                copies = env["mail.message"].search_count(
                    [("model", "=", "carerix.mailbox.message")]
                )
            results[workers] = elapsed
            log(
                f"{workers} worker(s), 50 mailboxes x 10 messages: {elapsed:.1f} s, "
                f"{archived} archived, {copies - 500} archived twice; worker CPU "
                f"{worker_cpu:.1f} s, machine busy {machine:.0%} of "
                f"{os.cpu_count()} cores (PostgreSQL and Dovecot included)"
            )
        log(f"  speed-up with two workers: {results[1] / results[2]:.2f}x")

    # ------------------------------------------------------------------
    def odoo_flows(self):
        """Odoo's own mail flows (see bench/odoo_flows.py), stock against
        carerix_mail installed, each side in a fresh copy of its template."""
        sink = odoo_flows.SmtpSink()
        try:
            runs = []  # (side, user kind, registry, user id)
            for side, template in (("stock", STOCK_TEMPLATE), ("ours", OURS_TEMPLATE)):
                registry = self.fresh(template, f"flows_{side}")
                with registry.cursor() as cr:
                    users = odoo_flows.prepare(self.env(cr), sink.port, side == "ours")
                runs += [(side, kind, registry, uid) for kind, uid in users.items()]
            measured = {(side, kind): [] for side, kind, _r, _u in runs}
            for round_ in range(odoo_flows.ROUNDS):
                for side, kind, registry, user_id in runs:
                    result = odoo_flows.measure(registry, user_id, warm_up=not round_)
                    measured[side, kind].append(result)
            results = {"stock": {}, "ours": {}}
            for (side, kind), side_runs in measured.items():
                results[side][kind] = odoo_flows.median_results(side_runs)
            log(
                f"Odoo's mail flows, median of {odoo_flows.ROUNDS} runs "
                f"({sink.received} mails reached the SMTP sink):"
            )
            odoo_flows.report(log, results["stock"], results["ours"])
        finally:
            sink.close()

    # ------------------------------------------------------------------
    def own_smtp(self, users=5, mails=500):
        """``mail.mail.send`` of 500 mails from 5 users: stock Odoo through
        the company's server, carerix_mail through each user's own server."""
        results = {}
        for side, template in (("stock", STOCK_TEMPLATE), ("ours", OURS_TEMPLATE)):
            registry = self.fresh(template, f"smtp_{side}")
            with registry.cursor() as cr:
                mail_ids = self.own_smtp_prepare(cr, side, users, mails)
            runs = []
            for _round in range(odoo_flows.ROUNDS):
                with registry.cursor() as cr:
                    env = self.env(cr)
                    before, received = self.sink.connections, len(self.sink.messages())
                    started = time.perf_counter()
                    env["mail.mail"].browse(mail_ids).send(auto_commit=False)
                    env.flush_all()
                    elapsed = time.perf_counter() - started
                    sent = len(self.sink.wait_for(received + mails)) - received
                    runs.append((elapsed, self.sink.connections - before, sent))
                    cr.rollback()  # the mails queued again for the next round
            results[side] = sorted(runs)[len(runs) // 2]
        log(
            f"own servers: {mails} mails from {users} users, median of "
            f"{odoo_flows.ROUNDS} runs of mail.mail.send"
        )
        for side, label in (
            ("stock", "stock Odoo, company server"),
            ("ours", "carerix_mail, each user's own server (STARTTLS + AUTH)"),
        ):
            elapsed, connections, sent = results[side]
            log(
                f"  {label}: {elapsed:.2f} s, {sent / elapsed:.0f} mails/s, "
                f"{connections} SMTP connections, {sent} mails received"
            )
        log(f"  ratio ours/stock: {results['ours'][0] / results['stock'][0]:.2f}x")

    def own_smtp_prepare(self, cr, side, users, mails):
        """The company server (the sink), the users (with carerix_mail each
        with his own server) and their queued mails; returns the mail ids."""
        env = self.env(cr)
        env["ir.mail_server"].search([]).unlink()
        env["ir.mail_server"].create(
            {
                "name": "company",
                "smtp_host": self.sink.host,
                "smtp_port": self.sink.port,
                "smtp_encryption": "none",
            }
        )
        senders = []
        for number in range(users):
            login = f"smtp{number}_{self.serial}"
            if side == "ours":
                box = self.recruiter(cr, login)
                box.write(
                    {
                        "from_address": f"{login}@agency.example",
                        "smtp_mode": "own",
                        "smtp_host": self.dovecot.host,
                        "smtp_port": self.dovecot.submission_port,
                        "smtp_security": "starttls",
                    }
                )
                user = box.user_id
            else:
                user = env["res.users"].create(
                    {"name": login, "login": login, "email": f"{login}@agency.example"}
                )
            senders.append(user.partner_id)
        values = [
            {
                "author_id": sender.id,
                "email_from": sender.email_formatted,
                "email_to": f"contact{n}@smtp.example",
                "subject": f"A job for you {n}",
                "body_html": f"<p>Dear contact {n}, a new job for you.</p>",
            }
            for n in range(mails)
            for sender in senders[n % users : n % users + 1]
        ]
        mail_ids = env["mail.mail"].create(values).ids
        cr.commit()
        return mail_ids


def worker(mode, conf, db, mailbox_id):
    """A cron worker in its own process: ``cron`` syncs every mailbox it can
    claim, ``memory`` syncs one mailbox and reports its peak RSS."""
    import odoo  # noqa: PLC0415 (Odoo is only needed past this point)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(db)
    reset_peak_rss()
    # Start together: the parent releases the workers once all are loaded.
    print(f"ready {current_rss_mb():.1f}", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = usage.ru_utime + usage.ru_stime
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if mode == "memory":
            env["carerix.mailbox"]._claim_and_sync(mailbox_id=mailbox_id)
            archived = env["carerix.mailbox.message"].search_count([])
            elapsed = time.perf_counter() - started
            print(f"{elapsed:.3f} {peak_rss_mb():.1f} {archived}", flush=True)
        else:
            env["carerix.mailbox"]._cron_sync()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime - cpu_at_start
            print(f"{time.perf_counter() - started:.3f} {cpu:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", default="1000,5000")
    parser.add_argument("--only", default=",".join(PHASES))
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each side of the first sync at 1,000 messages or fewer",
    )
    parser.add_argument(
        "--postgres",
        choices=("durable", "fast"),
        default="durable",
        help="durable: PostgreSQL's defaults, as in production; fast: fsync and "
        "synchronous commits off, as the tests run it",
    )
    parser.add_argument(
        "--push-mailboxes",
        type=int,
        default=200,
        help="mailboxes watched in phase push (Dovecot needs an inotify "
        "instance for each: fs.inotify.max_user_instances)",
    )
    parser.add_argument("--profile", help="write cProfile data of our first syncs here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--conf", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--mailbox", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.conf, args.db, args.mailbox)
        return
    args.messages = [int(n) for n in args.messages.split(",")]
    log(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    bench = Bench(args)
    try:
        for phase in args.only.split(","):
            getattr(bench, phase)()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
