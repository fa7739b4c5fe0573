import contextvars
import logging

from odoo import api, models, tools

from .memo import memo_scope

_logger = logging.getLogger(__name__)

# While :meth:`MailMail._send` sends a batch: the mails sent so far that their
# sender archives, ``{sender: {message id: (Sent copy, message)}}``; else None.
_SENT_MEMO = contextvars.ContextVar("carerix_sent_memo", default=None)
# While :meth:`MailMail._send` sends: ``{mail id: emails}`` of the mail being
# sent, as Odoo prepared them (``_prepare_outgoing_list``), and under
# "messages" the ``(message, From as built)`` that left for it
# (``ir.mail_server.send_email``); else None.
_OUTGOING_MEMO = contextvars.ContextVar("carerix_outgoing_memo", default=None)


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _send(self, auto_commit=False, raise_exception=False, **kwargs):
        """Archive the mails a user sent, per sender as one batch after the
        whole ``mail.mail`` batch is sent (:meth:`_carerix_archive_sent`).

        With ``auto_commit`` (the mail queue) Odoo commits mail by mail: each
        mail is then archived in the transaction that records it as sent. When
        sending raises, nothing is archived: the transaction that recorded the
        mails as sent is rolled back.
        """
        with memo_scope(_OUTGOING_MEMO):
            if auto_commit is True:
                return super()._send(
                    auto_commit=auto_commit, raise_exception=raise_exception, **kwargs
                )
            with memo_scope(_SENT_MEMO):
                result = super()._send(
                    auto_commit=auto_commit, raise_exception=raise_exception, **kwargs
                )
                sent = _SENT_MEMO.get()
        self._carerix_archive_sent(sent)
        return result

    def _prepare_outgoing_list(
        self, mail_server=False, recipients_follower_status=None
    ):
        """Odoo's; while :meth:`_send` sends, the emails of the mail being sent
        are kept for its Sent copy (:meth:`_carerix_sent_copy`): the copy is
        what left, and is not prepared twice."""
        emails = super()._prepare_outgoing_list(
            mail_server=mail_server,
            recipients_follower_status=recipients_follower_status,
        )
        memo = _OUTGOING_MEMO.get()
        if memo is not None and len(self) == 1:
            memo.clear()  # only the mail being sent
            memo[self.id] = emails
        return emails

    def _postprocess_sent_message(
        self, success_pids, failure_reason=False, failure_type=None
    ):
        """Take the mail a user sent from Odoo, to archive it as his outgoing
        mail and to append its copy to his IMAP Sent folder (see
        ``_carerix_sent_copy``): with the other mails of the batch :meth:`_send`
        is sending, else now.

        Runs before ``super()``, which may delete the ``mail.mail``. Mail of
        users who do not use their carerix mailbox costs nothing here.
        """
        memo = _SENT_MEMO.get()
        sent = {} if memo is None else memo
        self._carerix_collect_sent(sent)
        if memo is None:
            self._carerix_archive_sent(sent)
        return super()._postprocess_sent_message(
            success_pids, failure_reason=failure_reason, failure_type=failure_type
        )

    def _carerix_collect_sent(self, sent):
        """Add the mails of ``self`` to archive for their sender to ``sent``:
        ``{sender: {message id: (Sent copy, message)}}``, one per posted
        message. Never raises."""
        for mail in self:
            sender = mail.state == "sent" and mail._carerix_sender()
            if not sender or mail.mail_message_id.id in sent.get(sender, ()):
                continue
            message = mail.mail_message_id
            try:
                raw = mail._carerix_sent_copy()
            except Exception:  # the mail is sent; archiving must not undo that
                _logger.exception(
                    "Archiving sent mail %s for its sender failed", mail.id
                )
                continue
            sent.setdefault(sender, {})[message.id] = (raw, message)

    def _carerix_sender(self):
        """The internal user who sent this mail from Odoo, if it is his own
        mail to archive: a posted (not internal) message he authored on a
        record, not yet archived for him, and he uses his carerix mailbox."""
        self.ensure_one()
        users = self.env["res.users"]
        # first what is cached: most mail is not a recruiter's
        user_id = users._carerix_recruiter_partners().get(self.author_id.id)
        message = self.mail_message_id
        if (
            not user_id
            or not message
            or not message.model
            or not message.res_id
            or message.model == "carerix.mailbox.message"
            or message.carerix_mailbox_message_id
            or message.message_type not in ("comment", "email_outgoing")
            or message.is_internal
            or message.subtype_id.internal
        ):
            return users
        return users.browse(user_id)

    @api.model
    def _carerix_archive_sent(self, sent):
        """Archive the mails ``sent`` (see :meth:`_carerix_collect_sent`): one
        batch per sender (one lookup, one ``create`` per model) in one
        savepoint, mail by mail only when that fails. Never raises."""
        for sender, by_message in sent.items():
            items = list(by_message.values())
            if len(items) > 1 and self._carerix_archive_sent_as(sender, items, False):
                continue
            for item in items:  # one by one, to keep the others
                self._carerix_archive_sent_as(sender, [item])

    @api.model
    def _carerix_archive_sent_as(self, sender, items, log=True):
        """Archive ``items`` (``(Sent copy, message)``) for ``sender`` in one
        savepoint; returns whether it worked. Never raises."""
        try:
            with self.env.cr.savepoint():
                self.env["carerix.mailbox.message"]._archive_sent(
                    sender._carerix_mailbox(create=True), items
                )
        except Exception:  # the mail is sent; archiving must not undo that
            if log:
                _logger.exception(
                    "Archiving sent messages %s for their sender failed",
                    [message.id for _raw, message in items],
                )
            return False
        return True

    def _carerix_sent_copy(self):
        """The mail as the sender's Sent folder keeps it: the message that
        left when it had one recipient, else built by Odoo's mail server from
        the same values as the mails that left, addressed to all their
        recipients at once (Odoo sends one mail per recipient)."""
        self.ensure_one()
        memo = _OUTGOING_MEMO.get() or {}
        emails = memo.get(self.id) or self._prepare_outgoing_list()
        left = memo.get("messages") or []
        if len(emails) == 1 and len(left) == 1 and left[0][0]["From"] == left[0][1]:
            # one recipient (mass mail): the message that left is the copy
            msg = left[0][0]
            del msg["Return-Path"]
            return msg.as_bytes()
        first = emails[0]
        email_to = []
        email_cc = []
        for values in emails:
            email_to += [e for e in values["email_to"] if e not in email_to]
            email_cc += [e for e in values["email_cc"] if e not in email_cc]
        emails_from = tools.mail.email_split_and_format(self.email_from)
        msg = self.env["ir.mail_server"].build_email(
            email_from=emails_from[0] if emails_from else self.email_from,
            email_to=email_to,
            subject=first["subject"],
            body=first["body"],
            body_alternative=first["body_alternative"],
            email_cc=email_cc,
            reply_to=first["reply_to"],
            attachments=first["attachments"],
            message_id=first["message_id"],
            references=first["references"],
            object_id=first["object_id"],
            subtype="html",
            subtype_alternative="plain",
            headers={
                k: v for k, v in first["headers"].items() if k.lower() != "return-path"
            },
        )
        return msg.as_bytes()
