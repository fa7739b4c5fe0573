"""Folder cursors hold IMAP's unsigned 32-bit UIDVALIDITY and UIDs (bigint)."""

import importlib.util
from pathlib import Path

from odoo.tests import TransactionCase, new_test_user, tagged

from .common import SyncCase, unique

MIGRATION = (
    Path(__file__).resolve().parents[1]
    / "migrations"
    / "18.0.1.0.1"
    / "pre-migration.py"
)
COLUMNS = ("uidvalidity", "last_uid")
# The largest value IMAP allows, and one just past int4.
MAX_UID = 2**32 - 1
PAST_INT4 = 2**31 + 7


def _load_migration():
    spec = importlib.util.spec_from_file_location("carerix_bigint_cursors", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestCursorColumns(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        user = new_test_user(cls.env, login=unique("cursor"))
        cls.folder = cls.env["carerix.mailbox.folder"].create(
            {"mailbox_id": user._carerix_mailbox(create=True).id, "name": "INBOX"}
        )

    def column_types(self):
        self.env.cr.execute(
            """
            SELECT column_name, udt_name FROM information_schema.columns
             WHERE table_name = 'carerix_mailbox_folder' AND column_name IN %s
            """,
            [COLUMNS],
        )
        return dict(self.env.cr.fetchall())

    def stored(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT uidvalidity, last_uid FROM carerix_mailbox_folder WHERE id = %s",
            [self.folder.id],
        )
        return self.env.cr.fetchone()

    def test_cursor_columns_are_bigint(self):
        self.assertEqual(self.column_types(), dict.fromkeys(COLUMNS, "int8"))

    def test_cursors_past_int4_are_stored_and_read_back(self):
        self.folder.write({"uidvalidity": MAX_UID, "last_uid": PAST_INT4})
        self.assertEqual(self.stored(), (MAX_UID, PAST_INT4))
        self.folder.invalidate_recordset()
        self.assertEqual((self.folder.uidvalidity, self.folder.last_uid), self.stored())
        found = self.folder.search([("last_uid", ">", 2**31)])
        self.assertIn(self.folder, found)

    def test_migration_turns_int4_cursors_into_bigint_and_keeps_them(self):
        self.folder.write({"uidvalidity": 1_700_000_000, "last_uid": 123_456})
        self.env.flush_all()
        # The columns as version 18.0.1.0.0 created them (rolled back at the
        # end), with only this folder in them: int4 cannot hold every cursor.
        self.env.cr.execute(
            "DELETE FROM carerix_mailbox_folder WHERE id != %s", [self.folder.id]
        )
        self.env.cr.execute(
            """
            ALTER TABLE carerix_mailbox_folder
                ALTER COLUMN uidvalidity TYPE int4,
                ALTER COLUMN last_uid TYPE int4
            """
        )
        self.assertEqual(self.column_types(), dict.fromkeys(COLUMNS, "int4"))
        migration = _load_migration()
        migration.migrate(self.env.cr, None)  # a new install: nothing to do
        self.assertEqual(self.column_types(), dict.fromkeys(COLUMNS, "int4"))
        migration.migrate(self.env.cr, "18.0.1.0.0")
        self.assertEqual(self.column_types(), dict.fromkeys(COLUMNS, "int8"))
        self.assertEqual(self.stored(), (1_700_000_000, 123_456))
        self.folder.write({"uidvalidity": MAX_UID, "last_uid": MAX_UID})
        self.assertEqual(self.stored(), (MAX_UID, MAX_UID))


@tagged("post_install", "-at_install")
class TestSyncLargeUids(SyncCase):
    def test_sync_of_a_folder_with_uidvalidity_and_uids_past_int4(self):
        user_id, login, email = self.make_recruiter()
        sender = f"{unique('cand')}@mail.example"
        partner_id = self.make_partner(name="Candidate", email=sender)
        self.dovecot.set_uids(login, "INBOX", MAX_UID, PAST_INT4)

        def deliver(subject):
            return self.deliver(login, sender, email, subject)

        uids = [deliver("First"), deliver("Second")]
        self.assertEqual(uids, [PAST_INT4, PAST_INT4 + 1])
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 2)
        self.assertEqual(self.inbox_cursor(user_id), (MAX_UID, uids[-1]))
        # The stored cursor is the server's: the next sync fetches only the new
        # mail (a mismatch would be a UIDVALIDITY change and a full resync).
        uids.append(deliver("Third"))
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 3)
        self.assertEqual(self.inbox_cursor(user_id), (MAX_UID, uids[-1]))
        health = self.sync(user_id)
        self.assertEqual(health["count_fetched"], 3)
        subjects = [entry["subject"] for entry in self.entries(user_id)]
        self.assertEqual(subjects, ["First", "Second", "Third"])
        self.assertEqual(
            sorted(self.partner_mail(partner_id)), ["First", "Second", "Third"]
        )

    def inbox_cursor(self, user_id):
        with self.real_env() as env:
            folder = env["carerix.mailbox.folder"].search(
                [("user_id", "=", user_id), ("name", "=", "INBOX")]
            )
            return folder.uidvalidity, folder.last_uid
