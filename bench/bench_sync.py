"""Benchmarks of the carerix_mail sync against stock Odoo fetchmail, same run.

Prints figures, asserts nothing: messages per second on a first sync (ours and
stock ``fetchmail.server`` on identical mailboxes), IMAP commands of an idle
poll for a small and a large folder, the time to poll many idle mailboxes,
peak memory growth while syncing large attachments, and two workers against
one.

Usage (needs Odoo 18.0 importable; starts its own PostgreSQL and Dovecot):

    .venv/bin/python bench/bench_sync.py [--messages 1000] [--only first_sync,...]
"""

import argparse
import datetime
import multiprocessing
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402

PHASES = ("first_sync", "idle_poll", "many_idle", "memory", "two_workers")


def log(text):
    print(text, flush=True)


def make_messages(count, senders, seed=7):
    rnd = random.Random(seed)
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = rnd.choice(senders)
        msg["To"] = "recruiter@agency.example"
        msg["Subject"] = f"Sollicitatie {n} " + rnd.choice(
            ["projectleider", "werkvoorbereider", "monteur", "planner"]
        )
        msg["Message-ID"] = make_msgid(domain="bench.example")
        msg["Date"] = format_datetime(
            datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.timezone.utc)
            + datetime.timedelta(minutes=n)
        )
        msg.set_content(("Beste recruiter, hierbij mijn cv. " * 20) + f"\n#{n}\n")
        if n % 10 == 0:
            msg.add_attachment(
                os.urandom(20_000),
                maintype="application",
                subtype="pdf",
                filename=f"cv-{n}.pdf",
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


def deliver_big_mailbox(dovecot, login):
    messages = make_messages(200, ["a@b.example"], seed=3)
    for n in range(10):
        msg = EmailMessage()
        msg["From"] = "big@b.example"
        msg["Subject"] = f"big {n}"
        msg.set_content("see attachment")
        msg.add_attachment(
            os.urandom(10 * 1024 * 1024),
            maintype="application",
            subtype="octet-stream",
            filename=f"big{n}.bin",
        )
        messages.append(msg.as_bytes())
    bulk_append(dovecot, login, "INBOX", messages)


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="carerix-bench."))
        self.pg = devservices.Postgres(self.tmp / "pg").start()
        self.dovecot = devservices.Dovecot(self.tmp / "dovecot").start()
        self.db = "carerix_bench"
        self.conf = self.tmp / "odoo.conf"
        addons = subprocess.run(
            [
                "bash",
                "-c",
                f"source {ROOT}/scripts/lib.sh && odoo_addons_path",
            ],
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
        subprocess.run(
            [
                sys.executable,
                "-m",
                "odoo",
                "-c",
                str(self.conf),
                "-d",
                self.db,
                "-i",
                "carerix_mail",
                "--without-demo=all",
                "--stop-after-init",
                "--log-level=warn",
            ],
            check=True,
        )
        log(f"database ready in {time.monotonic() - started:.0f}s")
        import odoo  # noqa: PLC0415 (Odoo is only needed past this point)

        odoo.tools.config.parse_config(
            ["-c", str(self.conf), "-d", self.db, "--log-level=warn"]
        )
        self.odoo = odoo
        self.registry = odoo.modules.registry.Registry(self.db)

    def close(self):
        self.dovecot.stop()
        self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, cr):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        return api.Environment(cr, SUPERUSER_ID, {})

    def recruiter(self, cr, login, password):
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

    # ------------------------------------------------------------------
    def first_sync(self):
        count = self.args.messages
        with self.registry.cursor() as cr:
            env = self.env(cr)
            partners = env["res.partner"].create(
                [
                    {"name": f"Candidate {n}", "email": f"cand{n}@mail.example"}
                    for n in range(200)
                ]
            )
            senders = partners.mapped("email") + [
                f"unknown{n}@else.example" for n in range(50)
            ]
            ours = self.recruiter(cr, "ours", "pw-ours")
            self.dovecot.add_user("stock", "pw-stock")
            env["fetchmail.server"].create(
                {
                    "name": "stock",
                    "server": self.dovecot.host,
                    "port": self.dovecot.imap_port,
                    "server_type": "imap",
                    "is_ssl": False,
                    "user": "stock",
                    "password": "pw-stock",
                    "object_id": env.ref("base.model_res_partner").id,
                    "state": "done",
                }
            )
            cr.commit()
            ours_id = ours.id
        messages = make_messages(count, senders)
        bulk_append(self.dovecot, "ours", "INBOX", messages)
        bulk_append(self.dovecot, "stock", "INBOX", messages)
        log(f"first sync: {count} messages in each mailbox")

        # Stock first: Odoo drops a mail whose Message-ID already exists anywhere,
        # and our copies carry the original Message-IDs.
        with self.registry.cursor() as cr:
            env = self.env(cr)
            before = env["mail.message"].search_count([("message_type", "=", "email")])
            started = time.perf_counter()
            env["fetchmail.server"].search([("name", "=", "stock")]).fetch_mail()
            stock_s = time.perf_counter() - started
            stock_archived = (
                env["mail.message"].search_count([("message_type", "=", "email")])
                - before
            )
        with self.registry.cursor() as cr:
            env = self.env(cr)
            started = time.perf_counter()
            env["carerix.mailbox"]._claim_and_sync(mailbox_id=ours_id)
            ours_s = time.perf_counter() - started
            box = env["carerix.mailbox"].browse(ours_id)
            box.invalidate_recordset()
            ours_archived = env["carerix.mailbox.message"].search_count(
                [("mailbox_id", "=", ours_id)]
            )
            log(f"  carerix_mail: {box.state} {box.last_error or ''}")
        ours_rate = count / ours_s
        stock_rate = count / stock_s
        log(
            f"  carerix_mail : {ours_s:7.1f} s  {ours_rate:7.1f} msg/s  "
            f"{ours_archived} archived (one entry per mail)"
        )
        log(
            f"  stock fetch  : {stock_s:7.1f} s  {stock_rate:7.1f} msg/s  "
            f"{stock_archived} mail.message created, "
            f"{count - stock_archived} lost or dropped"
        )
        log(f"  ratio        : {ours_rate / stock_rate:.1f}x (target >= 20x)")

    def idle_poll(self):
        from odoo.addons.carerix_mail.engine import (  # noqa: PLC0415
            ConnectionSettings,
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
                make_messages(size, ["a@b.example"], seed=size)
                if size <= 100
                else [
                    b"From: a@b.example\r\nSubject: m%d\r\n\r\nbody\r\n" % n
                    for n in range(size)
                ],
            )
            settings = ConnectionSettings(
                host=self.dovecot.host,
                port=self.dovecot.imap_port,
                login=login,
                password="pw",
                security="starttls",
                ca_file=self.dovecot.ca_file,
            )
            with ImapMailbox(settings) as box:
                sync = box.sync_folder("INBOX", None, batch_size=500)
                for batch in sync:
                    last = batch.cursor
                cursor = Cursor(last.uidvalidity, last.last_uid)
            # A scheduled run opens a new connection, as here.
            with ImapMailbox(settings) as box:
                before = box.commands
                timings = []
                for _ in range(20):
                    started = time.perf_counter()
                    list(box.sync_folder("INBOX", cursor))
                    timings.append(time.perf_counter() - started)
                commands = (box.commands - before) / 20
            timings.sort()
            results[size] = (commands, timings[len(timings) // 2])
            log(
                f"idle poll, {size:>6} messages: {commands:.0f} IMAP command(s) "
                f"per poll, median {timings[len(timings) // 2] * 1000:.2f} ms"
            )
        small, large = results[100][1], results[10_000][1]
        log(f"  large/small poll time: {large / small:.2f} (target within 1.2)")

    def many_idle(self):
        count = 200
        with self.registry.cursor() as cr:
            env = self.env(cr)
            env["carerix.mailbox"].search([]).write({"fetch_enabled": False})
            ids = [self.recruiter(cr, f"many{n}", "pw").id for n in range(count)]
            cr.commit()
        with self.registry.cursor() as cr:  # first run: empty folders discovered
            self.env(cr)["carerix.mailbox"]._cron_sync()
        with self.registry.cursor() as cr:
            started = time.perf_counter()
            synced = self.env(cr)["carerix.mailbox"]._cron_sync()
            elapsed = time.perf_counter() - started
        log(
            f"{synced} idle mailboxes polled in {elapsed:.1f} s "
            f"({elapsed / max(synced, 1) * 1000:.0f} ms each; target < 10 s)"
        )
        with self.registry.cursor() as cr:
            self.env(cr)["carerix.mailbox"].browse(ids).write({"fetch_enabled": False})

    def memory(self):
        login = "memory"
        with self.registry.cursor() as cr:
            box_id = self.recruiter(cr, login, "pw").id
            cr.commit()
        # Built and delivered by a child process, so that this process's peak
        # RSS measures the sync only.
        child = multiprocessing.get_context("fork").Process(
            target=deliver_big_mailbox, args=(self.dovecot, login)
        )
        child.start()
        child.join()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with self.registry.cursor() as cr:
            env = self.env(cr)
            started = time.perf_counter()
            env["carerix.mailbox"]._claim_and_sync(mailbox_id=box_id)
            elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        log(
            f"memory: 210 messages incl. ten 10 MB attachments synced in "
            f"{elapsed:.1f} s; peak RSS growth {(after - before) / 1024:.0f} MB "
            f"(target < 100 MB)"
        )

    def two_workers(self):
        results = {}
        for workers in (1, 2):
            with self.registry.cursor() as cr:
                env = self.env(cr)
                env["carerix.mailbox"].search([]).write({"fetch_enabled": False})
                ids = []
                for n in range(50):
                    login = f"w{workers}m{n}"
                    ids.append(self.recruiter(cr, login, "pw").id)
                    bulk_append(
                        self.dovecot,
                        login,
                        "INBOX",
                        make_messages(10, ["a@b.example"], seed=n),
                    )
                cr.commit()

            # Separate processes, as separate cron workers or servers are.
            command = [
                sys.executable,
                __file__,
                "--worker",
                "--conf",
                str(self.conf),
                "--db",
                self.db,
            ]
            procs = [
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
                for _ in range(workers)
            ]
            for proc in procs:  # registries loaded
                assert proc.stdout.readline().strip() == "ready"
            started = time.perf_counter()
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            for proc in procs:
                proc.communicate()
            elapsed = time.perf_counter() - started
            with self.registry.cursor() as cr:
                env = self.env(cr)
                archived = env["carerix.mailbox.message"].search_count(
                    [("mailbox_id", "in", ids)]
                )
                env["carerix.mailbox"].browse(ids).write({"fetch_enabled": False})
            results[workers] = elapsed
            log(
                f"{workers} worker(s), 50 mailboxes x 10 messages: {elapsed:.1f} s, "
                f"{archived} archived (expected 500, so {archived - 500} twice)"
            )
        log(f"  speed-up with two workers: {results[1] / results[2]:.2f}x")


def worker(conf, db):
    """One cron worker in its own process: sync every mailbox it can claim."""
    import odoo  # noqa: PLC0415 (Odoo is only needed past this point)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(db)
    # Start together: the parent releases the workers once all are loaded.
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    with registry.cursor() as cr:
        api.Environment(cr, SUPERUSER_ID, {})["carerix.mailbox"]._cron_sync()
    print(f"{time.perf_counter() - started:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--only", default=",".join(PHASES))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--conf", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.conf, args.db)
        return
    log(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    bench = Bench(args)
    try:
        for phase in args.only.split(","):
            getattr(bench, phase)()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
