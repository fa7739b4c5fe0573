import logging

from odoo import models, tools

_logger = logging.getLogger(__name__)


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _postprocess_sent_message(
        self, success_pids, failure_reason=False, failure_type=None
    ):
        """Archive mail a user sent from Odoo as his outgoing mail, and queue
        its copy for his IMAP Sent folder (see ``_carerix_sent_copy``).

        Runs before ``super()``, which may delete the ``mail.mail``. Mail of
        users who do not use their carerix mailbox costs nothing here. The
        batch is archived in one savepoint, mail by mail only when that
        fails. Never raises: the mail has left already, whatever happens here.
        """
        mails = self.filtered(lambda m: m.state == "sent" and m._carerix_sender())
        if mails:
            try:
                with self.env.cr.savepoint():
                    for mail in mails:
                        mail._carerix_archive_sent()
            except Exception:  # noqa: BLE001  one by one, to keep the others
                for mail in mails:
                    try:
                        with self.env.cr.savepoint():
                            mail._carerix_archive_sent()
                    except Exception:  # the mail is sent; archiving must not undo that
                        _logger.exception(
                            "Archiving sent mail %s for its sender failed", mail.id
                        )
        return super()._postprocess_sent_message(
            success_pids, failure_reason=failure_reason, failure_type=failure_type
        )

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

    def _carerix_archive_sent(self):
        self.ensure_one()
        sender = self._carerix_sender()
        if not sender:
            return self.env["carerix.mailbox.message"]
        mailbox = sender._carerix_mailbox(create=True)
        raw = self._carerix_sent_copy()
        return self.env["carerix.mailbox.message"]._archive_sent(
            mailbox, [(raw, self.mail_message_id)]
        )[0]

    def _carerix_sent_copy(self):
        """The mail as the sender's Sent folder keeps it: built by Odoo's mail
        server from the same values as the mail that left, addressed to all its
        recipients at once (Odoo sends one mail per recipient)."""
        self.ensure_one()
        emails = self._prepare_outgoing_list()
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
