"""Erasing a person's archived mail, and keeping it erased (extends
carerix.mailbox.message; the tombstones are ``carerix.mail.tombstone``).

*Erase this person* and *forget partner* find the person's entries by the
addresses of their From, To and Cc (:meth:`_carerix_person_entries`, on a
stored list of normalized addresses with an index), and remove everything
archived of them in set-based SQL (:meth:`_carerix_erase_entries`): the
entries, every ``mail.message`` copy (the message posted from Odoo that is
the copy of a Sent entry too), what hangs on those messages, their
attachments and the raw ``.eml`` of raw entries, and the files of those
attachments once no other attachment uses them. Tombstones (keyed hashes,
nothing readable) keep a later sync from archiving the mails again.
"""

import logging
import os
from collections import defaultdict
from email.utils import getaddresses

import psycopg2

from odoo import api, fields, models
from odoo.modules.registry import Registry
from odoo.tools import SQL, split_every

from ..engine.message import normalize_email, parse_headers

_logger = logging.getLogger(__name__)

# Entries erased per round of statements: bounds the size of the id arrays.
ERASE_BATCH = 2000


def normalized_addresses(values):
    """The normalized addresses in ``values`` (header values or plain
    addresses), sorted, once each."""
    found = set()
    for _name, email in getaddresses([v for v in values if v]):
        address = normalize_email(email)
        if address:
            found.add(address)
    return sorted(found)


