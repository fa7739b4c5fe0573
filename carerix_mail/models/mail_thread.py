import email
import email.policy
import logging
import xmlrpc.client

from odoo import api, models
from odoo.tools import email_normalize, email_split

_logger = logging.getLogger(__name__)

# Headers that name the recipients of a mail arriving through the gateway (as
# in ``mail.thread.message_parse``).
RECIPIENT_HEADERS = ("Delivered-To", "To", "Cc", "Resent-To", "Resent-Cc")


def _raw_bytes(message):
    if isinstance(message, xmlrpc.client.Binary):
        return bytes(message.data)
    if isinstance(message, str):
        return message.encode("utf-8")
    return message


def _recipients(raw):
    """Normalized addresses of the recipient headers of the raw mail."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    recipients = set()
    for header in RECIPIENT_HEADERS:
        for value in parsed.get_all(header) or []:
            for address in email_split(str(value)):
                normalized = email_normalize(address)
                if normalized:
                    recipients.add(normalized)
    return recipients


class MailThread(models.AbstractModel):  # pylint: disable=consider-merging-classes-inherited
    """The personal system address (incoming) and the From / Reply-To of mail
    a user sends from Odoo (outgoing)."""

    _inherit = "mail.thread"

    # ------------------------------------------------------------------
    # Incoming: the personal system address
    # ------------------------------------------------------------------
    @api.model
    def message_process(
        self,
        model,
        message,
        custom_values=None,
        save_original=False,
        strip_attachments=False,
        thread_id=None,
    ):
        """Mail to a user's personal system address is archived in his own
        mailbox exactly like fetched mail (same matching, owner, dedup and
        confidentiality), not routed by Odoo's gateway: its loop detector,
        bounces and global Message-ID check do not apply to it. Recipients on
        other aliases of the same mail still go through the standard routing.
        """
        raw = _raw_bytes(message)
        recipients = (
            _recipients(raw) if isinstance(raw, bytes) and not thread_id else set()
        )
        owners = self.env["res.users"]._carerix_users_for_addresses(recipients)
        if not owners:
            return super().message_process(
                model,
                message,
                custom_values,
                save_original,
                strip_attachments,
                thread_id,
            )
        personal = set(owners.sudo().mapped("carerix_alias_id.alias_full_name"))
        result = self._carerix_route_others(
            model,
            raw,
            recipients - personal,
            custom_values,
            save_original,
            strip_attachments,
        )
        Archive = self.env["carerix.mailbox.message"]
        for owner in owners:
            mailbox = owner._carerix_mailbox(create=True)
            with self.env.cr.savepoint():
                entry = Archive._archive_raw(mailbox, raw, direction="incoming")
            result = result or entry.id
        return result

    @api.model
    def _carerix_route_others(
        self, model, raw, others, custom_values, save_original, strip_attachments
    ):
        """Route ``raw`` through Odoo's gateway when one of ``others`` (its
        recipients but the personal system addresses) has a route of its own.
        Returns what Odoo's ``message_process`` returned, or False."""
        if not others or not self._carerix_has_other_route(others):
            return False
        try:
            return super(
                MailThread, self.with_context(carerix_skip_personal_aliases=True)
            ).message_process(
                model, raw, custom_values, save_original, strip_attachments
            )
        except ValueError:
            _logger.info(
                "Mail to a personal system address: no route for the other "
                "recipients %s",
                sorted(others),
            )
            return False

    @api.model
    def _carerix_has_other_route(self, emails):
        """Whether ``emails`` holds an address Odoo's gateway routes itself
        (another alias or a catchall)."""
        if (
            self.env["mail.alias"]
            .sudo()
            .search_count([("alias_full_name", "in", list(emails))], limit=1)
        ):
            return True
        catchalls = set(
            self.env["mail.alias.domain"].sudo().search([]).mapped("catchall_email")
        )
        return bool(catchalls & set(emails))

    @api.model
    def message_route(
        self, message, message_dict, model=None, thread_id=None, custom_values=None
    ):
        routes = super().message_route(
            message, message_dict, model, thread_id, custom_values
        )
        if self.env.context.get("carerix_skip_personal_aliases"):
            personal = (
                self.env["res.users"]
                .sudo()
                .search([("carerix_alias_id", "!=", False)])
                .carerix_alias_id
            )
            routes = [
                route
                for route in routes
                if not (len(route) > 4 and route[4] and route[4] in personal)
            ]
        return routes

    # ------------------------------------------------------------------
    # Outgoing: From and Reply-To
    # ------------------------------------------------------------------
    def _message_compute_author(
        self, author_id=None, email_from=None, raise_on_email=True
    ):
        """A user posting as himself sends from his *Outgoing From address*,
        else from his personal system address."""
        user = self.env.user
        default_from = email_from is None or email_from == user.email_formatted
        author_id, email_from = super()._message_compute_author(
            author_id=author_id, email_from=email_from, raise_on_email=raise_on_email
        )
        if (
            default_from
            and author_id == user.partner_id.id
            and user._carerix_sends_as_recruiter()
        ):
            email_from = user._carerix_email_from_formatted() or email_from
        return author_id, email_from

    def _notify_get_reply_to(self, default=None):
        """Replies to a user's mail go to the address he sent from: his own
        mailbox (synced) or his system address; both archive the reply on the
        record it answers."""
        result = super()._notify_get_reply_to(default=default)
        user = self.env.user
        if (
            default
            and user._carerix_sends_as_recruiter()
            and default == user._carerix_email_from_formatted()
        ):
            return dict.fromkeys(result, default)
        return result
