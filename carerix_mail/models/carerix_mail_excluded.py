"""Excluded addresses: mail that is never archived on records.

A company list (Settings) and a personal list (the user's Email settings) of
addresses (``noreply@bank.example``) and whole domains (``bank.example`` or
``@bank.example``; a domain covers its subdomains, ``mail.bank.example``).
With the company setting *Do not archive mail between colleagues* (on by
default) the addresses of internal users, their mailboxes' addresses and every
alias domain of the database count as excluded too.

The rule, applied per mail by the archive pipeline
(:meth:`CarerixMailboxMessage._carerix_excluded_for`):

* the counterparts of a mail are the addresses of From, To and Cc that are not
  the owner's own (incoming and outgoing alike);
* an excluded counterpart is never archived on: no copy on its contact, its
  candidate or their applications;
* a mail whose counterparts are all excluded, one of them by a list, is
  archived on nothing at all (not on the records it replies to either): its
  entry stays in the owner's *My mail* with the state *Excluded*;
* a mail exchanged with colleagues only goes to the record it replies to (a
  colleague's answer in a candidate's conversation stays on the candidate),
  and is *Excluded* when it replies to nothing;
* a mail with one excluded and one other counterpart is archived on the
  other one's records as usual.

The lists are read once per archive batch
(:meth:`CarerixMailboxMessage._carerix_archive_lookup`).
"""

import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine.message import normalize_email

_SEPARATORS = re.compile(r"[\s,;]+")


def normalize_domain(value):
    """``value`` as a domain the way mail addresses are normalized (lower
    case, punycode decoded), or None when it is not a domain with a dot."""
    value = (value or "").strip().lstrip("@").rstrip(".")
    if "." not in value:
        return None
    email = normalize_email("x@" + value)
    return email and email.partition("@")[2]


def parse_excluded(text):
    """``(addresses, domains, invalid)`` of the list ``text``: entries
    separated by new lines, spaces, commas or semicolons; an entry with a
    local part is an address, one without (``bank.example``,
    ``@bank.example``) a domain."""
    addresses, domains, invalid = set(), set(), []
    for entry in _SEPARATORS.split(text or ""):
        if not entry:
            continue
        if "@" in entry.lstrip("@"):
            address = normalize_email(entry)
            if address:
                addresses.add(address)
                continue
        else:
            domain = normalize_domain(entry)
            if domain:
                domains.add(domain)
                continue
        invalid.append(entry)
    return addresses, domains, invalid


def clean_excluded(text):
    """The list ``text`` normalized (one entry per line, addresses first, in
    order), or a translated :class:`ValidationError` naming the entries that
    are neither an address nor a domain."""
    addresses, domains, invalid = parse_excluded(text)
    if invalid:
        raise ValidationError(
            _(
                "These excluded addresses are not valid: %(entries)s. Enter one "
                "email address (name@example.com) or one domain (example.com) "
                "per line.",
                entries=", ".join(invalid),
            )
        )
    return "\n".join(sorted(addresses) + sorted(domains)) or False


def is_excluded(email, addresses, domains):
    """Whether ``email`` (normalized) is in ``addresses`` or at one of
    ``domains`` or a subdomain of one."""
    if email in addresses:
        return True
    domain = email.rpartition("@")[2]
    while domain:
        if domain in domains:
            return True
        domain = domain.partition(".")[2]
    return False


class ExcludedList:
    """Addresses and domains whose mail is not archived, for one batch.
    ``colleagues`` holds the colleagues' addresses and domains (another
    :class:`ExcludedList`, empty when the company setting is off): mail with
    colleagues only still goes to the record it replies to."""

    def __init__(self, colleagues=True):
        self.addresses = set()
        self.domains = set()
        self.colleagues = ExcludedList(colleagues=False) if colleagues else None

    def add(self, text):
        addresses, domains, _invalid = parse_excluded(text)
        self.addresses |= addresses
        self.domains |= domains

    def __contains__(self, email):
        return self.listed(email) or bool(self.colleagues and email in self.colleagues)

    def listed(self, email):
        """Whether ``email`` is on the lists themselves (not a colleague's)."""
        return is_excluded(email, self.addresses, self.domains)


