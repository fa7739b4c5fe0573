"""*Erase this person*, probed as a black box: words planted in the body,
subject, attachment and attachment name of mail from and to the person
(synced from Dovecot, sent from Odoo, private, kept raw, of three owners)
are nowhere in the database's mail and attachment tables, nor in the
addon's tables, nor in the filestore after the erasure; another person's
are; the preview counted what went; only the Data protection group may do
it; and the mail does not come back with a later sync, even after a
UIDVALIDITY reset or a reconnect, while mail sent after the erasure is
archived."""

import datetime
import os
import uuid

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL

from .common import make_mail, unique
from .test_outgoing import SentFolderCase

# The tables a black-box probe reads: Odoo's mail and attachments, and every
# table of the addon.
PROBED = (
    "mail_message",
    "mail_tracking_value",
    "mail_mail",
    "mail_notification",
    "ir_attachment",
)
TEXT_TYPES = ("text", "character varying", "character", "jsonb", "json")


def words(prefix):
    """Planted words: in the body, the subject, an attachment's content and
    an attachment's name, each unique to this run."""
    tag = uuid.uuid4().hex[:10]
    return {part: f"{prefix}{part}{tag}" for part in ("body", "subj", "att", "file")}


def bomb(sender, to, subject, word):
    """A mail with too many MIME parts: kept raw (``message.eml``)."""
    parts = "".join(
        f"--b\r\nContent-Type: text/plain\r\n\r\n{word} {n}\r\n" for n in range(1100)
    )
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + parts
        + "--b--\r\n"
    ).encode()


def probe_hits(cr, needles):
    """``{(table, column)}`` of the text columns of the probed tables whose
    value holds one of ``needles`` (case-insensitive)."""
    cr.execute(
        """
        SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND data_type = ANY(%s)
           AND (table_name = ANY(%s) OR table_name LIKE 'carerix\\_%%')
        """,
        [list(TEXT_TYPES), list(PROBED)],
    )
    patterns = [f"%{needle}%" for needle in needles]
    hits = set()
    for table, column in cr.fetchall():
        cr.execute(
            SQL(
                "SELECT 1 FROM %s WHERE %s::text ILIKE ANY(%s) LIMIT 1",
                SQL.identifier(table),
                SQL.identifier(column),
                patterns,
            )
        )
        if cr.rowcount:
            hits.add((table, column))
    return hits


def filestore_hits(env, needles):
    """The files of the database's filestore holding one of ``needles``."""
    root = env["ir.attachment"]._filestore()
    encoded = [needle.encode() for needle in needles]
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                data = handle.read()
            if any(needle in data for needle in encoded):
                hits.append(path)
    return hits


