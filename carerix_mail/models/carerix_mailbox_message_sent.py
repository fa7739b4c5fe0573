"""Mail sent from Odoo, archived for its sender (extends carerix.mailbox.message)."""

from odoo import api, models


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _archive_sent(self, mailbox, raw, message):
        """Archive ``raw``, the Sent copy of ``message`` (a ``mail.message``
        posted from Odoo), as outgoing mail of the owner of ``mailbox``.

        ``message`` itself is the archived copy on its record (no second copy
        there); the other matching records get one as usual. The entry's dedup
        key is that of ``raw``, and exactly ``raw`` is appended to the IMAP Sent
        folder after commit, so the next sync of that folder finds the mail
        archived already. Returns the entry (empty when the owner has it).
        """
        folder = mailbox._sent_folder_name()
        exclude = {(message.model, message.res_id)}
        entry = self.with_context(carerix_exclude_targets=exclude)._archive_raw(
            mailbox, raw, direction="outgoing", folder=folder
        )
        if not entry:
            return entry
        confidential = self._carerix_sent_confidential(mailbox, message)
        if confidential is not None and bool(confidential) != entry.confidential:
            entry.sudo().write({"confidential": bool(confidential)})
            entry.copy_ids.sudo().write({"carerix_confidential": bool(confidential)})
        message.sudo().write(
            {
                "carerix_owner_id": mailbox.user_id.id,
                "carerix_mailbox_message_id": entry.id,
                "carerix_direction": "outgoing",
                "carerix_confidential": entry.confidential,
            }
        )
        vals = {"state": "matched"}
        if message.model == "res.partner":
            vals["partner_ids"] = [(4, message.res_id)]
        entry.sudo().write(vals)
        mailbox._append_sent_after_commit(raw)
        return entry

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

    @api.model
    def _archive_targets(self, mailbox, info, direction):
        targets = super()._archive_targets(mailbox, info, direction)
        exclude = self.env.context.get("carerix_exclude_targets")
        if not exclude:
            return targets
        result = {}
        for model, records in targets.items():
            kept = records.filtered(lambda r, m=model: (m, r.id) not in exclude)
            if kept:
                result[model] = kept
        return result
