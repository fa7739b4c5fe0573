import logging
import time
from datetime import timedelta

from odoo import api, fields, models

from .carerix_mailbox import cron_time_budget

_logger = logging.getLogger(__name__)

# A mailbox being synced when its request is served is asked again this much
# later: that sync may have passed the mail the request is about.
BUSY_RETRY = timedelta(seconds=5)


class CarerixMailboxSyncRequest(models.Model):
    """A mailbox to sync now: its owner came online, opened *My mail* or
    clicked *Sync now*.

    A request is a row of its own, never a write on the mailbox: a running sync
    holds the mailbox row locked (``FOR NO KEY UPDATE``), which a new row
    referencing it does not wait for, so the websocket that reports the owner's
    presence never waits on a sync. One request per mailbox at a time; the
    cron ``carerix_mailbox_sync_request_cron`` (woken at once by
    ``ir.cron._trigger()``) serves them, oldest first.
    """

    _name = "carerix.mailbox.sync.request"
    _description = "Mailbox sync request"
    _order = "id"

    mailbox_id = fields.Many2one(
        "carerix.mailbox", required=True, ondelete="cascade", readonly=True
    )
    reason = fields.Selection(
        [
            ("online", "Owner came online"),
            ("my_mail", "My mail opened"),
            ("sync_now", "Sync now"),
        ],
        required=True,
        readonly=True,
    )

    _sql_constraints = [
        ("mailbox_uniq", "unique(mailbox_id)", "A mailbox has one sync request."),
    ]

    @api.model
    def _request(self, mailboxes, reason, at=None):
        """Ask for a sync of ``mailboxes`` (those that fetch) and wake the cron
        now, or at ``at``.

        Inserted with plain SQL, ``ON CONFLICT DO NOTHING``: a mailbox asked
        twice is synced once, and nothing waits on a lock.
        """
        ids = mailboxes.filtered(
            lambda box: box.fetch_enabled and box.host and box.active
        ).ids
        if not ids:
            return
        self.env.cr.execute(
            """
            INSERT INTO carerix_mailbox_sync_request
                   (mailbox_id, reason, create_uid, create_date, write_uid, write_date)
            SELECT box_id, %s, %s, now() AT TIME ZONE 'UTC', %s,
                   now() AT TIME ZONE 'UTC'
              FROM unnest(%s) AS box_id
                ON CONFLICT (mailbox_id) DO NOTHING
            """,
            [reason, self.env.uid, self.env.uid, ids],
        )
        cron = self.env.ref("carerix_mail.carerix_mailbox_sync_request_cron")
        cron.sudo()._trigger(at)

    @api.model
    def _cron_serve(self, time_budget=None):
        """Sync the requested mailboxes, oldest request first, until the budget
        (seconds; by default the cron's) is spent. Returns the number synced.

        Each request is taken (deleted, committed) before its mailbox is
        synced through ``carerix.mailbox._claim_and_sync``, which commits per
        batch; a mailbox being synced elsewhere is asked again shortly.
        """
        if time_budget is None:
            time_budget = cron_time_budget()
        deadline = time.monotonic() + time_budget
        Mailbox = self.env["carerix.mailbox"]
        done = 0
        busy = []
        while time.monotonic() < deadline:
            mailbox_id = self._take()
            if mailbox_id is None:
                break
            if Mailbox._claim_and_sync(mailbox_id=mailbox_id, deadline=deadline):
                done += 1
            else:
                busy.append(mailbox_id)
            remaining = self.search_count([])
            self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if busy:
            at = fields.Datetime.now() + BUSY_RETRY
            self._request(Mailbox.browse(busy), "sync_now", at=at)
            self.env.cr.commit()  # pylint: disable=invalid-commit; the requests of busy mailboxes
        return done

    @api.model
    def _take(self):
        """Remove the oldest request and commit; its mailbox id, or None."""
        self.env.cr.execute(
            """
            DELETE FROM carerix_mailbox_sync_request
             WHERE id = (SELECT id FROM carerix_mailbox_sync_request
                          ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING mailbox_id
            """
        )
        row = self.env.cr.fetchone()
        self.env.cr.commit()  # pylint: disable=invalid-commit; the request is taken before its long sync
        return row[0] if row else None
