"""The personal system address of a user and the From address he sends with.

Kept apart from ``res_users.py`` (mailbox settings): this file extends
``res.users`` with the user's alias on the company's alias domain.
"""

import logging

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import formataddr

_logger = logging.getLogger(__name__)

# The mailbox settings that decide how a user sends (see
# ResUsers._carerix_sender_flags, cached).
SENDER_FIELDS = frozenset(
    (
        "user_id",
        "host",
        "from_address",
        "outgoing_confidential",
        "smtp_mode",
        "smtp_host",
    )
)


class ResUsers(models.Model):  # pylint: disable=consider-merging-classes-inherited
    _inherit = "res.users"

    carerix_alias_id = fields.Many2one(
        "mail.alias",
        "Personal system address alias",
        ondelete="set null",
        copy=False,
        readonly=True,
        groups="base.group_system",
    )
    carerix_system_address = fields.Char(
        "Personal system address",
        compute="_compute_carerix_system_address",
        help="Mail sent to this address is archived in your own mailbox, like "
        "mail fetched from your mail server.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["carerix_system_address"]

    def _compute_carerix_system_address(self):
        for user in self:
            user.carerix_system_address = user.sudo().carerix_alias_id.alias_full_name

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        users._carerix_ensure_system_address()
        return users

    # ------------------------------------------------------------------
    # Personal system address
    # ------------------------------------------------------------------
    @api.model
    def _carerix_create_system_addresses(self):
        """Give every internal user his personal system address (install,
        upgrade, and when a company gets an alias domain)."""
        users = (
            self.sudo().with_context(active_test=False).search([("share", "=", False)])
        )
        users._carerix_ensure_system_address()

    def _carerix_ensure_system_address(self):
        """Create the missing personal aliases of these users, on the alias
        domain of their company. Users of a company without an alias domain are
        left without one (see :meth:`_carerix_email_from`)."""
        Alias = self.env["mail.alias"].sudo()
        model = self.env["ir.model"]._get("carerix.mailbox.message")
        parent_model = self.env["ir.model"]._get("res.users")
        for user in self.sudo():
            if user.share or user.id == self.env.ref("base.user_root").id:
                continue
            domain = user.company_id.alias_domain_id
            if not domain or (
                user.carerix_alias_id and user.carerix_alias_id.alias_domain_id
            ):
                continue
            name = user._carerix_free_alias_name(domain)
            if user.carerix_alias_id:
                user.carerix_alias_id.write(
                    {"alias_name": name, "alias_domain_id": domain.id}
                )
                continue
            user.carerix_alias_id = Alias.create(
                {
                    "alias_name": name,
                    "alias_domain_id": domain.id,
                    "alias_model_id": model.id,
                    "alias_parent_model_id": parent_model.id,
                    "alias_parent_thread_id": user.id,
                    "alias_contact": "everyone",
                }
            )

    def _carerix_free_alias_name(self, domain):
        """``john`` from the login (or name), made unique on ``domain``:
        ``john``, ``john2``, ``john3``, …"""
        self.ensure_one()
        Alias = self.env["mail.alias"].sudo()
        base = Alias._sanitize_alias_name(self.login) or Alias._sanitize_alias_name(
            self.name
        )
        base = base or f"user{self.id}"
        reserved = {domain.bounce_alias, domain.catchall_alias}
        reserved.add((domain.default_from or "").partition("@")[0])
        candidate, number = base, 1
        while candidate in reserved or Alias.search_count(
            [("alias_name", "=", candidate), ("alias_domain_id", "=", domain.id)]
        ):
            number += 1
            candidate = f"{base}{number}"
        return candidate

    @api.model
    def _carerix_users_for_addresses(self, emails):
        """The users whose personal system address is one of ``emails``
        (normalized addresses)."""
        if not emails:
            return self.browse()
        aliases = (
            self.env["mail.alias"]
            .sudo()
            .search([("alias_full_name", "in", list(emails))])
        )
        if not aliases:
            return self.browse()
        return (
            self.sudo()
            .with_context(active_test=False)
            .search([("carerix_alias_id", "in", aliases.ids)])
        )

    # ------------------------------------------------------------------
    # From address
    # ------------------------------------------------------------------
    @tools.ormcache("self.id")
    def _carerix_sender_flags(self):
        """``(uses his mailbox, outgoing mail confidential by default)``.

        Asked for every mail Odoo sends or posts, so cached: Odoo's own mail
        flows pay no query for it. ``carerix.mailbox`` clears the cache when
        one of :data:`SENDER_FIELDS` changes."""
        box = self.sudo()._carerix_mailbox()
        return (
            bool(box and (box.from_address or box.host)),
            bool(box and box.outgoing_confidential),
        )

    @api.model
    @tools.ormcache()
    def _carerix_recruiter_partners(self):
        """``{partner id: user id}`` of the internal users who use their
        mailbox: whose mail sent from Odoo is archived for them. Cached like
        :meth:`_carerix_sender_flags`."""
        boxes = (
            self.env["carerix.mailbox"]
            .sudo()
            .search(
                [
                    ("user_id.share", "=", False),
                    "|",
                    ("host", "!=", False),
                    ("from_address", "!=", False),
                ]
            )
        )
        return {box.user_id.partner_id.id: box.user_id.id for box in boxes}

    @api.model
    @tools.ormcache()
    def _carerix_own_smtp_senders(self):
        """``{partner id: mailbox id}`` of the users who send through their own
        outgoing server. Cached like :meth:`_carerix_sender_flags`; asked only
        when some user uses his mailbox."""
        boxes = (
            self.env["carerix.mailbox"]
            .sudo()
            .search(
                [
                    ("user_id.share", "=", False),
                    ("smtp_mode", "=", "own"),
                    ("smtp_host", "!=", False),
                ]
            )
        )
        return {box.user_id.partner_id.id: box.id for box in boxes}

    def _carerix_sends_as_recruiter(self):
        """Whether this user sends with carerix_mail's From address: he uses his
        mailbox (a mail server or an Outgoing From address is set). Other users
        keep Odoo's own From and Reply-To."""
        self.ensure_one()
        return not self.share and self._carerix_sender_flags()[0]

    def _carerix_sends_confidential_mail(self):
        """Whether the rules of confidential mail apply to mail this user sends
        from Odoo: he uses his mailbox, or asked for his outgoing mail to be
        confidential by default. Other users keep Odoo's behaviour."""
        self.ensure_one()
        return not self.share and any(self._carerix_sender_flags())

    def _carerix_email_from(self, raise_if_missing=False):
        """The address this user sends with: his *Outgoing From address*, else
        his personal system address, else (no alias domain) nothing, or a
        :class:`UserError` telling what to configure."""
        self.ensure_one()
        user = self.sudo()
        box = user._carerix_mailbox()
        address = (box.from_address or "").strip()
        if not address and box.smtp_mode == "own":
            address = box._carerix_smtp_from()  # his own server sends as him
        if not address:
            address = user.carerix_alias_id.alias_full_name or ""
            if not address and user.company_id.alias_domain_id:
                # A domain configured after the user was created.
                user._carerix_ensure_system_address()
                address = user.carerix_alias_id.alias_full_name or ""
        if not address and raise_if_missing:
            raise UserError(
                _(
                    "%(user)s has no address to send from: fill in the Outgoing "
                    "From address on his Email settings, or ask an administrator "
                    "to set an Alias Domain for %(company)s in Settings > General "
                    "Settings > Discuss (each user then gets a personal system "
                    "address on it).",
                    user=user.name,
                    company=user.company_id.name,
                )
            )
        return address

    def _carerix_email_from_formatted(self):
        """``"John Smith" <john@…>``, or ``False`` when there is no address."""
        self.ensure_one()
        address = self._carerix_email_from()
        return formataddr((self.name or "", address)) if address else False
