"""Archiving fetched mail: the pipeline that turns raw messages into entries of
*My mail* and their ``mail.message`` copies (extends carerix.mailbox.message).

A batch of mails of one mailbox goes through these steps, each a method that
receives the :class:`ArchiveBatch` as an argument (never through the context):

1. :meth:`~CarerixMailboxMessage._carerix_parse`: parse; a mail too large to
   fetch is stored raw (:meth:`~CarerixMailboxMessage._store_raw_only`);
2. :meth:`~CarerixMailboxMessage._carerix_skip_duplicates`: skip what the owner
   has already; a mail that cannot be parsed is stored raw;
3. :meth:`~CarerixMailboxMessage._carerix_archive_lookup`: read what the batch
   needs from the database, once;
4. :meth:`~CarerixMailboxMessage._carerix_match`: per mail the records to
   archive on (hook :meth:`~CarerixMailboxMessage._archive_targets`) and its
   privacy (hook :meth:`~CarerixMailboxMessage._carerix_confidential_for`);
   the lookup and these hooks are in ``carerix_mailbox_message_match.py``;
5. :meth:`~CarerixMailboxMessage._carerix_create_entries`, then
   :meth:`~CarerixMailboxMessage._carerix_create_copies`: one ``create`` per
   model for the whole batch;
6. :meth:`~CarerixMailboxMessage._carerix_attach`: the attachments, on all the
   copies of their mail;
7. :meth:`~CarerixMailboxMessage._carerix_notify_owner`: the owner's Inbox.
"""

import base64
import datetime
import hashlib
import uuid
from collections import defaultdict

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.tools import SQL, formataddr, plaintext2html

from ..engine.message import parse_headers, safe_parse
from .ir_default import defaults_once
from .mail_message import sanitize_once


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


def _references(info):
    """The Message-IDs ``info`` replies to, in ``<id>`` form."""
    return [f"<{ref}>" for ref in (*info.in_reply_to, *info.references)]


def _without(targets, excluded):
    """``targets`` (``{model: records}``) without the ``(model, id)`` of
    ``excluded``."""
    if not excluded:
        return targets
    result = {}
    for model, records in targets.items():
        kept = records.filtered(lambda r, m=model: (m, r.id) not in excluded)
        if kept:
            result[model] = kept
    return result


class ArchiveBatch:
    """A batch of mails being archived for the owner of ``mailbox``.

    Built by :meth:`CarerixMailboxMessage._archive_batch` and passed to every
    step and hook of the pipeline. It holds where the mails come from, what
    the caller said about single mails (keyed by their dedup key), and what
    :meth:`CarerixMailboxMessage._carerix_archive_lookup` read from the
    database for the whole batch. Mails archived earlier in the batch are
    added to that as the batch goes
    (:meth:`CarerixMailboxMessage._carerix_lookup_add`), so a reply finds the
    records and the privacy of a mail a few messages before it. Extensions
    keep their own batch data in ``extra``.
    """

    def __init__(self, mailbox, direction="incoming", folder="", history=False):
        self.mailbox = mailbox
        self.owner = mailbox.user_id
        self.direction = direction
        self.folder = folder
        # What the mailbox held before its first completed sync: archived
        # without an Inbox notification per mail.
        self.history = history
        # dedup key -> {(model, id)} that get no copy of the mail (a message
        # posted there from Odoo is its copy already); still archived on
        self.exclude = {}
        # dedup key -> whether the mail is private, decided before archiving
        self.confidential = {}
        # The owner's own addresses (never a partner to archive on)
        self.own_emails = set()
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


