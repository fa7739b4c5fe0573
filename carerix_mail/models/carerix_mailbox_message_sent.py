"""Mail sent from Odoo, archived for its sender (extends carerix.mailbox.message)."""

from odoo import api, models


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _archive_sent(self, mailbox, sent):
        """Archive the mails ``sent``, ``(raw, message)`` pairs where ``raw``
        is the Sent copy of ``message`` (a ``mail.message`` posted from Odoo),
        as outgoing mail of the owner of ``mailbox``: one batch for all.

        ``message`` itself is the archived copy on its record (no second copy
        there; the entry lists that record if it is a partner); the other
        matching records get one as usual. The entry is as private as the
        sender decided (:meth:`_carerix_sent_confidential`). Its dedup key is
        that of ``raw``, and exactly ``raw`` is appended to the IMAP Sent
        folder after commit (one connection for the batch), so the next sync
        of that folder finds the mail archived already. Returns one entry per
        pair (empty when the owner has the mail).
        """
        messages = self.env["mail.message"].browse([m.id for _raw, m in sent])
        messages = messages.sudo()  # one read for the whole batch
        items = [
            (
                raw,
                {
                    "exclude": {(message.model, message.res_id)},
                    "confidential": self._carerix_sent_confidential(mailbox, message),
                },
            )
            for (raw, _message), message in zip(sent, messages, strict=True)
        ]
        entries = self._archive_batch(
            mailbox, items, direction="outgoing", folder=mailbox._sent_folder_name()
        )
        adopted = [
            (entry, message)
            for entry, message in zip(entries, messages, strict=True)
            if entry
        ]
        for entry, message in adopted:
            message.write(
                {
                    "carerix_owner_id": entry.owner_id.id,
                    "carerix_mailbox_message_id": entry.id,
                    "carerix_direction": "outgoing",
                    "carerix_confidential": entry.confidential,
                }
            )
        mailbox._append_sent_after_commit(
            [raw for (raw, _m), entry in zip(sent, entries, strict=True) if entry]
        )
        return entries

    @api.model
    def _carerix_sent_confidential(self, mailbox, message):
        """Whether the Sent copy of ``message`` is private, when decided
        already: the sender's decision stored on the message when it was
        posted (the composer's *Confidential* box or the rules of confidential
        mail, see ``mail.message._carerix_default_confidential``), so queued,
        scheduled and mass mail keep it; a conversation locked or unlocked
        since then is written on the message too. ``None`` leaves it to the
        rules applied to the Sent copy."""
        message = message.sudo()
        if message.carerix_owner_id and message.carerix_owner_id == mailbox.user_id:
            return message.carerix_confidential
        return None
