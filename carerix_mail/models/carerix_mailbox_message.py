import base64
import datetime
import hashlib
import logging
import uuid
from collections import defaultdict
from email.utils import parseaddr

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.tools import SQL, formataddr, plaintext2html

from ..engine.message import parse_headers, safe_parse
from .ir_default import defaults_once
from .mail_message import sanitize_once, subject_is_confidential

_logger = logging.getLogger(__name__)


def _utc_naive(value):
    """A datetime as Odoo stores it: naive UTC."""
    if not value:
        return False
    if value.tzinfo:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def _server_dedup_key(server_id, size):
    """Dedup key of a message whose content was not fetched: where it is on the
    server (IMAP folder, UIDVALIDITY and UID, or POP3 UIDL) and its size.
    Without ``server_id`` nothing identifies it, so it gets a key of its own:
    two such messages are never taken for one."""
    if not server_id:
        return "server:" + uuid.uuid4().hex
    identity = "%s\n%s" % (server_id, size or 0)
    return "server:" + hashlib.sha256(identity.encode()).hexdigest()


def _storable(text):
    """``text`` as any text column holds it: without NUL or unpaired surrogate."""
    if not text:
        return text
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _format_addresses(addresses):
    """Addresses as a header value that parses back to exactly ``addresses``:
    a display name is quoted with its quotes and backslashes escaped."""
    return ", ".join(
        formataddr((_storable(a.name), _storable(a.email))) for a in addresses
    )


class ArchiveLookup:
    """What archiving a batch of mails reads from the database, read once per
    batch instead of once per mail (see
    :meth:`CarerixMailboxMessage._carerix_archive_lookup`).

    Mails archived earlier in the same batch are added as the batch goes
    (:meth:`CarerixMailboxMessage._carerix_lookup_add`), so a reply finds the
    records and the privacy of a mail a few messages before it. Extensions
    keep their own batch data in ``extra``.
    """

    def __init__(self, own_emails):
        self.own_emails = own_emails
        # normalized email -> ids of partners without a user; their order in
        # res.partner's order, and the employer (company) of each
        self.partners = {}
        self.partner_rank = {}
        self.employers = {}
        # normalized email -> id of the first partner (any) in partner order
        self.authors = {}
        # normalized emails of partners whose incoming mail is confidential
        self.confidential_senders = set()
        # "<Message-ID>" -> {(model, res_id)} the mail is archived on
        self.parents = defaultdict(set)
        # "<Message-ID>" of private mail, any owner
        self.private_refs = set()
        self.extra = {}