class ArchiveMail:
    """One mail of a batch, as the steps of the pipeline fill it in."""

    def __init__(self, raw, meta):
        self.raw = raw
        self.meta = meta
        self.parsed = None  # engine.message.ParsedMessage
        self.targets = {}  # {model: records} it is archived on
        self.confidential = False
        self.entry = None  # the new carerix.mailbox.message, if any
        self.body = ""
        self.copies = None  # its mail.message copies, the mailbox copy first
        self.attachments = None

    @property
    def info(self):
        return self.parsed.info


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------
    @api.model
    def _archive_raw(
        self, mailbox, raw, direction="incoming", folder="", history=False, **meta
    ):
        """Archive one raw message for the owner of ``mailbox``.

        Returns the new entry, or an empty recordset when the owner already
        has this mail. See :meth:`_archive_batch`.
        """
        return self._archive_batch(
            mailbox, [(raw, meta)], direction=direction, folder=folder, history=history
        )[0]

    @api.model
    def _archive_batch(
        self, mailbox, items, direction="incoming", folder="", history=False
    ):
        """Archive raw messages for the owner of ``mailbox``, in bulk.

        ``items`` is a list of ``(raw, meta)``; ``meta`` may say ``oversize``,
        ``size`` and ``server_id`` (a message too large to fetch), ``exclude``
        (``{(model, id)}`` that have their copy of the mail already: none is
        created there, the entry still lists them) and ``confidential``
        (its privacy, decided already). ``history``: the mails were in the
        mailbox before its first completed sync (no Inbox notification).
        Returns one result per item, in order: the new entry, or an empty
        recordset when the owner already has the mail. A message that cannot
        be parsed (or is too large) is stored raw with the reason, never
        dropped. The result is the same as archiving the messages one by one,
        in order. An unexpected error raises: the caller then archives the
        batch message by message. The steps are listed in this module's
        docstring.
        """
        batch = ArchiveBatch(mailbox, direction, folder, history)
        mails = [ArchiveMail(raw, meta) for raw, meta in items]
        todo = self._carerix_skip_duplicates(batch, self._carerix_parse(batch, mails))
        if todo:
            self._carerix_archive_lookup(batch, [mail.info for mail in todo])
            self._carerix_match(batch, todo)
            # No creation message, followers or tracking on the entries: the
            # archive copies are their chatter.
            with defaults_once():
                self._carerix_create_entries(batch, todo)
                self._carerix_create_copies(batch, todo)
                self._carerix_attach(batch, todo)
                self._carerix_notify_owner(batch, todo)
        return [mail.entry or self.browse() for mail in mails]

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------
    @api.model
    def _carerix_parse(self, batch, mails):
        """Parse ``mails``; one too large to fetch is stored raw with a note.
        Notes in ``batch`` what the items' ``meta`` says about single mails.
        Returns the parsed mails."""
        parsed = []
        for mail in mails:
            meta = mail.meta
            if mail.raw is None or meta.get("oversize"):
                mail.entry = self._store_raw_only(
                    batch.mailbox,
                    None,
                    direction=batch.direction,
                    folder=batch.folder,
                    reason=_(
                        "The message is larger than the limit (%(size)s bytes); "
                        "it stays on the mail server.",
                        size=meta.get("size") or 0,
                    ),
                    server_id=meta.get("server_id"),
                    size=meta.get("size"),
                )
                continue
            mail.parsed = safe_parse(mail.raw)
            key = mail.info.dedup_key  # the first of duplicates is archived
            if meta.get("exclude"):
                batch.exclude.setdefault(key, set(meta["exclude"]))
            if meta.get("confidential") is not None:
                batch.confidential.setdefault(key, bool(meta["confidential"]))
            parsed.append(mail)
        return parsed

    @api.model
    def _carerix_skip_duplicates(self, batch, mails):
        """The mails of ``mails`` to archive: not those the owner has already
        (nor a second one with the same dedup key); one that could not be
        parsed is stored raw with the reason instead."""
        if not mails:
            return []
        seen = set(
            self.sudo()
            .search_fetch(
                [
                    ("owner_id", "=", batch.owner.id),
                    ("dedup_key", "in", [mail.info.dedup_key for mail in mails]),
                ],
                ["dedup_key"],
            )
            .mapped("dedup_key")
        )
        todo = []
        for mail in mails:
            if mail.info.dedup_key in seen:
                continue
            seen.add(mail.info.dedup_key)
            if mail.parsed.raw_fallback_reason:
                mail.entry = self._store_raw_only(
                    batch.mailbox,
                    mail.raw,
                    direction=batch.direction,
                    folder=batch.folder,
                    reason=mail.parsed.raw_fallback_reason,
                    info=mail.info,
                )
            else:
                todo.append(mail)
        return todo

    @api.model
    def _carerix_match(self, batch, mails):
        """Decide per mail, in order, the records it is archived on (without
        what ``batch.exclude`` says) and whether it is private."""
        for mail in mails:
            info = mail.info
            targets = _without(
                self._archive_targets(batch, info), batch.exclude.get(info.dedup_key)
            )
            confidential = batch.confidential.get(info.dedup_key)
            if confidential is None:
                confidential = self._carerix_confidential_for(batch, info, targets)
            mail.targets = targets
            mail.confidential = bool(confidential)
            self._carerix_lookup_add(batch, info, targets, mail.confidential)

    @api.model
    def _carerix_create_entries(self, batch, mails):
        """Create the entries of ``mails`` (*My mail*), in one ``create``."""
        entries = (
            self.sudo()
            .with_context(tracking_disable=True)
            .create([self._carerix_entry_vals(batch, mail) for mail in mails])
            .with_env(self.sudo().env)
        )
        for mail, entry in zip(mails, entries, strict=True):
            mail.entry = entry

    @api.model
    def _carerix_entry_vals(self, batch, mail):
        info = mail.info
        excluded = batch.exclude.get(info.dedup_key) or ()
        vals = {
            "owner_id": batch.owner.id,
            "mailbox_id": batch.mailbox.id,
            "dedup_key": info.dedup_key,
            "message_id_header": info.message_id,
            "subject": info.subject,
            "email_from": _format_addresses(info.from_),
            "email_to": _format_addresses(info.to),
            "email_cc": _format_addresses(info.cc),
            "date": _utc_naive(info.date) or fields.Datetime.now(),
            "direction": batch.direction,
            "folder": batch.folder,
            "state": "matched" if mail.targets or excluded else "unmatched",
            "confidential": mail.confidential,
        }
        # a record excluded for its copy has the mail archived all the same
        partner_ids = mail.targets.get("res.partner", self.env["res.partner"]).ids
        partner_ids += [rid for model, rid in excluded if model == "res.partner"]
        if partner_ids:
            vals["partner_ids"] = [Command.set(list(dict.fromkeys(partner_ids)))]
        return vals

    @api.model
    def _carerix_create_copies(self, batch, mails):
        """Create the ``mail.message`` copies of ``mails``, in one ``create``:
        one in the chatter of the entry (the owner's mailbox copy, first),
        one on each record the mail is archived on.

        The copies are created directly (not through ``message_post``): nobody
        is emailed about fetched mail, followers are not notified, the sender
        is not subscribed, and Odoo's gateway guards (loop detector, bounces)
        do not apply.
        """
        names = self._carerix_record_names(batch, mails)
        subtype_id = self.env.ref("mail.mt_comment").id
        vals_list, spans = [], []
        for mail in mails:
            parsed = mail.parsed
            mail.body = parsed.body_html or (
                plaintext2html(parsed.body_text) if parsed.body_text else ""
            )
            common = dict(self._carerix_copy_vals(batch, mail), subtype_id=subtype_id)
            start = len(vals_list)
            vals_list.append(
                dict(
                    common,
                    model=self._name,
                    res_id=mail.entry.id,
                    record_name=mail.entry.subject or False,
                )
            )
            vals_list.extend(
                dict(
                    common,
                    model=model,
                    res_id=record.id,
                    record_name=names[model, record.id],
                )
                for model, records in mail.targets.items()
                for record in records
            )
            spans.append((start, len(vals_list)))
        with sanitize_once():
            created = self.env["mail.message"].sudo().create(vals_list)
        for mail, (start, end) in zip(mails, spans, strict=True):
            mail.copies = created[start:end]

    @api.model
    def _carerix_copy_vals(self, batch, mail):
        """The values all copies of ``mail`` share (but the subtype)."""
        info, entry = mail.info, mail.entry
        return {
            "message_type": "email",
            "subject": info.subject or False,
            "email_from": entry.email_from or False,
            "author_id": self._carerix_author(batch, info) or False,
            "date": entry.date or fields.Datetime.now(),
            "message_id": f"<{info.message_id}>" if info.message_id else False,
            # Given, so that Odoo does not compute a Reply-To per copy.
            "reply_to": _format_addresses(info.reply_to or info.from_) or False,
            "carerix_owner_id": batch.owner.id,
            "carerix_mailbox_message_id": entry.id,
            "carerix_direction": batch.direction,
            "carerix_confidential": entry.confidential,
            "carerix_references": " ".join(_references(info)) or False,
            "body": mail.body,
        }

    @api.model
    def _carerix_author(self, batch, info):
        """The author of the copies: the owner for his outgoing mail, else the
        partner of the sender's address (the one a search picks)."""
        if batch.direction == "outgoing":
            return batch.owner.partner_id.id
        from_emails = [a.email for a in info.from_ if a.email]
        return from_emails and batch.authors.get(from_emails[0])

    @api.model
    def _carerix_record_names(self, batch, mails):
        """``{(model, id): display name}`` of the records mails are archived on,
        read in one go per model (Odoo would read them one copy at a time)."""
        ids_by_model = defaultdict(set)
        for mail in mails:
            for model, records in mail.targets.items():
                ids_by_model[model].update(records.ids)
        names = {}
        for model, ids in ids_by_model.items():
            for record in self.env[model].sudo().browse(ids):
                names[model, record.id] = record.display_name
        return names

    @api.model
    def _carerix_attach(self, batch, mails):
        """Create the attachments of ``mails`` (in one ``create``) and put
        them on all the copies of their mail. They point at the first copy on
        a record (else the mailbox copy), so the access to that message
        decides who can open them."""
        mails = [mail for mail in mails if mail.parsed.attachments]
        if not mails:
            return
        vals_list = []
        for mail in mails:
            anchor = mail.copies[1] if len(mail.copies) > 1 else mail.copies[0]
            vals_list.extend(self._carerix_attachment_vals(batch, mail, anchor))
        Attachment = self.env["ir.attachment"].sudo()
        created = iter(Attachment.create(vals_list).ids)
        for mail in mails:
            mail.attachments = Attachment.browse(
                [next(created) for _att in mail.parsed.attachments]
            )
        self._carerix_link_attachments(batch, mails)
        self._carerix_link_inline_images(batch, mails)

    @api.model
    def _carerix_attachment_vals(self, batch, mail, anchor):
        """The attachments of ``mail``; they point at ``anchor`` (a
        mail.message), so the access to that message decides who can open
        them."""
        return [
            {
                "name": att.filename or _("attachment-%(n)s", n=index + 1),
                "raw": att.data,
                "mimetype": att.content_type or "application/octet-stream",
                "res_model": "mail.message",
                "res_id": anchor.id,
            }
            for index, att in enumerate(mail.parsed.attachments)
        ]

    @api.model
    def _carerix_link_attachments(self, batch, mails):
        """Put the attachments of each of ``mails`` on all its copies.

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
            for mail in mails
            for message_id in mail.copies.ids
            for attachment_id in mail.attachments.ids
        ]
        messages = Message.browse({i for mail in mails for i in mail.copies.ids})
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

    @api.model
    def _carerix_link_inline_images(self, batch, mails):
        """Point the ``cid:`` images of each mail's body at its attachments."""
        for mail in mails:
            cid_map = {
                att.content_id: record
                for att, record in zip(
                    mail.parsed.attachments, mail.attachments, strict=True
                )
                if att.content_id
            }
            if cid_map and mail.body:
                body = str(mail.body)
                for cid, record in cid_map.items():
                    body = body.replace(f"cid:{cid}", f"/web/image/{record.id}")
                mail.copies.write({"body": Markup(body)})

    @api.model
    def _carerix_notify_owner(self, batch, mails):
        """Give the owner an Inbox notification of his new incoming mail; not
        of history (``batch.history``): a mailbox connected with years of
        mail must not flood the Inbox."""
        if batch.direction != "incoming" or batch.history:
            return
        self.env["mail.notification"].sudo().create(
            [
                {
                    "mail_message_id": mail.copies[0].id,
                    "res_partner_id": batch.owner.partner_id.id,
                    "notification_type": "inbox",
                    "is_read": False,
                }
                for mail in mails
            ]
        )

    # ------------------------------------------------------------------
    # Raw fallback
    # ------------------------------------------------------------------
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
        ``size`` only; see :func:`_server_dedup_key`. Returns the entry, or an
        empty recordset when the owner has the message already."""
        if info is None and raw is not None:
            info = parse_headers(raw)
        reason = _storable(reason)
        if info is not None:
            dedup_key = _storable(info.dedup_key)
        else:
            dedup_key = _server_dedup_key(server_id, size)
        if self.sudo().search_count(
            [("owner_id", "=", mailbox.user_id.id), ("dedup_key", "=", dedup_key)],
            limit=1,
        ):
            return self.browse()
        entry = (
            self.sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create(
                {
                    "owner_id": mailbox.user_id.id,
                    "mailbox_id": mailbox.id,
                    "dedup_key": dedup_key,
                    "message_id_header": _storable(info.message_id) if info else False,
                    "subject": _storable(info.subject if info else "")
                    or _("(no subject)"),
                    "email_from": _format_addresses(info.from_) if info else False,
                    "email_to": _format_addresses(info.to) if info else False,
                    "email_cc": _format_addresses(info.cc) if info else False,
                    "date": fields.Datetime.now(),
                    "direction": direction,
                    "folder": folder,
                    "state": "raw",
                    "error": reason,
                }
            )
        )
        entry._carerix_post_raw_note(raw, reason)
        return entry

    def _carerix_post_raw_note(self, raw, reason):
        """Post on this raw entry why it is raw (``reason``), with ``raw`` as
        its ``.eml``."""
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
                        "res_id": self.id,
                    }
                )
                .ids
            )
        self.env["mail.message"].sudo().create(
            {
                "model": self._name,
                "res_id": self.id,
                "message_type": "notification",
                "body": Markup("<p>%s</p>")
                % _(
                    "This message could not be archived normally and is kept "
                    "as it arrived: %(reason)s",
                    reason=reason,
                ),
                "author_id": self.owner_id.partner_id.id,
                "attachment_ids": [Command.set(attachment_ids)],
                "carerix_owner_id": self.owner_id.id,
                "carerix_mailbox_message_id": self.id,
                "carerix_direction": self.direction,
            }
        )
