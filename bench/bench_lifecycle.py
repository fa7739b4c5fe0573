"""Benchmarks of the candidate data lifecycle. Prints figures,
asserts nothing.

Phase ``erase``: one person's archived mail, ``--mails`` (5,000) across
``--owners`` (10) mailboxes, archived through the real pipeline
(``_archive_batch``, generated raw mails): from him and to him, half with a
contact of an employer in Cc (four copies: the owner's, the person's, the
contact's and the employer's; else two), one in ten with a CV attached;
among ``--noise`` (5,000) mails of other people. Then *Erase this person*
(``_carerix_erase_person``): the preview, the erasure with its commit (the
files leave the filestore after the commit): seconds, mails per second, SQL
queries, and what is left. Target: at most 10 s.

Usage (needs Odoo 18.0 importable; starts its own PostgreSQL):

    .venv/bin/python bench/bench_lifecycle.py [--only erase] [--mails 5000]
        [--owners 10] [--noise 5000] [--postgres durable|fast]
"""

import argparse
import datetime
import os
import random
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from odoo_bench import OdooBench, log, log_machine

PHASES = ("erase",)
PERSON = "ann.person@candidate.example"
CONTACT = "hiring@employer.example"
BATCH = 200
WORDS = (
    "projectleider werkvoorbereider monteur planner beschikbaar per direct "
    "ervaring rijbewijs gesprek dinsdag salarisindicatie referenties"
).split()


def make_mail(rnd, n, sender, to, cc=None, cv=False):
    """One realistic mail (plain text, every third also HTML, a CV when
    ``cv``)."""
    start = datetime.datetime(2025, 1, 1, 9, 0, tzinfo=datetime.timezone.utc)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = f"Sollicitatie {n} {rnd.choice(WORDS)}"
    msg["Message-ID"] = make_msgid(domain="bench.example")
    msg["Date"] = format_datetime(start + datetime.timedelta(minutes=n))
    text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 80)))
    msg.set_content(f"Beste,\n\n{text}\n#{n}\n")
    if n % 3 == 0:
        msg.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    if cv:
        msg.add_attachment(
            rnd.randbytes(rnd.randint(20_000, 100_000)),
            maintype="application",
            subtype="pdf",
            filename=f"cv-{n}.pdf",
        )
    return msg.as_bytes()


class Bench(OdooBench):
    def __init__(self, args):
        super().__init__(args, "bench_life", "carerix_mail", "lifecycle")

    # ------------------------------------------------------------------
    def erase(self):
        args = self.args
        log(
            f"erase: one person's {args.mails} mails across {args.owners} owners, "
            f"among {args.noise} mails of others"
        )
        started = time.monotonic()
        with self.registry.cursor() as cr:
            boxes = self.erase_setup(self.env(cr), args.owners)
        for box_id, items in self.erase_mails(args, len(boxes), boxes):
            with self.registry.cursor() as cr:
                env = self.env(cr)
                box = env["carerix.mailbox"].browse(box_id)
                env["carerix.mailbox.message"]._archive_batch(
                    box, [(raw, {}) for raw in items["incoming"]]
                )
                env["carerix.mailbox.message"]._archive_batch(
                    box, [(raw, {}) for raw in items["outgoing"]], direction="outgoing"
                )
        log(f"  archived in {time.monotonic() - started:.0f}s")
        with self.registry.cursor() as cr:
            self.erase_figures(self.env(cr), "  before")
        self.erase_measure()

    def erase_setup(self, env, owners):
        """The owners' mailboxes, the person, and an employer's contact."""
        Partner = env["res.partner"]
        employer = Partner.create({"name": "Employer BV", "is_company": True})
        Partner.create({"name": "Hiring", "email": CONTACT, "parent_id": employer.id})
        Partner.create({"name": "Ann Person", "email": PERSON})
        Partner.create(
            [{"name": f"Other {n}", "email": f"other{n}@x.example"} for n in range(50)]
        )
        boxes = []
        for n in range(owners):
            user = env["res.users"].create(
                {
                    "name": f"Owner {n}",
                    "login": f"owner{n}",
                    "email": f"o{n}@ag.example",
                }
            )
            boxes.append(user._carerix_mailbox(create=True).id)
        return boxes

    def erase_mails(self, args, owners, boxes):
        """Per batch: ``(mailbox id, {"incoming": raws, "outgoing": raws})``."""
        rnd = random.Random(17)
        todo = [("person", n) for n in range(args.mails)]
        todo += [("noise", n) for n in range(args.noise)]
        rnd.shuffle(todo)
        for start in range(0, len(todo), BATCH * owners):
            per_box = {box: {"incoming": [], "outgoing": []} for box in boxes}
            for index, (kind, n) in enumerate(todo[start : start + BATCH * owners]):
                box = boxes[index % owners]
                me = f"o{boxes.index(box)}@ag.example"
                other = PERSON if kind == "person" else f"other{n % 50}@x.example"
                cc = CONTACT if n % 2 == 0 else None
                cv = n % 10 == 0
                if n % 4 == 3:
                    raw = make_mail(rnd, n, me, other, cc, cv)
                    per_box[box]["outgoing"].append(raw)
                else:
                    per_box[box]["incoming"].append(
                        make_mail(rnd, n, other, me, cc, cv)
                    )
            yield from per_box.items()

    def erase_figures(self, env, label):
        cr = env.cr
        cr.execute("SELECT count(*) FROM carerix_mailbox_message")
        entries = cr.fetchone()[0]
        cr.execute("SELECT count(*) FROM mail_message")
        messages = cr.fetchone()[0]
        cr.execute(
            "SELECT count(*) FROM ir_attachment WHERE res_model = 'mail.message'"
        )
        attachments = cr.fetchone()[0]
        person = env["carerix.mailbox.message"]._carerix_person_entries([PERSON])
        files = sum(
            len(files) for _d, _s, files in os.walk(env["ir.attachment"]._filestore())
        )
        log(
            f"{label}: {entries} entries, {messages} messages, {attachments} mail "
            f"attachments, {files} files in the filestore; the person's entries: "
            f"{len(person)}"
        )

    def erase_measure(self):
        with self.registry.cursor() as cr:
            env = self.env(cr)
            Entry = env["carerix.mailbox.message"]
            queries = cr.sql_log_count
            started = time.perf_counter()
            preview = Entry._carerix_erase_preview(
                Entry._carerix_person_entries([PERSON])
            )
            preview_s = time.perf_counter() - started
            log(
                f"  preview: {preview_s:.2f} s, {cr.sql_log_count - queries} queries: "
                f"{preview}"
            )
            queries = cr.sql_log_count
            started = time.perf_counter()
            counts = Entry._carerix_erase_person([PERSON], "erase")
            erase_queries = cr.sql_log_count - queries
            erase_s = time.perf_counter() - started
            cr.commit()  # and the files go, after the commit
            total_s = time.perf_counter() - started
        log(
            f"  erase: {erase_s:.2f} s, with the commit and the files "
            f"{total_s:.2f} s ({counts['entries'] / total_s:.0f} mails/s, "
            f"{counts['messages'] / total_s:.0f} copies/s), {erase_queries} queries: "
            f"{counts} (target <= 10 s)"
        )
        with self.registry.cursor() as cr:
            self.erase_figures(self.env(cr), "  after")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(PHASES))
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=10)
    parser.add_argument("--noise", type=int, default=5000)
    parser.add_argument("--postgres", choices=("durable", "fast"), default="durable")
    args = parser.parse_args()
    log_machine()
    bench = Bench(args)
    try:
        for phase in args.only.split(","):
            getattr(bench, phase)()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
