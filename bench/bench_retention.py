"""Benchmark of the retention of archived mail with inactive candidates
(phase ``retention``). Prints figures, asserts nothing but that the
dry run counted what the run deleted.

It starts its own PostgreSQL, installs carerix_mail_recruitment (without demo
data) and archives ``--mails`` mails (default 100,000) from ``--candidates``
candidates to 10 recruiters through the real archiving pipeline
(``carerix.mailbox.message._archive_batch``, batches of 250, committed: no
IMAP, the rows are the ones a sync makes: entry, mailbox copy, copies on the
candidate and his contact, and on a client contact for the mails with him in
Cc). ``--active`` of the candidates (default 20%) have an open application;
the others' applications are refused, and everything is then dated 400 days
back (SQL). One mail in ten has a client in Cc: of an inactive candidate it
is kept for the client, without the candidate's copies.

Then: the dry run (timed), retention switched on for 12 months, and the cron
run as Odoo 18's runner runs it: one call per batch, a commit after each,
again while ``_notify_progress`` reports mails remaining; once per batch size
of ``--batch`` (default 500 and 2,000, the cron's own), each in a copy of the
populated database. Prints the seconds, mails per second, batches (and the
part of a batch spent finding the inactive candidates and their mail) and the
progress reported.

Usage (needs Odoo 18.0 importable):

    .venv/bin/python bench/bench_retention.py [--mails 100000] [--candidates 2000]
        [--active 0.2] [--batch 500,2000] [--postgres durable|fast]
"""

import argparse
import contextlib
import datetime
import time
from email.message import EmailMessage
from email.utils import format_datetime

from odoo_bench import OdooBench, log, log_machine

DB = "bench_retention"
OWNERS = 10
ARCHIVE_BATCH = 250
CLIENT = "client@corp.example"


