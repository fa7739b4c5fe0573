import base64
import datetime
import hashlib
import logging
from email.utils import parseaddr

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import plaintext2html

from ..engine.message import normalize_subject, parse_headers, safe_parse

# Words that make an incoming mail confidential when its subject contains them
# (case-insensitive). Extension point: override _carerix_confidential_for.
CONFIDENTIAL_SUBJECT_WORDS = ("confidential", "vertrouwelijk")

_logger = logging.getLogger(__name__)


def _utc_naive(value):
    """A datetime as Odoo stores it: naive UTC."""
    if not value:
        return False
    if value.tzinfo:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def _format_addresses(addresses):
    return ", ".join(
        f'"{a.name}" <{a.email}>' if a.name else a.email for a in addresses
    )


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
        has this mail. A message that cannot be parsed (or is too large) is
        stored raw with the reason, never dropped. Extension point: override
        :meth:`_archive_targets` to archive on more records.
        """
        if raw is None or meta.get("oversize"):
            return self._store_raw_only(
                mailbox,
                None,
                direction=direction,
                folder=folder,
                reason=_(
                    "The message is larger than the limit (%(size)s bytes); it "
                    "stays on the mail server.",
                    size=meta.get("size") or 0,
                ),
            )
        parsed = safe_parse(raw)
        info = parsed.info
        owner = mailbox.user_id
        if self.sudo().search_count(
            [("owner_id", "=", owner.id), ("dedup_key", "=", info.dedup_key)]
        ):
            return self.browse()
        if parsed.raw_fallback_reason:
            return self._store_raw_only(
                mailbox,
                raw,
                direction=direction,
                folder=folder,
                reason=parsed.raw_fallback_reason,
                info=info,
            )
        targets = self._archive_targets(mailbox, info, direction)
        partners = targets.get("res.partner", self.env["res.partner"])
        confidential = self._carerix_confidential_for(mailbox, info, direction, targets)
        entry = (
            self.sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create(
                {
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
                    "partner_ids": [(6, 0, partners.ids)],
                    "confidential": confidential,
                }
            )
        )
        entry._post_copies(mailbox, parsed, direction, targets)
        return entry

    @api.model
    def _carerix_confidential_for(self, mailbox, info, direction, targets):
        """Whether a mail is private to the owner of ``mailbox``, by the rules
        of confidential mail (any one suffices):

        * incoming: the subject contains "confidential" or "vertrouwelijk"
          (case-insensitive, also behind Re: / Fwd: / AW: / Antw: prefixes);
        * it replies (In-Reply-To / References) to a private message of any
          owner, whatever mailbox it arrives through: a conversation stays
          private;
        * incoming: the sender is a partner marked *Incoming email from this
          person confidential by default*;
        * the owner has *Incoming* (fetched mail) or *Outgoing* (Sent folder)
          *email confidential by default*.

        ``targets`` (``{model: records}``) is what the mail is archived on.
        """
        if direction == "incoming":
            subject = normalize_subject(info.subject).lower()
            if any(word in subject for word in CONFIDENTIAL_SUBJECT_WORDS):
                return True
        references = [f"<{ref}>" for ref in (*info.in_reply_to, *info.references)]
        if references:
            if self.env["mail.message"]._carerix_private_for(references):
                return True
            if self.sudo().search_count(
                [
                    ("message_id_header", "in", [r[1:-1] for r in references]),
                    ("confidential", "=", True),
                ],
                limit=1,
            ):
                return True
        if direction == "incoming":
            senders = [a.email for a in info.from_ if a.email]
            if senders and self.env["res.partner"].sudo().search_count(
                [
                    ("email_normalized", "in", senders),
                    ("carerix_incoming_confidential", "=", True),
                ],
                limit=1,
            ):
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
    def _carerix_counterpart_emails(self, mailbox, info):
        """Normalized emails of From/To/Cc, without the owner's own ones."""
        own = self._carerix_own_emails(mailbox)
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
        emails = self._carerix_counterpart_emails(mailbox, info)
        Partner = self.env["res.partner"].sudo()
        targets = {}
        if emails:
            partners = Partner.search(
                [("email_normalized", "in", list(emails)), ("user_ids", "=", False)]
            )
            employers = partners.commercial_partner_id.filtered(lambda p: p.is_company)
            partners |= employers
            if partners:
                targets["res.partner"] = partners
        references = list(info.in_reply_to) + list(info.references)
        if references:
            parents = (
                self.env["mail.message"]
                .sudo()
                .search(
                    [
                        ("message_id", "in", [f"<{ref}>" for ref in references]),
                        ("model", "!=", False),
                        ("model", "!=", self._name),
                        ("res_id", "!=", False),
                    ]
                )
            )
            for parent in parents:
                if parent.model not in self.env:
                    continue
                record = self.env[parent.model].sudo().browse(parent.res_id).exists()
                if record:
                    targets[parent.model] = (
                        targets.get(parent.model, self.env[parent.model].sudo())
                        | record
                    )
        return targets

    def _post_copies(self, mailbox, parsed, direction, targets):
        """Create the ``mail.message`` copies, attachments and the notification.

        The copies are created directly (not through ``message_post``): nobody is
        emailed about fetched mail, followers are not notified, the sender is
        not subscribed, and Odoo's gateway guards (loop detector, bounces) do
        not apply. The owner gets an inbox notification for incoming mail.
        """
        self.ensure_one()
        info = parsed.info
        owner = mailbox.user_id
        Message = self.env["mail.message"].sudo()
        body = parsed.body_html or (
            plaintext2html(parsed.body_text) if parsed.body_text else ""
        )
        if direction == "outgoing":
            author = owner.partner_id
        else:
            author = self.env["res.partner"]
            from_emails = [a.email for a in info.from_ if a.email]
            if from_emails:
                author = (
                    self.env["res.partner"]
                    .sudo()
                    .search([("email_normalized", "=", from_emails[0])], limit=1)
                )
        common = {
            "message_type": "email",
            "subtype_id": self.env.ref("mail.mt_comment").id,
            "subject": info.subject or False,
            "email_from": self.email_from or False,
            "author_id": author.id or False,
            "date": self.date or fields.Datetime.now(),
            "message_id": f"<{info.message_id}>" if info.message_id else False,
            # Given, so that Odoo does not compute a Reply-To per copy.
            "reply_to": _format_addresses(info.reply_to or info.from_) or False,
            "carerix_owner_id": owner.id,
            "carerix_mailbox_message_id": self.id,
            "carerix_direction": direction,
            "carerix_confidential": self.confidential,
            "carerix_references": " ".join(
                f"<{ref}>" for ref in (*info.in_reply_to, *info.references)
            )
            or False,
        }
        vals_list = [dict(common, model=self._name, res_id=self.id, body=body)]
        for model, records in targets.items():
            for record in records:
                vals_list.append(dict(common, model=model, res_id=record.id, body=body))
        copies = Message.create(vals_list)
        if parsed.attachments:
            anchor = copies[1] if len(copies) > 1 else copies[0]
            attachments = self._create_attachments(parsed.attachments, anchor)
            copies.write({"attachment_ids": [(6, 0, attachments.ids)]})
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
        if direction == "incoming":
            self.env["mail.notification"].sudo().create(
                {
                    "mail_message_id": copies[0].id,
                    "res_partner_id": owner.partner_id.id,
                    "notification_type": "inbox",
                    "is_read": False,
                }
            )
        return copies

    @api.model
    def _create_attachments(self, parsed_attachments, anchor):
        """Attachments point at ``anchor`` (a mail.message), so the access to
        that message decides who can open them."""
        vals_list = []
        for index, att in enumerate(parsed_attachments):
            vals_list.append(
                {
                    "name": att.filename or _("attachment-%(n)s", n=index + 1),
                    "raw": att.data,
                    "mimetype": att.content_type or "application/octet-stream",
                    "res_model": "mail.message",
                    "res_id": anchor.id,
                }
            )
        return self.env["ir.attachment"].sudo().create(vals_list)

    @api.model
    def _store_raw_only(
        self, mailbox, raw, direction="incoming", folder="", reason="", info=None
    ):
        """Keep a message that could not be archived normally: the raw ``.eml``
        in the owner's mailbox with the reason. Never raises on bad input."""
        if info is None and raw is not None:
            info = parse_headers(raw)
        owner = mailbox.user_id
        if info is not None:
            dedup_key = info.dedup_key
        else:
            dedup_key = "raw:" + hashlib.sha256(reason.encode()).hexdigest()
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
                    "message_id_header": info.message_id if info else False,
                    "subject": (info.subject if info else "") or _("(no subject)"),
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
                "attachment_ids": [(6, 0, attachment_ids)],
                "carerix_owner_id": owner.id,
                "carerix_mailbox_message_id": entry.id,
                "carerix_direction": direction,
            }
        )
        return entry

    # ------------------------------------------------------------------
    # Actions of My mail
    # ------------------------------------------------------------------
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
                        "attachment_ids": [(6, 0, source.attachment_ids.ids)],
                    }
                )
            entry.write(
                {
                    "partner_ids": [(4, p.id) for p in partners],
                    "state": "matched" if entry.state != "raw" else "raw",
                }
            )

    def action_open_archive_wizard(self):
        wizard = self.env["carerix.mailbox.archive.wizard"].create(
            {"message_ids": [(6, 0, self.ids)]}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Archive on a partner"),
            "res_model": "carerix.mailbox.archive.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }
