"""End to end: mail delivered into Dovecot folders -> sync -> archived records."""

import threading
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.carerix_mail.models import carerix_mailbox as mailbox_module
from odoo.addons.carerix_mail.models.carerix_mailbox_folder import (
    CarerixMailboxFolder,
)

from .common import SyncCase, make_mail, unique


@tagged("post_install", "-at_install")
class TestImapSync(SyncCase):
    def test_matching_from_to_cc_and_employer(self):
        user_id, login, email = self.make_recruiter()
        employer = self.make_partner(name=unique("Employer"), is_company=True)
        cand_email = f"{unique('cand')}@mail.example"
        contact_email = f"{unique('contact')}@corp.example"
        cc_email = f"{unique('cc')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email.upper())
        contact = self.make_partner(
            name="Contact", email=contact_email, parent_id=employer
        )
        cc_partner = self.make_partner(name="Cc person", email=cc_email)
        self.deliver(login, f"Candidate <{cand_email}>", email, "CV")
        self.deliver(login, email, f"Contact <{contact_email}>", "Vacancy", cc=cc_email)
        self.deliver(login, "stranger@unknown.example", email, "Who?")
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 3)
        self.assertEqual(health["count_unmatched"], 1)
        entries = {e["subject"]: e for e in self.entries(user_id)}
        self.assertEqual(set(entries), {"CV", "Vacancy", "Who?"})
        self.assertEqual(entries["CV"]["partners"], {candidate})
        self.assertEqual(entries["CV"]["state"], "matched")
        self.assertEqual(
            entries["Vacancy"]["partners"], {contact, employer, cc_partner}
        )
        self.assertEqual(entries["Who?"]["state"], "unmatched")
        self.assertEqual(entries["Who?"]["partners"], set())
        # The unknown sender's mail stays in the owner's mailbox only.
        self.assertEqual(
            [m for m, _r, _a in entries["Who?"]["copies"]], ["carerix.mailbox.message"]
        )
        self.assertEqual(self.partner_mail(candidate), ["CV"])
        self.assertEqual(self.partner_mail(employer), ["Vacancy"])
        # The author of incoming mail is the matched sender.
        cv_authors = {a for m, _r, a in entries["CV"]["copies"]}
        self.assertEqual(cv_authors, {candidate})

    def test_owner_notified_of_new_mail_in_inbox_nobody_emailed(self):
        user_id, login, email = self.make_recruiter()
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        with self.real_env() as env:
            # A follower of the candidate must not be notified of fetched mail.
            follower = env["res.users"].browse(self.make_recruiter()[0])
            env["res.partner"].browse(candidate).message_subscribe(
                partner_ids=follower.partner_id.ids
            )
            follower_partner = follower.partner_id.id
        # What the mailbox held before its first sync is history: archived,
        # not put in the Inbox one notification per mail.
        self.deliver(login, cand_email, email, "Old mail")
        self.sync(user_id)
        with self.real_env() as env:
            old = env["mail.message"].search(
                [("subject", "=", "Old mail"), ("carerix_owner_id", "=", user_id)]
            )
            self.assertEqual(len(old), 2)
            self.assertFalse(
                env["mail.notification"].search([("mail_message_id", "in", old.ids)])
            )
        self.deliver(login, cand_email, email, "Application")
        self.sync(user_id)
        with self.real_env() as env:
            copies = env["mail.message"].search(
                [("subject", "=", "Application"), ("carerix_owner_id", "=", user_id)]
            )
            self.assertEqual(len(copies), 2)  # the owner's mailbox + the candidate
            notifications = env["mail.notification"].search(
                [("mail_message_id", "in", copies.ids)]
            )
            owner_partner = env["res.users"].browse(user_id).partner_id
            self.assertEqual(notifications.res_partner_id, owner_partner)
            self.assertEqual(set(notifications.mapped("notification_type")), {"inbox"})
            self.assertFalse(
                env["mail.mail"].search([("mail_message_id", "in", copies.ids)])
            )
            self.assertNotIn(follower_partner, notifications.res_partner_id.ids)
            # The sender is not subscribed as follower.
            followers = env["res.partner"].browse(candidate).message_partner_ids
            self.assertNotIn(candidate, followers.ids)

    def test_reply_threading_sent_folder_and_attachments(self):
        user_id, login, email = self.make_recruiter()
        with self.real_env() as env:
            job_partner = env["res.partner"].create({"name": unique("Record")})
            posted = job_partner.message_post(body="Original", subject="Original")
            parent_id = posted.message_id
            record_id = job_partner.id
        self.dovecot.create_folder(login, "Sent")
        self.deliver(
            login,
            "someone@else.example",
            email,
            "Re: Original",
            in_reply_to=parent_id,
            attachments=[("cv.pdf", b"%PDF-1.4 test", "application/pdf")],
        )
        self.dovecot.deliver(
            login,
            "Sent",
            make_mail(email, "someone@else.example", "My answer"),
            flags=(b"\\Seen",),
        )
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        entries = {e["subject"]: e for e in self.entries(user_id)}
        reply = entries["Re: Original"]
        self.assertIn(
            ("res.partner", record_id), [(m, r) for m, r, _a in reply["copies"]]
        )
        self.assertEqual(reply["attachments"], ["cv.pdf"])
        sent = entries["My answer"]
        self.assertEqual(sent["direction"], "outgoing")
        self.assertEqual(sent["folder"], "Sent")
        with self.real_env() as env:
            owner_partner = env["res.users"].browse(user_id).partner_id.id
        self.assertEqual({a for _m, _r, a in sent["copies"]}, {owner_partner})

    def test_read_elsewhere_flags_unchanged_and_no_duplicates(self):
        user_id, login, email = self.make_recruiter()
        uids = {
            flags: self.dovecot.deliver(
                login,
                "INBOX",
                make_mail("a@b.example", email, repr(flags)),
                flags=flags,
            )
            for flags in [(), (b"\\Seen",), (b"\\Flagged", b"\\Seen"), (b"\\Answered",)]
        }
        before = {uid: self.dovecot.flags(login, "INBOX", uid) for uid in uids.values()}
        self.sync(user_id)
        self.sync(user_id)
        after = {uid: self.dovecot.flags(login, "INBOX", uid) for uid in uids.values()}
        self.assertEqual(before, after)
        self.assertEqual(len(self.entries(user_id)), 4)  # \Seen mail too, once
        # New mail after the first run: only that one is fetched.
        self.deliver(login, "a@b.example", email, "late")
        health = self.sync(user_id)
        self.assertEqual(health["count_fetched"], 5)
        self.assertEqual(len(self.entries(user_id)), 5)

    def test_same_mail_two_users_two_owners(self):
        first, login1, email1 = self.make_recruiter()
        second, login2, email2 = self.make_recruiter()
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        raw = make_mail(cand_email, f"{email1}, {email2}", "To both")
        self.dovecot.deliver(login1, "INBOX", raw)
        self.dovecot.deliver(login2, "INBOX", raw)
        self.sync(first)
        self.sync(second)
        self.assertEqual(len(self.entries(first)), 1)
        self.assertEqual(len(self.entries(second)), 1)
        # One copy per owner on the candidate: each keeps his own.
        self.assertEqual(self.partner_mail(candidate), ["To both", "To both"])

    def test_uidvalidity_change_resyncs_without_duplicates(self):
        user_id, login, email = self.make_recruiter()
        for n in range(3):
            self.deliver(login, "a@b.example", email, f"m{n}")
        self.sync(user_id)
        self.dovecot.reset_uidvalidity(login, "INBOX")
        self.deliver(login, "a@b.example", email, "m3")
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        subjects = sorted(e["subject"] for e in self.entries(user_id))
        self.assertEqual(subjects, ["m0", "m1", "m2", "m3"])

    def test_crash_before_cursor_commit_loses_and_duplicates_nothing(self):
        user_id, login, email = self.make_recruiter()
        for n in range(5):
            self.deliver(login, "a@b.example", email, f"c{n}")
        original_write = CarerixMailboxFolder.write

        def crash_on_cursor(records, vals):
            if "last_uid" in vals:
                raise RuntimeError("simulated crash between archiving and commit")
            return original_write(records, vals)

        with patch.object(CarerixMailboxFolder, "write", crash_on_cursor):
            health = self.sync(user_id)
        self.assertEqual(health["state"], "failing")
        self.assertIn("RuntimeError", health["last_error"])
        self.assertEqual(self.entries(user_id), [])  # rolled back with the cursor
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(
            sorted(e["subject"] for e in self.entries(user_id)),
            ["c0", "c1", "c2", "c3", "c4"],
        )

    def test_unparseable_message_is_stored_raw_and_batch_goes_on(self):
        user_id, login, email = self.make_recruiter()
        parts = "".join(
            f"--b\r\nContent-Type: text/plain\r\n\r\npart {n}\r\n" for n in range(3000)
        )
        bomb = (
            "From: a@b.example\r\nTo: x@y.example\r\nSubject: bomb\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            + parts
            + "--b--\r\n"
        ).encode()
        self.dovecot.deliver(login, "INBOX", bomb)
        self.deliver(login, "a@b.example", email, "good")
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        entries = {e["subject"]: e for e in self.entries(user_id)}
        self.assertEqual(entries["good"]["state"], "unmatched")
        self.assertEqual(entries["bomb"]["state"], "raw")
        self.assertTrue(entries["bomb"]["error"])
        self.assertEqual(entries["bomb"]["attachments"], ["message.eml"])

    def test_wrong_password_next_to_good_mailbox(self):
        bad_id, bad_login, bad_email = self.make_recruiter(password="wrong-secret-42")
        good_id, good_login, good_email = self.make_recruiter()
        self.deliver(good_login, "a@b.example", good_email)
        self.deliver(bad_login, "a@b.example", bad_email)
        with (
            self.real_env() as env,
            patch.object(mailbox_module, "_logger") as logger,
        ):
            env["carerix.mailbox"]._cron_sync()
        logged = repr(logger.mock_calls)
        self.assertIn("rejected the user name or password", logged)
        self.assertNotIn("wrong-secret-42", logged)
        with self.real_env() as env:
            bad = env["res.users"].browse(bad_id)._carerix_mailbox()
            good = env["res.users"].browse(good_id)._carerix_mailbox()
            self.assertEqual(bad.state, "failing")
            self.assertIn(bad_login, bad.last_error)
            self.assertNotIn("wrong-secret-42", bad.last_error)
            self.assertEqual(good.state, "ok")
        self.assertEqual(len(self.entries(good_id)), 1)
        self.assertEqual(len(self.entries(bad_id)), 0)

    def test_two_concurrent_runs_fetch_each_message_once(self):
        users = []
        for n in range(10):
            user_id, login, email = self.make_recruiter()
            for k in range(3):
                self.deliver(login, "a@b.example", email, f"u{n}m{k}")
            users.append(user_id)
        errors = []

        def worker():
            try:
                with self.real_env() as env:
                    env["carerix.mailbox"]._cron_sync()
            except Exception as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual(errors, [])
        with self.real_env() as env:
            entries = env["carerix.mailbox.message"].search([("owner_id", "in", users)])
            self.assertEqual(len(entries), 30)
            copies = env["mail.message"].search(
                [("carerix_mailbox_message_id", "in", entries.ids)]
            )
            self.assertEqual(len(copies), 30)


@tagged("post_install", "-at_install")
class TestPop3Sync(SyncCase):
    def test_pop_keep_copy_then_remove_after_days(self):
        user_id, login, email = self.make_recruiter(
            protocol="pop3", keep_copy=True, remove_after_days=3
        )
        for n in range(2):
            self.deliver(login, "a@b.example", email, f"p{n}")
        self.sync(user_id)
        self.assertEqual(len(self.entries(user_id)), 2)
        self.assertEqual(self.dovecot.pop3_count(login), 2)  # kept
        self.sync(user_id)
        self.assertEqual(len(self.entries(user_id)), 2)  # no duplicates
        # Four days later the copies are removed from the server.
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            box.uidl_ids.write({"first_archived": datetime.now() - timedelta(days=4)})
        self.sync(user_id)
        self.assertEqual(self.dovecot.pop3_count(login), 0)
        self.assertEqual(len(self.entries(user_id)), 2)

    def test_pop_history_is_not_notified_new_mail_is(self):
        user_id, login, email = self.make_recruiter(protocol="pop3", keep_copy=False)

        def notified(subject):
            with self.real_env() as env:
                copies = env["mail.message"].search(
                    [("subject", "=", subject), ("carerix_owner_id", "=", user_id)]
                )
                self.assertTrue(copies)
                return bool(
                    env["mail.notification"].search(
                        [("mail_message_id", "in", copies.ids)]
                    )
                )

        self.deliver(login, "a@b.example", email, "before")
        self.sync(user_id)
        self.assertFalse(notified("before"))
        # the server is empty now; what arrives next is new mail
        self.deliver(login, "a@b.example", email, "after")
        self.sync(user_id)
        self.assertTrue(notified("after"))

    def test_pop_without_keep_copy_deletes_after_commit(self):
        user_id, login, email = self.make_recruiter(protocol="pop3", keep_copy=False)
        self.deliver(login, "a@b.example", email, "gone")
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual([e["subject"] for e in self.entries(user_id)], ["gone"])
        self.assertEqual(self.dovecot.pop3_count(login), 0)
