"""Hardening, end to end: bad input, duplicates, loops and poison through the
real Dovecot and the real sync (issue 6, section Hardening).

The malformed samples live in ``tests/samples`` at the repository root; the
huge torture cases are generated here, like ``tests/test_engine_message.py``
does, so that nothing big is committed.
"""

import base64
import datetime
import time
import tracemalloc
from contextlib import contextmanager
from email.utils import make_msgid, parseaddr
from pathlib import Path
from unittest.mock import patch

from imapclient.exceptions import IMAPClientError

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.carerix_mail.engine.pop3 import Pop3Mailbox
from odoo.addons.carerix_mail.models import carerix_mailbox

from .common import SyncCase, make_mail, unique

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "samples"
BAD = sorted((SAMPLES / "bad").glob("*.eml"))
GOOD = sorted((SAMPLES / "good").glob("*.eml"))
PER_MESSAGE_SECONDS = 5.0
# Python memory (traced) a batch of fetched mail may take while it is
# archived: a fixed allowance plus a multiple of its raw size (the raw bytes,
# the decoded parts, the stored attachment). Measured: 2 MB for 100 small
# mails, 1.3 MB for 28 hostile ones (2 MB raw), 71 MB for the 36 MB mail.
MEMORY_BASE = 16 * 1024 * 1024
MEMORY_PER_BYTE = 4


def one_megabyte_header(tag):
    recipients = b", ".join(b"user%d@example.com" % i for i in range(60_000))
    return (
        b"From: a@example.nl\r\nSubject: torture big header %s\r\n" % tag
        + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 200) for i in range(1000))
        + b"To: "
        + recipients
        + b"\r\n\r\nbody\r\n"
    )


def multipart(n, tag):
    parts = b"".join(
        b"--P\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n)
    )
    return (
        b"From: a@example.nl\r\nSubject: torture parts %s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=P\r\n\r\n%s--P--\r\n" % (tag, parts)
    )


def nested(levels, tag):
    raw = b"Content-Type: text/plain\r\n\r\ndeepest\r\n"
    for level in range(levels):
        boundary = b"L%d" % level
        raw = (
            b"Content-Type: multipart/mixed; boundary=%s\r\n\r\n"
            b"--%s\r\n%s\r\n--%s--\r\n" % (boundary, boundary, raw, boundary)
        )
    return b"From: a@example.nl\r\nSubject: torture deep %s\r\n" % tag + raw


def bad_date(tag):
    return (
        b"From: a@example.nl\r\nTo: b@example.nl\r\nSubject: torture date %s\r\n"
        b"Date: Mon, 45 Foo 99999 25:61:61 +9999\r\n\r\nwhen?\r\n" % tag
    )


def big_attachment(tag):
    payload = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    return (
        b"From: a@example.nl\r\nSubject: torture big file %s\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nsee file\r\n--B\r\n"
        b"Content-Type: application/zip; name=big.zip\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        % tag
        + base64.encodebytes(payload)
        + b"\r\n--B--\r\n"
    )