class ResCompany(models.Model):
    _inherit = "res.company"

    carerix_excluded_addresses = fields.Text(
        "Excluded addresses",
        help="Mail with these addresses and domains (one per line, e.g. "
        "noreply@bank.example or bank.example, which covers its subdomains) "
        "is never archived on contacts, candidates or applications. It stays "
        "in its owner's My mail, marked Excluded.",
    )
    carerix_exclude_colleagues = fields.Boolean(
        "Do not archive mail between colleagues",
        default=True,
        help="Mail exchanged only with colleagues (internal users, their "
        "mailbox and system addresses, the alias domains) is not archived on "
        "records. It stays in its owner's My mail, marked Excluded.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("carerix_excluded_addresses"):
                vals["carerix_excluded_addresses"] = clean_excluded(
                    vals["carerix_excluded_addresses"]
                )
        return super().create(vals_list)

    def write(self, vals):
        if "carerix_excluded_addresses" in vals:
            vals = dict(
                vals,
                carerix_excluded_addresses=clean_excluded(
                    vals["carerix_excluded_addresses"]
                ),
            )
        return super().write(vals)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    carerix_excluded_addresses = fields.Text(
        related="company_id.carerix_excluded_addresses", readonly=False
    )
    carerix_exclude_colleagues = fields.Boolean(
        related="company_id.carerix_exclude_colleagues", readonly=False
    )


class CarerixMailbox(models.Model):
    _inherit = "carerix.mailbox"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("excluded_addresses"):
                vals["excluded_addresses"] = clean_excluded(vals["excluded_addresses"])
        return super().create(vals_list)

    def write(self, vals):
        if "excluded_addresses" in vals:
            vals = dict(
                vals, excluded_addresses=clean_excluded(vals["excluded_addresses"])
            )
        return super().write(vals)


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    state = fields.Selection(
        selection_add=[("excluded", "Excluded")],
        ondelete={"excluded": "set default"},
    )

    @api.model
    def _carerix_archive_lookup(self, batch, infos):
        """Read the excluded addresses first: the lookup and its extensions
        ask :meth:`_carerix_counterpart_emails`, which leaves them out."""
        batch.excluded = self._carerix_excluded_list(batch)
        return super()._carerix_archive_lookup(batch, infos)

    @api.model
    def _carerix_excluded_list(self, batch):
        """The :class:`ExcludedList` of the owner of ``batch``: his company's
        list, his own, and his colleagues' addresses when his company says
        so. Extension point."""
        excluded = ExcludedList()
        company = batch.owner.sudo().company_id
        excluded.add(company.carerix_excluded_addresses)
        excluded.add(batch.mailbox.sudo().excluded_addresses)
        if company.carerix_exclude_colleagues:
            self._carerix_add_colleagues(excluded.colleagues)
        return excluded

    @api.model
    def _carerix_add_colleagues(self, excluded):
        """Add the addresses of internal users (their own, their mailboxes'
        login and From address) and the alias domains to ``excluded``."""
        users = (
            self.env["res.users"]
            .sudo()
            .search_fetch([("share", "=", False)], ["email_normalized"])
        )
        excluded.addresses.update(
            normalize_email(email) for email in users.mapped("email_normalized")
        )
        for box in (
            self.env["carerix.mailbox"]
            .sudo()
            .search_fetch([("user_id", "in", users.ids)], ["login", "from_address"])
        ):
            excluded.addresses.update(
                (normalize_email(box.login), normalize_email(box.from_address))
            )
        excluded.addresses.discard(None)
        for alias_domain in (
            self.env["mail.alias.domain"].sudo().search_fetch([], ["name"])
        ):
            domain = normalize_domain(alias_domain.name)
            if domain:
                excluded.domains.add(domain)

    @api.model
    def _carerix_counterpart_emails(self, batch, info):
        """Without the excluded addresses: never archived on."""
        emails = super()._carerix_counterpart_emails(batch, info)
        excluded = getattr(batch, "excluded", None)
        if not excluded:
            return emails
        return {email for email in emails if email not in excluded}

    @api.model
    def _carerix_excluded_for(self, batch, info):
        """Whether ``info`` has counterparts (From, To, Cc but the owner's own
        addresses) and all are excluded: ``"listed"`` when one of them is on
        a list (the mail is archived on nothing), ``"colleagues"`` when all
        are colleagues (it still goes to the record it replies to, never to
        the colleagues' partners), else False."""
        excluded = getattr(batch, "excluded", None)
        counterparts = {
            address.email
            for address in info.from_ + info.to + info.cc
            if address.email and address.email not in batch.own_emails
        }
        if not (excluded and counterparts):
            return False
        if not all(email in excluded for email in counterparts):
            return False
        if any(excluded.listed(email) for email in counterparts):
            return "listed"
        return "colleagues"
