"""Sending through the user's own outgoing server (see carerix_mailbox_smtp.py).

Odoo's mail queue groups the mails of a ``send()`` by sending configuration
(``_split_by_mail_configuration``) and opens one SMTP connection per group.
The mails of a user who sends through his own server form groups of their
own, one per user, and :meth:`IrMailServer.connect` gives them the session
opened here on his server: one connection per user per batch.

Failures never change the sender: a connection that cannot be made for a
reason that will not pass by itself (password, TLS, unknown host) fails the
mails with the reason, like any Odoo send failure; a transient one (timeout,
connection lost, a 4xx) leaves them queued for Odoo's mail queue to retry.
Only when an administrator allowed it (``carerix_mail.smtp_fallback``) do
they go through the company's server instead, from the system address.
"""

import contextvars
import logging
from collections import defaultdict

from odoo import api, models, tools
from odoo.exceptions import UserError

from ..engine import (
    ConnectionLost,
    ConnectionTimeout,
    MailError,
    OAuthProviderUnavailable,
    SendDeferred,
)

_logger = logging.getLogger(__name__)

# While send() works on a group of one user's mails: the logged-in
# SmtpSubmission on his server, or the error (a MailError, or a UserError for
# incomplete settings) that prevented it.
_OWN_SESSION = contextvars.ContextVar("carerix_own_smtp_session", default=None)
# Set by IrMailServer.send_email when the user's server deferred a mail, for
# _postprocess_sent_message to leave it queued.
_DEFERRED = contextvars.ContextVar("carerix_smtp_deferred", default=None)
# Connection failures that pass by themselves: retried by the mail queue.
TRANSIENT_ERRORS = (ConnectionTimeout, ConnectionLost, OAuthProviderUnavailable)
FALLBACK_PARAM = "carerix_mail.smtp_fallback"


def own_session():
    """The session or error of the group being sent (None: Odoo's own)."""
    return _OWN_SESSION.get()


def mark_deferred(reason):
    """Note that the user's server deferred the mail being sent."""
    _DEFERRED.set(reason)


class MailMail(models.Model):  # pylint: disable=consider-merging-classes-inherited
    _inherit = "mail.mail"

    def _split_by_mail_configuration(self):
        """Odoo's groups; the mails of users who send through their own
        server come in groups of their own, one user at a time, with his
        session open (see :func:`own_session`)."""
        users = self.env["res.users"]
        own = (
            users._carerix_own_smtp_senders()
            if users._carerix_recruiter_partners()
            else {}
        )
        if not own:
            yield from super()._split_by_mail_configuration()
            return
        by_mailbox = defaultdict(list)
        for mail in self:
            box_id = own.get(mail.author_id.id)
            if box_id:
                by_mailbox[box_id].append(mail.id)
        others = self - self.browse([i for ids in by_mailbox.values() for i in ids])
        if others:
            yield from super(MailMail, others)._split_by_mail_configuration()
        batch_size = (
            int(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param("mail.session.batch.size")
            )
            or 1000
        )
        for box_id, mail_ids in by_mailbox.items():
            box = self.env["carerix.mailbox"].sudo().browse(box_id)
            for batch_ids in tools.split_every(batch_size, mail_ids):
                yield from self.browse(batch_ids)._carerix_own_server_batch(box)

    def _carerix_own_server_batch(self, box):
        """The configuration groups of these mails of ``box``'s owner: his
        server with its session open; nothing when it is unreachable for now
        (the mails stay queued); Odoo's groups from his system address when
        it fails for good and an administrator allows the fallback."""
        try:
            session = box._smtp_open()
        except (MailError, UserError) as error:
            if isinstance(error, TRANSIENT_ERRORS):
                _logger.info(
                    "Mailbox %s: outgoing server unavailable, %s mails stay queued: %s",
                    box.id,
                    len(self),
                    error,
                )
                return
            if self._carerix_may_fall_back(box):
                _logger.info(
                    "Mailbox %s: outgoing server failed (%s), sending %s mails "
                    "through the company server",
                    box.id,
                    error,
                    len(self),
                )
                yield from self._carerix_fall_back(box)
                return
            session = error
        smtp_from = box._carerix_smtp_from()
        if not isinstance(session, Exception):
            session.carerix_from = smtp_from
        token = _OWN_SESSION.set(session)
        try:
            yield False, False, smtp_from, list(self.ids)
        finally:
            _OWN_SESSION.reset(token)
            if not isinstance(session, Exception):
                session.close()  # after Odoo's QUIT: only the socket, if left

    def _carerix_may_fall_back(self, box):
        param = self.env["ir.config_parameter"].sudo().get_param(FALLBACK_PARAM)
        return bool(param and param not in ("0", "False", "false"))

    def _carerix_fall_back(self, box):
        """Odoo's groups for these mails, sent from the owner's system address."""
        user = box.user_id
        address = user.sudo().carerix_alias_id.alias_full_name
        if address:
            self.write({"email_from": tools.formataddr((user.name or "", address))})
        yield from super()._split_by_mail_configuration()

    def _postprocess_sent_message(
        self, success_pids, failure_reason=False, failure_type=None
    ):
        """A mail the user's own server deferred (4xx, connection lost) is
        left queued for the mail queue to retry, not failed."""
        reason = _DEFERRED.get()
        if reason is None or len(self) != 1:
            return super()._postprocess_sent_message(
                success_pids, failure_reason=failure_reason, failure_type=failure_type
            )
        _DEFERRED.set(None)
        self.write({"state": "outgoing", "failure_reason": reason})
        self.env["mail.notification"].sudo().search(
            [
                ("mail_mail_id", "=", self.id),
                ("notification_type", "=", "email"),
                ("notification_status", "=", "exception"),
            ]
        ).write({"notification_status": "ready", "failure_type": False})
        return True


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def connect(self, *args, **kwargs):
        """The user's own session while his mails are sent (see
        :class:`MailMail`); the failure that prevented it, raised."""
        session = own_session()
        if session is None:
            return super().connect(*args, **kwargs)
        if isinstance(session, Exception):
            raise session
        smtp = session.smtp
        # For Odoo's _prepare_email_message: the From header stays the user's
        # address, and so does the envelope (never the company's bounce).
        smtp.smtp_from = False
        smtp.from_filter = session.carerix_from
        return smtp

    @api.model
    def send_email(self, message, *args, smtp_session=None, **kwargs):
        """Through the user's own session: sent for real, even in tests (Odoo's
        skips sending in tests; this goes to the server the user chose)."""
        session = own_session()
        if session is None or smtp_session is None or isinstance(session, Exception):
            return super().send_email(
                message, *args, smtp_session=smtp_session, **kwargs
            )
        smtp_from, smtp_to_list, message = self._prepare_email_message(
            message, smtp_session
        )
        message_id = message["Message-Id"]
        try:
            session.send(smtp_from, smtp_to_list, message)
        except SendDeferred as error:
            # Not sent, not failed: _postprocess_sent_message leaves it queued.
            mark_deferred(error.user_message(translate=self.env._))
            return None
        except MailError as error:
            raise MailDeliveryRefused(
                error.user_message(translate=self.env._)
            ) from None
        return message_id


class MailDeliveryRefused(Exception):
    """The user's server refused the mail for good."""
