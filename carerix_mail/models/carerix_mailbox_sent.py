"""Copying mail sent from Odoo to the IMAP Sent folder (extends carerix.mailbox)."""

import logging

from odoo import SUPERUSER_ID, _, api, fields, models

from ..engine import MailError, translate_exception

_logger = logging.getLogger(__name__)


class CarerixMailbox(models.Model):
    _inherit = "carerix.mailbox"

    def _sent_folder_name(self):
        self.ensure_one()
        folder = self.folder_ids.filtered(lambda f: f.role == "sent" and f.present)[:1]
        return folder.name or ""

    def _append_sent_after_commit(self, raws):
        """Append the mails ``raws`` to this IMAP mailbox's Sent folder once
        the current transaction (which archived them) is committed: all the
        mails of the transaction over one connection per mailbox. Nothing for
        POP3 or an unconfigured mailbox."""
        self.ensure_one()
        if not raws or self.protocol != "imap" or not self.host or not self.login:
            return
        if self.smtp_mode == "own" and self.smtp_files_sent:
            return  # his own server files what it sends in Sent itself
        pending = self.env.cr.postcommit.data.setdefault("carerix.sent_append", {})
        if not pending:
            registry = self.env.registry

            def append():
                for mailbox_id, todo in pending.items():
                    with registry.cursor() as cr:  # each mailbox on its own
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        env["carerix.mailbox"].browse(mailbox_id)._append_sent(todo)
                pending.clear()

            self.env.cr.postcommit.add(append)
        pending.setdefault(self.id, []).extend(raws)

    def _append_sent(self, raws):
        """APPEND the mails ``raws`` as read to the Sent folder, over one
        connection (discovering the folders when none has the role *sent*).
        A failure is shown on the sync health, never raised: the mails have
        been sent. Returns the UIDs (None where unknown), or None when
        nothing could be appended."""
        self.ensure_one()
        try:
            with self._open(timeout=30) as client:
                name = self._sent_folder_name()
                if not name:
                    self._discover_folders(client)
                    name = self._sent_folder_name()
                if not name:
                    self._record_append_error(
                        _(
                            "No folder has the role Sent: use Edit folders to "
                            "choose the folder for sent mail."
                        )
                    )
                    return None
                return [client.append(name, raw, flags=(b"\\Seen",)) for raw in raws]
        except MailError as error:
            message = self._user_message(error)
        except (OSError, ValueError) as error:
            message = self._user_message(
                translate_exception(error, self._engine_settings())
            )
        except Exception as error:  # shown on the card, the mail is sent anyway
            _logger.exception("Mailbox %s: append to Sent failed", self.id)
            message = type(error).__name__
        self._record_append_error(message)
        return None

    def _record_append_error(self, message):
        text = _(
            "A mail sent from Odoo could not be copied to your Sent folder: %(error)s",
            error=message,
        )
        _logger.info("Mailbox %s: %s", self.id, text)
        # Skip the health update while a sync holds the row: it rewrites it.
        self.env.cr.execute(
            "SELECT id FROM carerix_mailbox WHERE id = %s "
            "FOR NO KEY UPDATE SKIP LOCKED",
            [self.id],
        )
        if self.env.cr.fetchone():
            self.write(
                {
                    "state": "failing",
                    "last_error": text,
                    "last_attempt": fields.Datetime.now(),
                }
            )