@tagged("post_install", "-at_install")
class TestErasePerson(SentFolderCase):
    def setUp(self):
        super().setUp()
        self.recruiters = [self.make_recruiter(from_address=None) for _n in range(3)]
        for _uid, login, _email in self.recruiters:
            self.dovecot.create_folder(login, "Sent")
        self.person = f"{unique('ann')}@person.example"
        self.other = f"{unique('bob')}@person.example"
        self.person_id = self.make_partner(name="Ann Person", email=self.person)
        self.other_id = self.make_partner(name="Bob Other", email=self.other)
        with self.real_env() as env:
            self.dp_user = new_test_user(
                env,
                login=unique("dp"),
                groups="carerix_mail.group_data_protection",
            ).id
            self.portal = new_test_user(
                env, login=unique("portal"), groups="base.group_portal"
            ).id

    def plant(self, address, word, login, owner_email, cc=None, private=False):
        """Deliver a mail of ``address`` with the planted ``word``s to the
        Inbox of ``login``."""
        subject = ("Confidential " if private else "") + word["subj"]
        raw = make_mail(
            address,
            owner_email,
            subject,
            f"Hello {word['body']}",
            cc=cc,
            attachments=[(f"{word['file']}.txt", word["att"].encode(), "text/plain")],
        )
        self.dovecot.deliver(login, "INBOX", raw)

    def build(self):
        """The person's mail with three owners (one private, one raw, one
        sent from Odoo) and the other person's, all synced."""
        (u1, l1, e1), (u2, l2, e2), (u3, l3, e3) = self.recruiters
        mine, theirs = words("ann"), words("bob")
        self.plant(self.person, mine, l1, e1)
        self.plant(self.person, mine, l2, e2, cc=e3, private=True)
        self.plant(self.person, mine, l3, e3, cc=e2, private=True)
        self.dovecot.deliver(l3, "INBOX", bomb(self.person, e3, "raw", mine["body"]))
        self.plant(self.other, theirs, l1, e1)
        self.plant(self.other, theirs, l2, e2)
        for user_id, _login, _email in self.recruiters:
            health = self.sync(user_id)
            self.assertEqual(health["state"], "ok", health["last_error"])
        self.send(u1, self.person_id, f"Offer {mine['subj']}")
        return mine, theirs

    def open_wizard(self, env):
        return (
            env["carerix.mail.erase.wizard"]
            .with_context(active_model="res.partner", active_ids=[self.person_id])
            .create({})
        )

    def person_entries(self, env):
        return env["carerix.mailbox.message"]._carerix_person_entries([self.person])

    def test_erase_leaves_nothing_of_the_person_and_all_of_others(self):
        mine, theirs = self.build()
        with self.real_env() as env:
            entries = self.person_entries(env)
            # three owners' Inbox, one raw, one sent from Odoo
            self.assertEqual(len(entries), 5)
            self.assertIn("outgoing", entries.mapped("direction"))
            self.assertEqual(len(entries.owner_id), 3)
            self.assertTrue(any(entries.mapped("confidential")))
            self.assertLessEqual({"raw", "matched"}, set(entries.mapped("state")))
        with self.real_env() as env:
            before = probe_hits(env.cr, list(mine.values()) + [self.person])
            self.assertIn(("mail_message", "body"), before)
            self.assertIn(("ir_attachment", "name"), before)
            self.assertIn(("ir_attachment", "index_content"), before)
            self.assertTrue(filestore_hits(env, [mine["att"], mine["body"]]))
        with self.real_env(uid=self.dp_user) as env:
            wizard = self.open_wizard(env)
            self.assertEqual(wizard.emails, self.person)
            preview = (
                wizard.entry_count,
                wizard.message_count,
                wizard.attachment_count,
                wizard.owner_count,
            )
            self.assertEqual(preview[0], 5)
            self.assertEqual(preview[3], 3)
            wizard.action_erase()
            erased = (
                wizard.erased_entry_count,
                wizard.erased_message_count,
                wizard.erased_attachment_count,
            )
            self.assertEqual(erased, preview[:3])
        # after the commit: the files went too
        with self.real_env() as env:
            self.assertFalse(self.person_entries(env))
            self.assertEqual(
                probe_hits(env.cr, list(mine.values()) + [self.person]), set()
            )
            self.assertEqual(filestore_hits(env, [mine["att"], mine["body"]]), [])
            kept = probe_hits(env.cr, list(theirs.values()))
            self.assertIn(("mail_message", "body"), kept)
            self.assertIn(("mail_message", "subject"), kept)
            self.assertIn(("ir_attachment", "name"), kept)
            self.assertTrue(filestore_hits(env, [theirs["att"]]))
            log = env["carerix.mail.privacy.log"].search([], limit=1)
            self.assertEqual(log.action, "erase")
            self.assertEqual(log.user_id.id, self.dp_user)
            self.assertEqual(
                (log.entry_count, log.message_count, log.attachment_count),
                preview[:3],
            )
            self.assertEqual(log.owner_count, 3)
            self.assertTrue(log.person_ref)

    def test_erased_mail_does_not_come_back_new_mail_does(self):
        self.build()
        with self.real_env(uid=self.dp_user) as env:
            self.open_wizard(env).action_erase()
        (u1, l1, e1), (u2, l2, _e2), _third = self.recruiters
        with self.real_env() as env:
            other_before = len(
                env["carerix.mailbox.message"]._carerix_person_entries([self.other])
            )
        # UIDVALIDITY reset of the Inbox and Sent of the first owner
        self.dovecot.reset_uidvalidity(l1, "INBOX")
        self.dovecot.reset_uidvalidity(l1, "Sent")
        # a reconnect of the second: folders and cursors gone, history again
        with self.real_env() as env:
            box = env["res.users"].browse(u2)._carerix_mailbox()
            box.folder_ids.unlink()
            box.last_sync_ok = False
        for user_id in (u1, u2):
            health = self.sync(user_id)
            self.assertEqual(health["state"], "ok", health["last_error"])
        with self.real_env() as env:
            self.assertFalse(self.person_entries(env))
            self.assertEqual(
                len(
                    env["carerix.mailbox.message"]._carerix_person_entries([self.other])
                ),
                other_before,
            )
            folders = env["res.users"].browse(u2)._carerix_mailbox().folder_ids
            inbox = folders.filtered(lambda f: f.name == "INBOX")
            self.assertTrue(inbox.last_uid)  # the cursor moved past the mail
        # he writes again after the erasure: archived as any mail
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            minutes=1
        )
        self.dovecot.deliver(
            l1, "INBOX", make_mail(self.person, e1, "Back again", date=later)
        )
        self.sync(u1)
        with self.real_env() as env:
            self.assertEqual(self.person_entries(env).mapped("subject"), ["Back again"])

    def test_only_data_protection_may_erase(self):
        (u1, _l1, _e1), (u2, _l2, _e2), _third = self.recruiters
        with self.real_env(uid=self.dp_user) as env:
            wizard_id = self.open_wizard(env).id
        for user_id in (u2, self.portal):
            with self.real_env(uid=user_id) as env:
                with self.assertRaises(AccessError):
                    self.open_wizard(env)
                wizard = env["carerix.mail.erase.wizard"].browse(wizard_id)
                with self.assertRaises(AccessError):
                    wizard.action_erase()
        with self.real_env() as env:
            self.assertFalse(env["carerix.mail.privacy.log"].search([]))
            admin = env.ref("base.user_admin")
            self.assertTrue(admin.has_group("carerix_mail.group_data_protection"))
            recruiter = env["res.users"].browse(u1)
            self.assertFalse(recruiter.has_group("carerix_mail.group_data_protection"))

    def test_pop3_reconnect_imports_nothing_and_keeps_its_uidls(self):
        user_id, login, email = self.make_recruiter(protocol="pop3", keep_copy=True)
        mine = words("pop")
        self.plant(self.person, mine, login, email)
        self.plant(self.other, words("pob"), login, email)
        self.assertEqual(self.sync(user_id)["state"], "ok")
        with self.real_env(uid=self.dp_user) as env:
            wizard = self.open_wizard(env)
            self.assertEqual(wizard.entry_count, 1)
            wizard.action_erase()
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            box.uidl_ids.unlink()  # a reconnect: every message fetched again
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        with self.real_env() as env:
            self.assertFalse(self.person_entries(env))
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            self.assertEqual(len(box.uidl_ids), 2)  # both known again
            self.assertEqual(len(self.entries(user_id)), 1)  # the other's only
            self.assertEqual(probe_hits(env.cr, list(mine.values())), set())