@tagged("post_install", "-at_install")
class TestHardening(SyncCase):
    @contextmanager
    def timed_archiving(self):
        """Time every fetched batch's archiving (savepoints and the
        message-by-message retry included) and trace its peak memory; yields
        the list of ``(seconds, messages, raw bytes, peak traced bytes)``.
        A batch within the limits bounds each of its messages."""
        Mailbox = self.registry["carerix.mailbox"]
        original = Mailbox._archive_fetched_batch
        timings = []

        def timed(box, messages, *args, **kwargs):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            started = time.monotonic()
            result = original(box, messages, *args, **kwargs)
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1] - before
            size = sum(len(m.raw or b"") for m in messages)
            timings.append((elapsed, len(messages), size, peak))
            return result

        tracemalloc.start()
        try:
            with patch.object(Mailbox, "_archive_fetched_batch", timed):
                yield timings
        finally:
            tracemalloc.stop()

    def assert_bounded(self, timings, count):
        """Every fetched message was in a timed batch; each batch (so each of
        its messages) took under PER_MESSAGE_SECONDS and at most
        MEMORY_PER_BYTE times its raw size plus MEMORY_BASE of memory."""
        self.assertEqual(sum(n for _s, n, _b, _p in timings), count)
        for seconds, n, size, peak in timings:
            self.assertLess(seconds, PER_MESSAGE_SECONDS, (seconds, n, size))
            self.assertLess(peak, MEMORY_BASE + MEMORY_PER_BYTE * size, (n, size, peak))

    def append_all(self, login, folder, named_raws):
        """APPEND on one connection; returns (accepted names, refused names)."""
        accepted, refused = [], []
        with self.dovecot.imap(login) as client:
            for name, raw in named_raws:
                try:
                    client.append(folder, raw)
                except IMAPClientError:
                    refused.append(name)
                else:
                    accepted.append(name)
        return accepted, refused

    def test_bad_input_interleaved_with_good_mail(self):
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=sender)
        hostile = [(path.name, path.read_bytes()) for path in BAD + GOOD]
        hostile += [
            ("1 MB header", one_megabyte_header(b"1")),
            ("10,000 MIME parts", multipart(10_000, b"1")),
            ("50 levels of nesting", nested(50, b"1")),
            ("bad Date", bad_date(b"1")),
            ("25 MB attachment", big_attachment(b"1")),
        ]
        named = []
        for n, item in enumerate(hostile):
            named.append((f"good {n}", make_mail(sender, email, f"good {n}")))
            named.append(item)
        accepted, refused = self.append_all(login, "INBOX", named)
        # Dovecot refuses some broken input at APPEND (an empty message).
        self.assertLessEqual(set(refused), {path.name for path in BAD})
        good_subjects = {name for name in accepted if name.startswith("good ")}
        self.assertEqual(len(good_subjects), len(hostile))  # good mail is accepted
        self.assertGreaterEqual(len(accepted) - len(good_subjects), 50)

        with self.timed_archiving() as timings:
            health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])  # 0 crashes
        self.assertEqual(health["count_fetched"], len(accepted))
        self.assert_bounded(timings, len(accepted))

        entries = self.entries(user_id)
        self.assertEqual(len(entries), len(accepted))  # 0 lost
        for entry in entries:
            if entry["state"] == "raw":
                self.assertTrue(entry["error"], entry["subject"])
                self.assertEqual(entry["attachments"], ["message.eml"])
            else:
                self.assertIn(entry["state"], ("matched", "unmatched"))
                self.assertTrue(entry["copies"], entry["subject"])
        by_subject = {e["subject"]: e for e in entries}
        for subject in good_subjects:
            self.assertEqual(by_subject[subject]["partners"], {candidate}, subject)
        self.assertEqual(by_subject["torture parts 1"]["state"], "raw")
        self.assertEqual(by_subject["torture deep 1"]["state"], "raw")
        self.assertEqual(by_subject["torture big file 1"]["attachments"], ["big.zip"])
        self.assertEqual(by_subject["torture date 1"]["state"], "unmatched")

        # Fetched again from scratch (new UIDVALIDITY): nothing is duplicated.
        self.dovecot.reset_uidvalidity(login, "INBOX")
        with self.timed_archiving() as timings:
            health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 2 * len(accepted))
        self.assert_bounded(timings, len(accepted))
        self.assertEqual(len(self.entries(user_id)), len(accepted))
        self.assertEqual(len(self.partner_mail(candidate)), len(good_subjects))

    def test_mail_without_message_id_fetched_twice_is_stored_once(self):
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=sender)
        raw = make_mail(sender, email, "No id", body="Twice delivered")
        raw = b"".join(
            line
            for line in raw.splitlines(keepends=True)
            if not line.lower().startswith(b"message-id:")
        )
        self.assertNotIn(b"Message-ID", raw)
        self.dovecot.deliver(login, "INBOX", raw)
        self.dovecot.deliver(login, "Applications", raw)
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            box._discover_folders()
            box.folder_ids.filtered(lambda f: f.name == "Applications").role = "inbox"
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 2)
        # Both folders again from scratch: still once.
        self.dovecot.reset_uidvalidity(login, "INBOX")
        self.dovecot.reset_uidvalidity(login, "Applications")
        health = self.sync(user_id)
        self.assertEqual(health["count_fetched"], 4)
        entries = self.entries(user_id)
        self.assertEqual([e["subject"] for e in entries], ["No id"])
        self.assertEqual(
            sorted(m for m, _r, _a in entries[0]["copies"]),
            ["carerix.mailbox.message", "res.partner"],
        )
        self.assertEqual(self.partner_mail(candidate), ["No id"])

    def test_loop_protection_does_not_drop_fetched_mail(self):
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('auto')}@mail.example"
        candidate = self.make_partner(name="Auto replier", email=sender)
        with self.real_env() as env:
            mails_before = env["mail.mail"].sudo().search([]).ids
        # More than Odoo's loop threshold (20 by default), within seconds.
        mails = [
            make_mail(sender, email, "Out of office", body=f"Away, reply {n}")
            for n in range(25)
        ]
        self.append_all(login, "INBOX", [(str(n), raw) for n, raw in enumerate(mails)])
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        entries = self.entries(user_id)
        self.assertEqual(len(entries), 25)
        self.assertEqual({e["state"] for e in entries}, {"matched"})
        self.assertEqual(len(self.partner_mail(candidate)), 25)
        with self.real_env() as env:
            new_mails = env["mail.mail"].sudo().search([("id", "not in", mails_before)])
            self.assertFalse(new_mails.filtered(lambda m: sender in (m.email_to or "")))
            self.assertFalse(
                new_mails.filtered(
                    lambda m: (
                        "loop-detection" in (m.message_id or "")
                        or "loop-detection" in (m.references or "")
                    )
                )
            )

    def test_pop_poison_at_the_head(self):
        user_id, login, email = self.make_recruiter(protocol="pop3", keep_copy=False)
        sender = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=sender)
        poison = []
        for n in range(20):
            tag = b"%d" % n
            poison.append((f"deep {n}", nested(50, tag)))
            poison.append((f"parts {n}", multipart(1100, tag)))
            poison.append((f"crash {n}", make_mail(sender, email, f"poison crash {n}")))
        good = [(f"good {n}", make_mail(sender, email, f"good {n}")) for n in range(10)]
        accepted, refused = self.append_all(login, "INBOX", poison + good)
        self.assertEqual(refused, [])

        Entry = self.registry["carerix.mailbox.message"]
        original_targets = Entry._archive_targets

        def crashing_targets(model, batch, info):
            if info.subject.startswith("poison crash"):
                raise RuntimeError("simulated crash while archiving")
            return original_targets(model, batch, info)

        original_delete = Pop3Mailbox.delete
        at_delete = []

        def checked_delete(client, uidls):
            # What another transaction sees when the DELEs are sent.
            with self.real_env() as env:
                box = env["res.users"].browse(user_id)._carerix_mailbox()
                at_delete.append(
                    (
                        set(uidls),
                        set(box.uidl_ids.mapped("uidl")),
                        env["carerix.mailbox.message"].search_count(
                            [("owner_id", "=", user_id)]
                        ),
                    )
                )
            return original_delete(client, uidls)

        with (
            patch.object(Entry, "_archive_targets", crashing_targets),
            patch.object(Pop3Mailbox, "delete", checked_delete),
            mute_logger("odoo.addons.carerix_mail.models.carerix_mailbox"),
        ):
            health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 70)
        entries = self.entries(user_id)
        self.assertEqual(len(entries), 70)
        raw = [e for e in entries if e["state"] == "raw"]
        self.assertEqual(len(raw), 60)
        self.assertTrue(all(e["error"] for e in raw))
        self.assertEqual(
            sum("RuntimeError" in e["error"] for e in raw), 20
        )  # the archiving crashes
        self.assertEqual(
            sorted(self.partner_mail(candidate)), sorted(f"good {n}" for n in range(10))
        )
        # Deleted from the server, and only what was committed before.
        ((deleted, committed_uidls, committed_entries),) = at_delete
        self.assertEqual(len(deleted), 70)
        self.assertLessEqual(deleted, committed_uidls)
        self.assertEqual(committed_entries, 70)
        self.assertEqual(self.dovecot.pop3_count(login), 0)

    def test_forged_message_id_is_archived_too(self):
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=sender)
        message_id = make_msgid(domain="mail.example")
        self.deliver(
            login, sender, email, "Real", body="The real one", message_id=message_id
        )
        self.sync(user_id)
        self.deliver(
            login, sender, email, "Forged", body="Other content", message_id=message_id
        )
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        entries = self.entries(user_id)
        self.assertEqual(sorted(e["subject"] for e in entries), ["Forged", "Real"])
        self.assertEqual({e["state"] for e in entries}, {"matched"})
        self.assertEqual(sorted(self.partner_mail(candidate)), ["Forged", "Real"])

    def test_quote_in_display_name_keeps_the_real_sender(self):
        """A display name that decodes to a quote and another address must not
        turn the stored From and Reply-To into that other address."""
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        answer = f"{unique('reply')}@mail.example"
        spoofed = f"{unique('admin')}@mail.example"
        other = self.make_partner(name="Admin", email=spoofed)
        name = f'Admin" <{spoofed}>, x'
        word = "=?utf-8?b?%s?=" % base64.b64encode(name.encode()).decode()
        raw = make_mail(sender, email, "Quoted name").replace(
            f"From: {sender}".encode(),
            f"From: {word} <{sender}>\r\nReply-To: {word} <{answer}>".encode(),
        )
        self.dovecot.deliver(login, "INBOX", raw)
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        with self.real_env() as env:
            env["res.users"].browse(user_id).groups_id += env.ref(
                "base.group_partner_manager"
            )
        with self.real_env(uid=user_id) as env:
            entry = env["carerix.mailbox.message"].search([("owner_id", "=", user_id)])
            self.assertEqual(entry.state, "unmatched")
            self.assertEqual(parseaddr(entry.email_from), (name, sender))
            for copy in entry.sudo().copy_ids:
                self.assertEqual(parseaddr(copy.email_from), (name, sender))
                self.assertEqual(parseaddr(copy.reply_to), (name, answer))
            action = entry.action_create_partner_from_sender()
            partner = env["res.partner"].browse(action["res_id"])
            self.assertEqual((partner.name, partner.email), (name, sender))
            self.assertEqual(entry.partner_ids, partner)
        self.assertEqual(self.partner_mail(partner.id), ["Quoted name"])
        self.assertEqual(self.partner_mail(other), [])

    def test_dates_out_of_range_are_archived_as_received_now(self):
        """A Date past year 9999 in UTC, or year 0 (read as 2000 by the standard
        parser), is no date: the mail is archived normally, dated when it was
        received, and costs the rest of its batch nothing."""
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=sender)
        dates = {
            "far future": b"Fri, 31 Dec 9999 23:59:59 -1400",
            "year zero": b"Sat, 01 Jan 0000 00:00:00 +0000",
            "normal": b"Tue, 02 Jan 2024 09:30:00 +0100",
        }
        self.append_all(
            login,
            "INBOX",
            [
                (subject, b"Date: %s\n" % date + make_mail(sender, email, subject))
                for subject, date in dates.items()
            ],
        )
        before = datetime.datetime.now().replace(microsecond=0)
        health = self.sync(user_id)
        after = datetime.datetime.now()
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(sorted(self.partner_mail(candidate)), sorted(dates))
        with self.real_env() as env:
            entries = env["carerix.mailbox.message"].search(
                [("owner_id", "=", user_id)]
            )
            self.assertEqual(set(entries.mapped("state")), {"matched"})
            when = {entry.subject: entry.date for entry in entries}
        self.assertEqual(when["normal"], datetime.datetime(2024, 1, 2, 8, 30))
        for subject in ("far future", "year zero"):
            self.assertTrue(before <= when[subject] <= after, (subject, when))

    def test_different_oversize_mails_of_one_size_are_both_kept(self):
        """Two different mails over the size limit, of the same size, are two
        entries: an oversize mail is known by where it is on the server."""
        for protocol in ("imap", "pop3"):
            with self.subTest(protocol=protocol):
                user_id, login, email = self.make_recruiter(protocol=protocol)
                raws = [
                    b"From: big@mail.example\r\nTo: %s\r\nSubject: big %d\r\n"
                    b"Message-ID: <big-%d@mail.example>\r\n\r\n%s\r\n"
                    % (email.encode(), n, n, b"x" * 4000)
                    for n in (1, 2)
                ]
                self.assertEqual(len(raws[0]), len(raws[1]))
                self.append_all(login, "INBOX", [("1", raws[0]), ("2", raws[1])])
                with patch.object(carerix_mailbox, "MAX_MESSAGE_SIZE", 2000):
                    health = self.sync(user_id)
                    self.assertEqual(health["state"], "ok", health["last_error"])
                    again = self.sync(user_id)
                self.assertEqual(again["count_fetched"], 2)  # nothing new
                entries = self.entries(user_id)
                self.assertEqual([e["state"] for e in entries], ["raw", "raw"])
                for entry in entries:
                    self.assertIn("larger than the limit", entry["error"])

    def test_text_no_column_can_hold_is_stored_anyway(self):
        """A subject and a name decoding to an unpaired surrogate (utf-7) and a
        body decoding to NUL (unicode_escape) are archived; before, neither the
        mail nor its raw fallback could be stored and the mailbox stalled."""
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=sender)
        raw = (
            b"From: =?utf-7?Q?+2D0-?= <%s>\r\nTo: %s\r\n"
            b"Subject: =?utf-7?Q?+2D0-?= hostile\r\n"
            b"Content-Type: text/plain; charset=unicode_escape\r\n\r\n"
            b"nul \\x00 here\r\n" % (sender.encode(), email.encode())
        )
        self.dovecot.deliver(login, "INBOX", raw)
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        (entry,) = self.entries(user_id)
        self.assertEqual(
            (entry["subject"], entry["state"]), ("\ufffd hostile", "matched")
        )
        self.assertEqual(self.partner_mail(candidate), ["\ufffd hostile"])

    def test_mail_that_cannot_be_stored_raw_is_skipped(self):
        """When even the raw fallback fails (a fault injected here: the content
        cannot cause it), the mail is skipped with its reason in the log, the
        sync goes on past it for good, the mailbox counts it, and POP3 never
        deletes it from the server."""
        Entry = self.registry["carerix.mailbox.message"]
        original_targets = Entry._archive_targets
        original_raw = Entry._store_raw_only

        def crashing_targets(model, batch, info):
            if info.subject == "poison":
                raise RuntimeError("simulated archiving fault")
            return original_targets(model, batch, info)

        def crashing_raw(model, mailbox, raw, *args, **kwargs):
            if raw and b"Subject: poison" in raw:
                raise RuntimeError("simulated storage fault")
            return original_raw(model, mailbox, raw, *args, **kwargs)

        for protocol in ("imap", "pop3"):
            with self.subTest(protocol=protocol):
                user_id, login, email = self.make_recruiter(
                    protocol=protocol, keep_copy=False
                )
                sender = f"{unique('cand')}@mail.example"
                candidate = self.make_partner(name="Candidate", email=sender)
                subjects = ["before", "poison", "after"]
                self.append_all(
                    login,
                    "INBOX",
                    [(s, make_mail(sender, email, s)) for s in subjects],
                )
                with (
                    patch.object(Entry, "_archive_targets", crashing_targets),
                    patch.object(Entry, "_store_raw_only", crashing_raw),
                    self.assertLogs(
                        "odoo.addons.carerix_mail.models.carerix_mailbox", "ERROR"
                    ) as logs,
                ):
                    health = self.sync(user_id)
                    again = self.sync(user_id)
                self.assertEqual(health["state"], "ok", health["last_error"])
                self.assertEqual(again["state"], "ok", again["last_error"])
                self.assertEqual(again["count_fetched"], 3)  # not fetched again
                skipped = [line for line in logs.output if "skipped" in line]
                self.assertEqual(len(skipped), 1, logs.output)
                self.assertIn("Archiving failed: RuntimeError", skipped[0])
                self.assertIn("simulated storage fault", skipped[0])
                self.assertEqual(
                    sorted(self.partner_mail(candidate)), ["after", "before"]
                )
                with self.real_env() as env:
                    box = env["res.users"].browse(user_id)._carerix_mailbox()
                    self.assertEqual(box.count_skipped, 1)
                    self.assertEqual(box.user_id.mailbox_count_skipped, 1)
                if protocol == "pop3":  # the others are deleted, not this one
                    self.assertEqual(self.dovecot.pop3_count(login), 1)