def raw_mail(number, sender, owner_email, cc):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = owner_email
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = f"Application {number}"
    msg["Message-ID"] = f"<ret{number}@mail.example>"
    msg["Date"] = format_datetime(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    msg.set_content(f"Hello, mail {number} about the vacancy.")
    return msg.as_bytes()


class Bench(OdooBench):
    def __init__(self, args):
        super().__init__(args, DB, "carerix_mail_recruitment", "retention")

    # ------------------------------------------------------------------
    def populate(self):
        args = self.args
        started = time.monotonic()
        with self.registry.cursor() as cr:
            env = self.env(cr)
            boxes = [
                env["res.users"]
                .create(
                    {
                        "name": f"Recruiter {n}",
                        "login": f"ret_rec{n}",
                        "email": f"rec{n}@agency.example",
                    }
                )
                ._carerix_mailbox(create=True)
                for n in range(OWNERS)
            ]
            env["res.partner"].create({"name": "Client", "email": CLIENT})
            self.make_candidates(env)
            box_ids = [box.id for box in boxes]
        log(
            f"{args.candidates} candidates ({args.active:.0%} with an open "
            f"application) and {OWNERS} recruiters in "
            f"{time.monotonic() - started:.1f}s"
        )
        started = time.monotonic()
        self.archive_all(box_ids)
        elapsed = time.monotonic() - started
        log(
            f"{args.mails} mails archived through _archive_batch in {elapsed:.0f}s "
            f"({args.mails / elapsed:.0f} mails/s)"
        )
        self.backdate()

    def make_candidates(self, env):
        args = self.args
        reason = env["hr.applicant.refuse.reason"].search([], limit=1)
        candidates = env["hr.candidate"].create(
            [
                {
                    "partner_name": f"Candidate {n}",
                    "email_from": f"cand{n}@mail.example",
                }
                for n in range(args.candidates)
            ]
        )
        applicants = env["hr.applicant"].create(
            [{"candidate_id": candidate.id} for candidate in candidates]
        )
        active = int(args.candidates * args.active)
        applicants[active:].write({"refuse_reason_id": reason.id, "active": False})

    def archive_all(self, box_ids):
        args = self.args
        for start in range(0, args.mails, ARCHIVE_BATCH):
            numbers = range(start, min(start + ARCHIVE_BATCH, args.mails))
            with self.registry.cursor() as cr:
                env = self.env(cr)
                box = env["carerix.mailbox"].browse(box_ids[start // 250 % OWNERS])
                items = [
                    (
                        raw_mail(
                            n,
                            f"cand{n % args.candidates}@mail.example",
                            box.user_id.email,
                            CLIENT if n % 10 == 0 else None,
                        ),
                        {},
                    )
                    for n in numbers
                ]
                env["carerix.mailbox.message"]._archive_batch(box, items, history=True)

    def backdate(self):
        old = datetime.datetime.now() - datetime.timedelta(days=400)
        with self.registry.cursor() as cr:
            for table in ("hr_candidate", "hr_applicant"):
                cr.execute(
                    f"UPDATE {table} SET create_date = %s, write_date = %s",  # noqa: S608
                    [old, old],
                )
            cr.execute("UPDATE hr_applicant SET date_last_stage_update = %s", [old])
            cr.execute("UPDATE mail_message SET date = %s", [old])
            cr.execute("ANALYZE")
            cr.execute("SELECT count(*) FROM mail_message")
            log(f"all dated 400 days back; {cr.fetchone()[0]} mail.message rows")

    # ------------------------------------------------------------------
    def retention(self):
        self.populate()
        from odoo.service import db  # noqa: PLC0415

        Registry = self.odoo.modules.registry.Registry
        Registry.delete(DB)
        for batch in self.args.batch:
            name = f"{DB}_{batch}"
            started = time.monotonic()
            db.exp_duplicate_database(DB, name)
            log(
                f"-- batches of {batch}, in a copy of the database "
                f"({time.monotonic() - started:.0f}s to copy)"
            )
            self.registry = Registry(name)
            self.run_once(batch)
            Registry.delete(name)
            db.exp_drop(name)

    def run_once(self, batch):
        with self.registry.cursor() as cr:
            env = self.env(cr)
            company = env.company
            started = time.monotonic()
            counts = company._carerix_retention_dry_run(12)
            log(
                f"dry run in {time.monotonic() - started:.2f}s: {counts['candidates']} "
                f"candidates, {counts['entries']} mails erased, {counts['partial']} "
                "kept for others without the candidates' copies"
            )
            company.write(
                {"carerix_retention_enabled": True, "carerix_retention_months": 12}
            )
        with timed_plans(self.registry) as plan_time:
            self.run_cron(counts, batch, plan_time)

    def run_cron(self, counts, batch, plan_time):
        """Call the cron's method as Odoo 18's runner does: a progress record,
        the call, a commit, and again while mails remain."""
        trail, calls = [], 0
        started = time.monotonic()
        with self.registry.cursor() as cr:
            env = self.env(cr)
            cron = env.ref(
                "carerix_mail_recruitment.hr_candidate_cron_carerix_retention"
            )
            while True:
                progress = env["ir.cron.progress"].create({"cron_id": cron.id})
                env["hr.candidate"].with_context(
                    ir_cron_progress_id=progress.id
                )._cron_carerix_retention(batch_size=batch)
                cr.commit()
                calls += 1
                trail.append((progress.done, progress.remaining))
                if not progress.remaining or calls > 10000:
                    break
            elapsed = time.monotonic() - started
            done = sum(d for d, _r in trail)
            env.cr.execute("SELECT count(*) FROM carerix_mailbox_message")
            left = env.cr.fetchone()[0]
        log(
            f"retention run: {done} mails in {elapsed:.1f}s ({done / elapsed:.0f} "
            f"mails/s), {calls} batches of at most {batch} "
            f"({elapsed / calls:.2f}s per batch, of which {plan_time[0] / calls:.2f}s "
            f"finding the inactive candidates and their mail); {left} mails left "
            "in the database"
        )
        shown = trail[:3] + [("...", "...")] + trail[-2:] if len(trail) > 6 else trail
        log(
            "progress reported (done, remaining) per batch: "
            + ", ".join(map(str, shown))
        )
        expected = counts["entries"] + counts["partial"]
        log(
            f"dry run {expected} mails = run {done} mails: "
            + ("yes" if expected == done else "NO")
        )


@contextlib.contextmanager
def timed_plans(registry):
    """Add up the seconds spent in ``_carerix_retention_plan`` meanwhile."""
    model_class = registry["hr.candidate"]
    original = model_class._carerix_retention_plan
    total = [0.0]

    def plan(self, company, months):
        started = time.monotonic()
        try:
            return original(self, company, months)
        finally:
            total[0] += time.monotonic() - started

    model_class._carerix_retention_plan = plan
    try:
        yield total
    finally:
        model_class._carerix_retention_plan = original


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--active", type=float, default=0.2)
    parser.add_argument(
        "--batch",
        default="500,2000",
        help="batch sizes, each run in a copy of the populated database "
        "(2000: the cron's own)",
    )
    parser.add_argument(
        "--postgres",
        choices=("durable", "fast"),
        default="durable",
        help="durable: PostgreSQL's defaults, as in production; fast: fsync and "
        "synchronous commits off, as the tests run it",
    )
    args = parser.parse_args()
    args.batch = [int(n) for n in args.batch.split(",")]
    log_machine()
    bench = Bench(args)
    try:
        bench.retention()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