def _empty_counts():
    return {"entries": 0, "messages": 0, "attachments": 0, "owners": 0}


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    carerix_addresses = fields.Char(
        "Addresses",
        compute="_compute_carerix_addresses",
        store=True,
        readonly=True,
        help="The normalized addresses of From, To and Cc, space-separated: "
        "how the mail of a person is found.",
    )

    def init(self):
        res = super().init()
        # An exact match of one address among the mail's: array overlap.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS carerix_mailbox_message_addresses_idx
                ON carerix_mailbox_message
             USING gin (string_to_array(carerix_addresses, ' '))
            """
        )
        return res

    @api.depends("email_from", "email_to", "email_cc")
    def _compute_carerix_addresses(self):
        for entry in self:
            addresses = normalized_addresses(
                [entry.email_from, entry.email_to, entry.email_cc]
            )
            entry.carerix_addresses = " ".join(addresses) or False

    # ------------------------------------------------------------------
    # The sync: erased mail is not archived again
    # ------------------------------------------------------------------
    @api.model
    def _carerix_skip_duplicates(self, batch, mails):
        """Also skip the mails that were erased (see
        ``carerix.mail.tombstone._erased``): nothing is created of them, and
        the caller's cursor moves past them as past a duplicate."""
        erased = (
            self.env["carerix.mail.tombstone"]
            .sudo()
            ._erased([mail.info for mail in mails])
        )
        kept = [mail for mail, gone in zip(mails, erased, strict=True) if not gone]
        return super()._carerix_skip_duplicates(batch, kept)

    @api.model
    def _store_raw_only(self, mailbox, raw, *args, info=None, **kwargs):
        """Nor is an erased mail kept raw."""
        if info is None and raw is not None:
            info = parse_headers(raw)
        Tombstone = self.env["carerix.mail.tombstone"].sudo()
        if info is not None and Tombstone._erased([info])[0]:
            return self.browse()
        return super()._store_raw_only(mailbox, raw, *args, info=info, **kwargs)

    # ------------------------------------------------------------------
    # Finding and previewing
    # ------------------------------------------------------------------
    @api.model
    def _carerix_person_entries(self, emails):
        """The entries (sudo, every owner, every state) whose From, To or Cc
        holds one of ``emails``, compared normalized and whole."""
        addresses = normalized_addresses(emails)
        if not addresses:
            return self.sudo().browse()
        self.flush_model(["carerix_addresses"])  # of entries not yet written
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM carerix_mailbox_message
                 WHERE string_to_array(carerix_addresses, ' ') && %s::text[]
                 ORDER BY id
                """,
                addresses,
            )
        )
        return self.sudo().browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _carerix_erase_preview(self, entries):
        """What :meth:`_carerix_erase_entries` would remove of ``entries``:
        the same counts, nothing removed."""
        counts = _empty_counts()
        owners = set()
        self.env.flush_all()
        for chunk in split_every(ERASE_BATCH, sorted(set(entries.ids)), list):
            found = self._carerix_erase_collect(chunk)
            counts["entries"] += len(found["entries"])
            counts["messages"] += len(found["messages"])
            counts["attachments"] += len(found["attachments"])
            owners.update(found["owners"])
        counts["owners"] = len(owners)
        return counts

    @api.model
    def _carerix_erase_collect(self, entry_ids):
        """``{"entries", "messages", "attachments", "owners", "fnames",
        "dedup_keys"}`` of the entries ``entry_ids``: what erasing them
        removes. An attachment goes with the messages when it belongs to one
        of them or to an entry (a raw ``.eml``), or when only these messages
        use it."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT id, owner_id, dedup_key
                  FROM carerix_mailbox_message WHERE id = ANY(%s)
                """,
                entry_ids,
            )
        )
        rows = cr.fetchall()
        ids = [row[0] for row in rows]
        cr.execute(
            SQL(
                """
                SELECT id FROM mail_message
                 WHERE carerix_mailbox_message_id = ANY(%(ids)s)
                 UNION
                SELECT id FROM mail_message
                 WHERE model = %(model)s AND res_id = ANY(%(ids)s)
                """,
                ids=ids,
                model=self._name,
            )
        )
        message_ids = [row[0] for row in cr.fetchall()]
        attachments = self._carerix_erase_attachments(ids, message_ids)
        return {
            "entries": ids,
            "owners": {row[1] for row in rows},
            "dedup_keys": [row[2] for row in rows if row[2]],
            "messages": message_ids,
            "attachments": [att_id for att_id, _fname in attachments],
            "fnames": {fname for _att_id, fname in attachments if fname},
        }

    @api.model
    def _carerix_erase_attachments(self, entry_ids, message_ids):
        """``[(id, store_fname)]`` of the attachments that go with the
        entries ``entry_ids`` and the messages ``message_ids``."""
        self.env.cr.execute(
            SQL(
                """
                SELECT id, store_fname FROM ir_attachment
                 WHERE res_model = 'mail.message' AND res_id = ANY(%(msgs)s)
                 UNION
                SELECT id, store_fname FROM ir_attachment
                 WHERE res_model = %(model)s AND res_id = ANY(%(ids)s)
                 UNION
                SELECT a.id, a.store_fname FROM message_attachment_rel r
                  JOIN ir_attachment a ON a.id = r.attachment_id
                 WHERE r.message_id = ANY(%(msgs)s)
                   AND NOT EXISTS (
                       SELECT 1 FROM message_attachment_rel o
                        WHERE o.attachment_id = a.id
                          AND NOT o.message_id = ANY(%(msgs)s))
                """,
                msgs=message_ids,
                ids=entry_ids,
                model=self._name,
            )
        )
        return self.env.cr.fetchall()

    # ------------------------------------------------------------------
    # Erasing
    # ------------------------------------------------------------------
    @api.model
    def _carerix_erase_entries(self, entries, tombstone=True, emails=()):
        """Erase ``entries`` (any owner) and all that was archived of them;
        returns the counts ``{"entries", "messages", "attachments",
        "owners"}``. With ``tombstone``, the identities of the mails (their
        dedup keys: Message-ID and content hash, so that a forged mail with
        an erased Message-ID is not dropped) and ``emails`` (the person's
        addresses, with the time of the erasure) are kept as keyed hashes so
        that a later sync does not archive the mails again. Works in rounds
        of :data:`ERASE_BATCH` entries. Checks no rights: the callers do."""
        counts = _empty_counts()
        owners, fnames = set(), set()
        self = self.sudo()
        self.env.flush_all()
        for chunk in split_every(ERASE_BATCH, sorted(set(entries.ids)), list):
            found = self._carerix_erase_collect(chunk)
            if tombstone:
                self.env["carerix.mail.tombstone"]._add_messages(found["dedup_keys"])
            self._carerix_erase_notify(found["messages"])
            self._carerix_erase_rows(found)
            counts["entries"] += len(found["entries"])
            counts["messages"] += len(found["messages"])
            counts["attachments"] += len(found["attachments"])
            owners.update(found["owners"])
            fnames.update(found["fnames"])
        if tombstone and emails:
            self.env["carerix.mail.tombstone"]._add_addresses(emails)
        counts["owners"] = len(owners)
        # Bus messages older than the bus timeout were delivered: drop them
        # now (Odoo's daily autovacuum would), the person's mail with them.
        self.env["bus.bus"].sudo()._gc_messages()
        self.env.invalidate_all(flush=False)
        self._carerix_remove_files(fnames)
        return counts

    @api.model
    def _carerix_erase_person(self, emails, action):
        """Erase the archived mail of the person of ``emails`` (with
        tombstones) and write the audit entry of ``action``; returns the
        counts. Checks no rights: the callers do."""
        addresses = normalized_addresses(emails)
        entries = self._carerix_person_entries(addresses)
        counts = self._carerix_erase_entries(entries, emails=addresses)
        self.env["carerix.mail.privacy.log"]._log(action, addresses, counts)
        return counts

    @api.model
    def _carerix_erase_rows(self, found):
        """Delete the rows of ``found`` (:meth:`_carerix_erase_collect`):
        what hangs on the messages first, then the attachments, the messages
        and the entries. The database cascades the rest (relation rows,
        notifications, reactions)."""
        cr = self.env.cr
        msgs, ids = found["messages"], found["entries"]
        statements = [
            SQL(
                "DELETE FROM %s WHERE mail_message_id = ANY(%s)",
                SQL.identifier(table),
                msgs,
            )
            for table in ("mail_tracking_value", "mail_notification", "mail_mail")
        ] + [
            SQL("DELETE FROM ir_attachment WHERE id = ANY(%s)", found["attachments"]),
            SQL("DELETE FROM mail_message WHERE id = ANY(%s)", msgs),
            SQL(
                "DELETE FROM mail_followers WHERE res_model = %s AND res_id = ANY(%s)",
                self._name,
                ids,
            ),
            SQL(
                "DELETE FROM mail_activity WHERE res_model = %s AND res_id = ANY(%s)",
                self._name,
                ids,
            ),
            SQL("DELETE FROM carerix_mailbox_message WHERE id = ANY(%s)", ids),
        ]
        for statement in statements:
            cr.execute(statement)

    @api.model
    def _carerix_erase_notify(self, message_ids):
        """Tell the open web clients that the messages ``message_ids`` are
        gone (``mail.message/delete``, as Odoo and OCA's *forget partner*
        do): their owners, the users notified of them, and the user who
        erases."""
        if not message_ids:
            return
        self.env.cr.execute(
            SQL(
                """
                SELECT u.partner_id, m.id FROM mail_message m
                  JOIN res_users u ON u.id = m.carerix_owner_id
                 WHERE m.id = ANY(%(msgs)s)
                 UNION
                SELECT n.res_partner_id, n.mail_message_id FROM mail_notification n
                  JOIN res_users u ON u.partner_id = n.res_partner_id
                 WHERE n.mail_message_id = ANY(%(msgs)s)
                """,
                msgs=message_ids,
            )
        )
        by_partner = defaultdict(set)
        for partner_id, message_id in self.env.cr.fetchall():
            by_partner[partner_id].add(message_id)
        by_partner[self.env.user.partner_id.id].update(message_ids)
        Partner = self.env["res.partner"].sudo()
        for partner_id, ids in by_partner.items():
            Partner.browse(partner_id)._bus_send(
                "mail.message/delete", {"message_ids": sorted(ids)}
            )

    @api.model
    def _carerix_remove_files(self, fnames):
        """Remove the files ``fnames`` of erased attachments from the
        filestore after commit, those no attachment uses any more. Odoo's
        own deletion only marks them for its garbage collector; they are
        marked too, in case this does not get to run."""
        if not fnames:
            return
        Attachment = self.env["ir.attachment"]
        for fname in fnames:
            Attachment._file_delete(fname)
        paths = {fname: Attachment._full_path(fname) for fname in fnames}
        dbname = self.env.cr.dbname

        def remove():
            with Registry(dbname).cursor() as cr:
                _remove_unused_files(cr, paths)

        self.env.cr.postcommit.add(remove)


def _remove_unused_files(cr, paths):
    """Unlink the files of ``paths`` (``{store_fname: path}``) that no
    attachment uses, holding the lock Odoo's own garbage collector takes so
    that no attachment starts using one meanwhile."""
    cr.execute("SET LOCAL lock_timeout TO '10s'")
    try:
        cr.execute("LOCK ir_attachment IN SHARE MODE")
    except psycopg2.errors.LockNotAvailable:  # Odoo's garbage collector then
        cr.rollback()
        _logger.info("Erased files left to the filestore garbage collector")
        return
    cr.execute(
        "SELECT store_fname FROM ir_attachment WHERE store_fname = ANY(%s)",
        [list(paths)],
    )
    used = {row[0] for row in cr.fetchall()}
    removed = 0
    for fname, path in paths.items():
        if fname in used:
            continue
        try:
            os.unlink(path)
            removed += 1
        except FileNotFoundError:
            continue
        except OSError:
            _logger.warning("Could not remove an erased file", exc_info=True)
    cr.commit()  # pylint: disable=invalid-commit; a cursor of its own, post-commit
    _logger.info("Erased mail: %s files removed from the filestore", removed)