class CarerixMailboxMessage(models.Model):
    """One synced mail of one owner: the entry of his *My mail* list.

    The mail itself is archived as ``mail.message`` copies: one in this
    record's chatter (the owner's mailbox copy) and one on every matching
    record (partners, their employer, the record a reply belongs to).
    Deduplication is per owner, on the engine's dedup key (Message-ID and a
    content hash), so a forged Message-ID never hides the real mail.
    """

    _name = "carerix.mailbox.message"
    _description = "Synced mail"
    _inherit = ["mail.thread"]
    _order = "date desc, id desc"
    _rec_name = "subject"
    _mail_post_access = "read"

    owner_id = fields.Many2one("res.users", required=True, index=True, readonly=True)
    mailbox_id = fields.Many2one("carerix.mailbox", ondelete="set null", readonly=True)
    dedup_key = fields.Char(required=True, readonly=True)
    message_id_header = fields.Char("Message-ID", index=True, readonly=True)
    subject = fields.Char(readonly=True)
    email_from = fields.Char("From", readonly=True)
    email_to = fields.Char("To", readonly=True)
    email_cc = fields.Char("Cc", readonly=True)
    date = fields.Datetime(readonly=True, index=True)
    direction = fields.Selection(
        [("incoming", "Incoming"), ("outgoing", "Outgoing")],
        required=True,
        default="incoming",
        readonly=True,
    )
    folder = fields.Char(readonly=True)
    state = fields.Selection(
        [
            ("matched", "Archived"),
            ("unmatched", "No matching partner"),
            ("raw", "Stored raw"),
        ],
        required=True,
        default="unmatched",
        readonly=True,
    )
    error = fields.Text("Why it was stored raw", readonly=True)
    partner_ids = fields.Many2many("res.partner", string="Archived on", readonly=True)
    copy_ids = fields.One2many(
        "mail.message", "carerix_mailbox_message_id", "Archived copies", readonly=True
    )
    confidential = fields.Boolean(readonly=True)

    _sql_constraints = [
        (
            "owner_dedup_uniq",
            "unique(owner_id, dedup_key)",
            "A mail is archived once per owner.",
        )
    ]

    # ------------------------------------------------------------------
    # Archiving
    # ------------------------------------------------------------------
    @api.model
    def _archive_raw(self, mailbox, raw, direction="incoming", folder="", **meta):
        """Archive one raw message for the owner of ``mailbox``.

        Returns the new entry, or an empty recordset when the owner already
        has this mail. See :meth:`_archive_batch`.
        """
        return self._archive_batch(
            mailbox, [(raw, meta)], direction=direction, folder=folder
        )[0]

    @api.model
    def _archive_batch(self, mailbox, items, direction="incoming", folder=""):
        """Archive raw messages for the owner of ``mailbox``, in bulk.

        ``items`` is a list of ``(raw, meta)``; ``meta`` may say ``oversize``
        and ``size``. Returns one result per item, in order: the new entry, or
        an empty recordset when the owner already has the mail. A message that
        cannot be parsed (or is too large) is stored raw with the reason,
        never dropped. What the batch needs from the database is read once
        (:meth:`_carerix_archive_lookup`) and the records are created with one
        ``create`` per model, which is what makes a sync fast; the result is
        the same as archiving the messages one by one, in order. An unexpected
        error raises: the caller then archives the batch message by message.
        Extension points: :meth:`_archive_targets` to archive on more records,
        :meth:`_carerix_confidential_for` for the privacy rules.
        """
        results = [self.browse()] * len(items)
        owner = mailbox.user_id
        parsed_items = []
        for index, (raw, meta) in enumerate(items):
            if raw is None or meta.get("oversize"):
                results[index] = self._store_raw_only(
                    mailbox,
                    None,
                    direction=direction,
                    folder=folder,
                    reason=_(
                        "The message is larger than the limit (%(size)s bytes); "
                        "it stays on the mail server.",
                        size=meta.get("size") or 0,
                    ),
                    server_id=meta.get("server_id"),
                    size=meta.get("size"),
                )
            else:
                parsed_items.append((index, raw, safe_parse(raw)))
        if not parsed_items:
            return results
        seen = set(
            self.sudo()
            .search_fetch(
                [
                    ("owner_id", "=", owner.id),
                    (
                        "dedup_key",
                        "in",
                        [p.info.dedup_key for _i, _r, p in parsed_items],
                    ),
                ],
                ["dedup_key"],
            )
            .mapped("dedup_key")
        )
        todo = []
        for index, raw, parsed in parsed_items:
            if parsed.info.dedup_key in seen:
                continue
            seen.add(parsed.info.dedup_key)
            if parsed.raw_fallback_reason:
                results[index] = self._store_raw_only(
                    mailbox,
                    raw,
                    direction=direction,
                    folder=folder,
                    reason=parsed.raw_fallback_reason,
                    info=parsed.info,
                )
            else:
                todo.append((index, parsed))
        if not todo:
            return results
        lookup = self._carerix_archive_lookup(
            mailbox, [parsed.info for _index, parsed in todo], direction
        )
        this = self.with_context(carerix_archive_lookup=lookup)
        vals_list, archived = [], []
        for _index, parsed in todo:
            info = parsed.info
            targets = this._archive_targets(mailbox, info, direction)
            partners = targets.get("res.partner", self.env["res.partner"])
            confidential = this._carerix_confidential_for(
                mailbox, info, direction, targets
            )
            this._carerix_lookup_add(lookup, info, targets, confidential)
            vals = {
                "owner_id": owner.id,
                "mailbox_id": mailbox.id,
                "dedup_key": info.dedup_key,
                "message_id_header": info.message_id,
                "subject": info.subject,
                "email_from": _format_addresses(info.from_),
                "email_to": _format_addresses(info.to),
                "email_cc": _format_addresses(info.cc),
                "date": _utc_naive(info.date) or fields.Datetime.now(),
                "direction": direction,
                "folder": folder,
                "state": "matched" if targets else "unmatched",
                "confidential": confidential,
            }
            if partners:
                vals["partner_ids"] = [Command.set(partners.ids)]
            vals_list.append(vals)
            archived.append((parsed, targets))
        # No creation message, followers or tracking on the entries: the
        # archive copies below are their chatter.
        with defaults_once():
            entries = (
                self.sudo()
                .with_context(tracking_disable=True)
                .create(vals_list)
                .with_env(self.sudo().env)
            )
            entries.with_context(carerix_archive_lookup=lookup)._post_copies(
                mailbox, archived, direction
            )
        for (index, _parsed), entry in zip(todo, entries, strict=True):
            results[index] = entry
        return results

    @api.model
    def _carerix_lookup(self, mailbox, info, direction):
        """The :class:`ArchiveLookup` of the batch being archived, or one read
        for ``info`` alone when called outside a batch."""
        lookup = self.env.context.get("carerix_archive_lookup")
        if lookup is None:
            lookup = self._carerix_archive_lookup(mailbox, [info], direction)
        return lookup

    @api.model
    def _carerix_archive_lookup(self, mailbox, infos, direction):
        """Read once what archiving the mails ``infos`` needs: the partners of
        their addresses (with their employers), the records the mails reply
        to and which of those conversations are private. Extension point:
        add to the returned :class:`ArchiveLookup` (its ``extra``)."""
        lookup = ArchiveLookup(self._carerix_own_emails(mailbox))
        Partner = self.env["res.partner"].sudo()
        emails = set()
        senders = set()
        references = set()
        for info in infos:
            emails |= self._carerix_counterpart_emails(mailbox, info, lookup)
            senders.update(a.email for a in info.from_ if a.email)
            references.update(
                f"<{ref}>" for ref in (*info.in_reply_to, *info.references)
            )
        if emails:
            partners = Partner.search_fetch(
                [("email_normalized", "in", list(emails)), ("user_ids", "=", False)],
                ["email_normalized", "commercial_partner_id"],
            )
            companies = set(partners.commercial_partner_id.filtered("is_company").ids)
            for rank, partner in enumerate(partners):
                lookup.partners.setdefault(partner.email_normalized, []).append(
                    partner.id
                )
                lookup.partner_rank[partner.id] = rank
                if partner.commercial_partner_id.id in companies:
                    lookup.employers[partner.id] = partner.commercial_partner_id.id
        if senders:
            # In res.partner's order, so the author is the one a search picks.
            for partner in Partner.search_fetch(
                [("email_normalized", "in", list(senders))],
                ["email_normalized", "carerix_incoming_confidential"],
            ):
                lookup.authors.setdefault(partner.email_normalized, partner.id)
                if partner.carerix_incoming_confidential:
                    lookup.confidential_senders.add(partner.email_normalized)
        if references:
            refs = list(references)
            parents = (
                self.env["mail.message"]
                .sudo()
                .search_fetch(
                    [
                        ("message_id", "in", refs),
                        ("model", "!=", False),
                        ("model", "!=", self._name),
                        ("res_id", "!=", False),
                    ],
                    ["message_id", "model", "res_id"],
                )
            )
            by_model = defaultdict(set)
            for parent in parents:
                if parent.model in self.env:
                    by_model[parent.model].add(parent.res_id)
            existing = {
                (model, record_id)
                for model, ids in by_model.items()
                for record_id in self.env[model].sudo().browse(ids).exists().ids
            }
            for parent in parents:
                if (parent.model, parent.res_id) in existing:
                    lookup.parents[parent.message_id].add((parent.model, parent.res_id))
            lookup.private_refs.update(
                self.env["mail.message"]._carerix_private_for(refs).mapped("message_id")
            )
            lookup.private_refs.update(
                f"<{ref}>"
                for ref in self.sudo()
                .search_fetch(
                    [
                        ("message_id_header", "in", [r[1:-1] for r in refs]),
                        ("confidential", "=", True),
                    ],
                    ["message_id_header"],
                )
                .mapped("message_id_header")
            )
        return lookup

    @api.model
    def _carerix_lookup_add(self, lookup, info, targets, confidential):
        """Record a mail of the batch in ``lookup``, for the mails after it."""
        if not info.message_id:
            return
        ref = f"<{info.message_id}>"
        for model, records in targets.items():
            lookup.parents[ref].update((model, record_id) for record_id in records.ids)
        if confidential:
            lookup.private_refs.add(ref)

    @api.model
    def _carerix_confidential_for(self, mailbox, info, direction, targets):
        """Whether a mail is private to the owner of ``mailbox``, by the rules
        of confidential mail (any one suffices):

        * the subject contains "confidential" or "vertrouwelijk"
          (case-insensitive, also behind Re: / Fwd: / AW: / Antw: prefixes),
          as for mail sent from Odoo;
        * it replies (In-Reply-To / References) to a private message of any
          owner, whatever mailbox it arrives through: a conversation stays
          private;
        * incoming: the sender is a partner marked *Incoming email from this
          person confidential by default*;
        * the owner has *Incoming* (fetched mail) or *Outgoing* (Sent folder)
          *email confidential by default*.

        ``targets`` (``{model: records}``) is what the mail is archived on.
        """
        lookup = self._carerix_lookup(mailbox, info, direction)
        if subject_is_confidential(info.subject):
            return True
        if any(
            f"<{ref}>" in lookup.private_refs
            for ref in (*info.in_reply_to, *info.references)
        ):
            return True
        if direction == "incoming":
            if any(a.email in lookup.confidential_senders for a in info.from_):
                return True
            return bool(mailbox.incoming_confidential)
        return bool(mailbox.outgoing_confidential)

    @api.model
    def _carerix_own_emails(self, mailbox):
        """The owner's own addresses (never a partner to archive on).
        Extension point."""
        owner = mailbox.user_id
        return {
            email
            for email in (
                owner.email_normalized,
                (mailbox.from_address or "").strip().lower(),
                (mailbox.login or "").strip().lower(),
                owner.partner_id.email_normalized,
                (owner.sudo().carerix_system_address or "").strip().lower(),
            )
            if email
        }

    @api.model
    def _carerix_counterpart_emails(self, mailbox, info, lookup=None):
        """Normalized emails of From/To/Cc, without the owner's own ones."""
        own = lookup.own_emails if lookup else self._carerix_own_emails(mailbox)
        return {
            address.email
            for address in info.from_ + info.to + info.cc
            if address.email and address.email not in own
        }

    @api.model
    def _archive_targets(self, mailbox, info, direction):
        """Records to archive ``info`` on, as ``{model: recordset}``.

        Partners whose normalized email is in From/To/Cc (not the owner's own
        addresses, not internal users), the employer (commercial partner) of a
        matched contact, and the records the mail replies to.
        """
        lookup = self._carerix_lookup(mailbox, info, direction)
        targets = {}
        partner_ids = sorted(
            {
                partner_id
                for email in self._carerix_counterpart_emails(mailbox, info, lookup)
                for partner_id in lookup.partners.get(email, ())
            },
            key=lookup.partner_rank.get,
        )
        # the employers after the contacts, as ``partners | employers`` does
        partner_ids += [
            lookup.employers[p] for p in partner_ids if p in lookup.employers
        ]
        if partner_ids:
            targets["res.partner"] = (
                self.env["res.partner"].sudo().browse(dict.fromkeys(partner_ids))
            )
        for ref in (*info.in_reply_to, *info.references):
            for model, record_id in lookup.parents.get(f"<{ref}>", ()):
                record = self.env[model].sudo().browse(record_id)
                targets[model] = targets.get(model, record.browse()) | record
        return targets

    def _post_copies(self, mailbox, archived, direction):
        """Create the ``mail.message`` copies, attachments and notifications of
        the new entries ``self``; ``archived`` holds ``(parsed, targets)`` of
        each entry, in the same order.

        The copies are created directly (not through ``message_post``): nobody is
        emailed about fetched mail, followers are not notified, the sender is
        not subscribed, and Odoo's gateway guards (loop detector, bounces) do
        not apply. The owner gets an Inbox notification for new incoming mail;
        not for history, what the mailbox held before its first completed
        sync (context key ``carerix_mail_history``): a mailbox connected with
        years of mail must not flood the Inbox. Returns the copies, one
        recordset per entry.
        """
        owner = mailbox.user_id
        lookup = self._carerix_lookup(mailbox, archived[0][0].info, direction)
        subtype_id = self.env.ref("mail.mt_comment").id
        vals_list, spans, bodies = [], [], []
        names = self._carerix_record_names(archived)
        for entry, (parsed, targets) in zip(self, archived, strict=True):
            info = parsed.info
            body = parsed.body_html or (
                plaintext2html(parsed.body_text) if parsed.body_text else ""
            )
            if direction == "outgoing":
                author_id = owner.partner_id.id
            else:
                from_emails = [a.email for a in info.from_ if a.email]
                author_id = from_emails and lookup.authors.get(from_emails[0])
            common = {
                "message_type": "email",
                "subtype_id": subtype_id,
                "subject": info.subject or False,
                "email_from": entry.email_from or False,
                "author_id": author_id or False,
                "date": entry.date or fields.Datetime.now(),
                "message_id": f"<{info.message_id}>" if info.message_id else False,
                # Given, so that Odoo does not compute a Reply-To per copy.
                "reply_to": _format_addresses(info.reply_to or info.from_) or False,
                "carerix_owner_id": owner.id,
                "carerix_mailbox_message_id": entry.id,
                "carerix_direction": direction,
                "carerix_confidential": entry.confidential,
                "carerix_references": " ".join(
                    f"<{ref}>" for ref in (*info.in_reply_to, *info.references)
                )
                or False,
                "body": body,
            }
            bodies.append(body)
            start = len(vals_list)
            vals_list.append(
                dict(
                    common,
                    model=self._name,
                    res_id=entry.id,
                    record_name=entry.subject or False,
                )
            )
            for model, records in targets.items():
                for record in records:
                    vals_list.append(
                        dict(
                            common,
                            model=model,
                            res_id=record.id,
                            record_name=names[model, record.id],
                        )
                    )
            spans.append((start, len(vals_list)))
        with sanitize_once():
            created = self.env["mail.message"].sudo().create(vals_list)
        copies = [created[start:end] for start, end in spans]
        attachment_vals = []
        for entry_copies, (parsed, _targets) in zip(copies, archived, strict=True):
            if parsed.attachments:
                anchor = entry_copies[1] if len(entry_copies) > 1 else entry_copies[0]
                attachment_vals.extend(
                    self._carerix_attachment_vals(parsed.attachments, anchor)
                )
        if attachment_vals:
            attachments = iter(self.env["ir.attachment"].sudo().create(attachment_vals))
            links = [
                (
                    entry_copies,
                    parsed,
                    self.env["ir.attachment"]
                    .sudo()
                    .browse([next(attachments).id for _att in parsed.attachments]),
                    body,
                )
                for entry_copies, (parsed, _targets), body in zip(
                    copies, archived, bodies, strict=True
                )
                if parsed.attachments
            ]
            self._carerix_link_attachments(links)
        history = self.env.context.get("carerix_mail_history")
        if direction == "incoming" and copies and not history:
            self.env["mail.notification"].sudo().create(
                [
                    {
                        "mail_message_id": entry_copies[0].id,
                        "res_partner_id": owner.partner_id.id,
                        "notification_type": "inbox",
                        "is_read": False,
                    }
                    for entry_copies in copies
                ]
            )
        return copies

    @api.model
    def _carerix_record_names(self, archived):
        """``{(model, id): display name}`` of the records mails are archived on,
        read in one go per model (Odoo would read them one copy at a time)."""
        ids_by_model = defaultdict(set)
        for _parsed, targets in archived:
            for model, records in targets.items():
                ids_by_model[model].update(records.ids)
        names = {}
        for model, ids in ids_by_model.items():
            for record in self.env[model].sudo().browse(ids):
                names[model, record.id] = record.display_name
        return names

    @api.model
    def _carerix_link_attachments(self, links):
        """Put the attachments of each mail on all its copies and point the
        ``cid:`` images of its body at them; ``links`` holds ``(copies,
        parsed, attachments, body)`` per mail.

        The relation rows of the whole batch are inserted in one statement:
        an ORM write per mail (with mail.message's write checks) cost ~5% of a
        first sync, and these messages and attachments were just created by
        this transaction. The attachments already point at one of the copies
        (:meth:`_carerix_attachment_vals`), which is all that writing them on
        a private message would add (``_carerix_protect_attachments``).
        """
        Message = self.env["mail.message"].sudo()
        field = Message._fields["attachment_ids"]
        rows = [
            SQL("(%s, %s)", message_id, attachment_id)
            for copies, _parsed, attachments, _body in links
            for message_id in copies.ids
            for attachment_id in attachments.ids
        ]
        if not rows:
            return
        messages = Message.browse(
            {message_id for copies, *_rest in links for message_id in copies.ids}
        )
        messages.modified(["attachment_ids"])
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s, %s) VALUES %s ON CONFLICT DO NOTHING",
                SQL.identifier(field.relation),
                SQL.identifier(field.column1),
                SQL.identifier(field.column2),
                SQL(", ").join(rows),
            )
        )
        messages.invalidate_recordset(["attachment_ids"])
        for copies, parsed, attachments, body in links:
            cid_map = {
                att.content_id: record
                for att, record in zip(parsed.attachments, attachments, strict=True)
                if att.content_id
            }
            if cid_map and body:
                new_body = str(body)
                for cid, record in cid_map.items():
                    new_body = new_body.replace(f"cid:{cid}", f"/web/image/{record.id}")
                copies.write({"body": Markup(new_body)})

    @api.model
    def _carerix_attachment_vals(self, parsed_attachments, anchor):
        """Attachments point at ``anchor`` (a mail.message), so the access to
        that message decides who can open them."""
        return [
            {
                "name": att.filename or _("attachment-%(n)s", n=index + 1),
                "raw": att.data,
                "mimetype": att.content_type or "application/octet-stream",
                "res_model": "mail.message",
                "res_id": anchor.id,
            }
            for index, att in enumerate(parsed_attachments)
        ]

    @api.model
    def _store_raw_only(
        self,
        mailbox,
        raw,
        direction="incoming",
        folder="",
        reason="",
        info=None,
        server_id=None,
        size=None,
    ):
        """Keep a message that could not be archived normally: the raw ``.eml``
        in the owner's mailbox with the reason. Never raises on bad input: the
        text it stores from the message goes through :func:`_storable`.

        Without ``raw`` (a message too large to fetch) the message is known by
        ``server_id`` (the engine's ``server_id`` of the fetched message) and
        ``size`` only; see :func:`_server_dedup_key`."""
        if info is None and raw is not None:
            info = parse_headers(raw)
        owner = mailbox.user_id
        reason = _storable(reason)
        if info is not None:
            dedup_key = _storable(info.dedup_key)
        else:
            dedup_key = _server_dedup_key(server_id, size)
        existing = self.sudo().search(
            [("owner_id", "=", owner.id), ("dedup_key", "=", dedup_key)], limit=1
        )
        if existing:
            return self.browse()
        entry = (
            self.sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create(
                {
                    "owner_id": owner.id,
                    "mailbox_id": mailbox.id,
                    "dedup_key": dedup_key,
                    "message_id_header": _storable(info.message_id) if info else False,
                    "subject": _storable(info.subject if info else "")
                    or _("(no subject)"),
                    "email_from": _format_addresses(info.from_) if info else False,
                    "date": fields.Datetime.now(),
                    "direction": direction,
                    "folder": folder,
                    "state": "raw",
                    "error": reason,
                }
            )
        )
        attachment_ids = []
        if raw is not None:
            attachment_ids = (
                self.env["ir.attachment"]
                .sudo()
                .create(
                    {
                        "name": "message.eml",
                        "datas": base64.b64encode(raw),
                        "mimetype": "message/rfc822",
                        "res_model": self._name,
                        "res_id": entry.id,
                    }
                )
                .ids
            )
        self.env["mail.message"].sudo().create(
            {
                "model": self._name,
                "res_id": entry.id,
                "message_type": "notification",
                "body": Markup("<p>%s</p>")
                % _(
                    "This message could not be archived normally and is kept "
                    "as it arrived: %(reason)s",
                    reason=reason,
                ),
                "author_id": owner.partner_id.id,
                "attachment_ids": [Command.set(attachment_ids)],
                "carerix_owner_id": owner.id,
                "carerix_mailbox_message_id": entry.id,
                "carerix_direction": direction,
            }
        )
        return entry

    # ------------------------------------------------------------------
    # Actions of My mail
    # ------------------------------------------------------------------
    def _carerix_answered_message(self, parent_id):
        """A post on a synced mail (the owner's *My mail*) answers that mail,
        unless he chose another message of it."""
        answered = super()._carerix_answered_message(parent_id)
        if answered or parent_id or self.sudo().owner_id != self.env.user:
            return answered
        return self.sudo().copy_ids.filtered(
            lambda m: m.model == self._name and m.res_id == self.id
        )[:1]

    def action_create_partner_from_sender(self):
        self.ensure_one()
        info_name, email = self._sender()
        partner = self.env["res.partner"].create(
            {"name": info_name or email, "email": email}
        )
        self._archive_on(partner)
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": partner.id,
            "view_mode": "form",
        }

    def _sender(self):
        name, email = parseaddr(self.email_from or "")
        return name, email

    def _archive_on(self, partners):
        """Copy this mail onto ``partners`` (owner's action *Archive on*)."""
        for entry in self:
            source = entry.copy_ids.filtered(lambda m: m.model == self._name)[:1]
            if not source:
                continue
            for partner in partners:
                if entry.copy_ids.filtered(
                    lambda m, p=partner: m.model == "res.partner" and m.res_id == p.id
                ):
                    continue
                source.sudo().copy(
                    {
                        "model": "res.partner",
                        "res_id": partner.id,
                        "attachment_ids": [Command.set(source.attachment_ids.ids)],
                    }
                )
            entry.write(
                {
                    "partner_ids": [Command.link(p.id) for p in partners],
                    "state": "matched" if entry.state != "raw" else "raw",
                }
            )

    def action_open_archive_wizard(self):
        wizard = self.env["carerix.mailbox.archive.wizard"].create(
            {"message_ids": [Command.set(self.ids)]}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Archive on a partner"),
            "res_model": "carerix.mailbox.archive.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }
