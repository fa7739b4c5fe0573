import contextvars
import re
from contextlib import contextmanager

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..engine.message import normalize_subject
from .memo import memo_scope

# Words that make a mail confidential when its subject contains them
# (case-insensitive, also behind Re: / Fwd: / AW: / Antw: prefixes).
CONFIDENTIAL_SUBJECT_WORDS = ("confidential", "vertrouwelijk")

# One Message-ID token of a References / In-Reply-To header, with its brackets.
MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")
# Safety net for the conversation walk: a conversation longer than this many
# hops is cut (each hop is one search).
CONVERSATION_MAX_HOPS = 50


# A stand-in for the user in a record rule's text (see rule_domain_text).
_RULE_USER = "__rule_user__"


def visible_domain(user, path="", owner="carerix_owner_id"):
    """The rule of confidential mail, defined once: the domain of the
    messages ``user`` may see, not confidential or his own. ``path`` reaches
    the message from another model (``"mail_message_id."``), ``owner`` names
    the field of its owner. Every other form is derived from it: the record
    rules (:func:`rule_domain_text`), the domain of ``message_ids``, and the
    queries of the paths that bypass record rules
    (``mail.message._carerix_visible_query``)."""
    return [
        "|",
        (f"{path}carerix_confidential", "=", False),
        (f"{path}{owner}", "=", user),
    ]


def rule_domain_text(path="", owner="carerix_owner_id"):
    """:func:`visible_domain` as the ``domain_force`` of a record rule."""
    return repr(visible_domain(_RULE_USER, path, owner)).replace(
        repr(_RULE_USER), "user.id"
    )


# The record rules of confidential mail: (xml id, path, owner field).
PRIVACY_RULES = (
    ("carerix_mail.mail_message_rule_carerix_private", "", "carerix_owner_id"),
    (
        "carerix_mail.mail_mail_rule_carerix_private",
        "mail_message_id.",
        "carerix_owner_id",
    ),
    (
        "carerix_mail.mail_notification_rule_carerix_private",
        "mail_message_id.",
        "carerix_owner_id",
    ),
    ("carerix_mail.mail_scheduled_message_rule_carerix_private", "", "create_uid"),
)


def subject_is_confidential(subject):
    """Whether ``subject`` makes a mail confidential (one of
    :data:`CONFIDENTIAL_SUBJECT_WORDS`, whatever its case or prefixes)."""
    text = normalize_subject(subject).lower()
    return any(word in text for word in CONFIDENTIAL_SUBJECT_WORDS)


def message_id_tokens(*values):
    """The ``<id>`` tokens of headers such as References, in order, once each."""
    tokens = []
    for value in values:
        for token in MESSAGE_ID_RE.findall(value or ""):
            if token not in tokens:
                tokens.append(token)
    return tokens


# A dict while :func:`sanitize_once` is active in this thread, else None.
_SANITIZE_MEMO = contextvars.ContextVar("carerix_sanitize_memo", default=None)


@contextmanager
def sanitize_once():
    """Within the block, :class:`SanitizeOnceHtml` fields sanitize each
    distinct value once. For bulk creates of many records sharing a body: the
    archive copies of one mail carry the same body, and Odoo sanitizes an
    HTML value twice per record (for the column and for the cache)."""
    with memo_scope(_SANITIZE_MEMO):
        yield


class SanitizeOnceHtml(fields.Html):
    """``fields.Html`` that reuses a sanitized value inside :func:`sanitize_once`.

    Sanitizing is a pure function of the value and the field's options, so
    the result is the same; outside the block it is plain ``fields.Html``.
    """

    def _convert(self, value, record, validate):
        memo = _SANITIZE_MEMO.get()
        if (
            memo is None
            or not validate
            or not self.sanitize
            or self.sanitize_overridable
            or not isinstance(value, str)
        ):
            return super()._convert(value, record, validate)
        key = (self.model_name, self.name, value)
        if key not in memo:
            memo[key] = super()._convert(value, record, validate)
        return memo[key]


class MailMessage(models.Model):
    """Archived copies of synced mail, and the privacy of confidential mail.

    A message is *private* when ``carerix_confidential`` is set: only
    ``carerix_owner_id`` may see it or anything derived from it. The global
    rule ``mail_message_rule_carerix_private`` does the main work (search,
    read, read_group, counts, ``_check_access``); the overrides below guard
    the paths that run in sudo.
    """

    _inherit = "mail.message"

    # mail's own definition (its attributes are kept), sanitized once per
    # distinct body when archiving copies in bulk
    body = SanitizeOnceHtml()
    carerix_owner_id = fields.Many2one(
        "res.users",
        "Mailbox owner",
        index="btree_not_null",
        readonly=True,
        help="The user whose mailbox this mail came from, or who sent it.",
    )
    carerix_mailbox_message_id = fields.Many2one(
        "carerix.mailbox.message",
        "Synced mail",
        index="btree_not_null",
        ondelete="cascade",
        readonly=True,
    )
    carerix_direction = fields.Selection(
        [("incoming", "Incoming"), ("outgoing", "Outgoing")], readonly=True
    )
    carerix_confidential = fields.Boolean("Confidential", readonly=True)
    carerix_references = fields.Char(
        "Replies to",
        readonly=True,
        help="Message-IDs of the In-Reply-To and References headers: the "
        "conversation this mail belongs to.",
    )

    # ------------------------------------------------------------------
    # Privacy helpers
    # ------------------------------------------------------------------
    @api.model
    def _carerix_visible_query(self, domain=(), hidden=False):
        """Query (sudo) of the messages of ``domain`` the current user may see
        by :func:`visible_domain`, or may not (``hidden``); every message for
        superuser code. For the paths that bypass record rules (SQL)."""
        domain = list(domain)
        if not self.env.su:
            rule = visible_domain(self.env.uid)
            domain += ["!", *rule] if hidden else rule
        return self.sudo()._search(domain)

    @api.model
    def _carerix_install_privacy_rules(self):
        """Write the record rules of confidential mail from
        :func:`visible_domain` (called by the module's data)."""
        for xmlid, path, owner in PRIVACY_RULES:
            rule = self.env.ref(xmlid)
            text = rule_domain_text(path, owner)
            if rule.domain_force != text:
                rule.domain_force = text

    @api.model
    def _carerix_private_for(self, message_ids):
        """The ``mail.message`` (sudo) private among the Message-ID tokens
        ``message_ids`` (``<id>`` form), any owner."""
        if not message_ids:
            return self.sudo().browse()
        return self.sudo().search(
            [
                ("message_id", "in", list(message_ids)),
                ("carerix_confidential", "=", True),
            ]
        )

    @api.model
    @tools.ormcache()
    def _carerix_any_private(self):
        """Whether any message is private. Until one is, the guards of the
        paths that bypass record rules cost Odoo's mail flows no query.
        Cached: it turns true once and stays (see :meth:`_carerix_note_private`;
        a true value that has become false is only a cost, never a leak)."""
        self.flush_model(["carerix_confidential"])
        return bool(
            self.env.execute_query(
                SQL("SELECT 1 FROM mail_message WHERE carerix_confidential LIMIT 1")
            )
        )

    @api.model
    def _carerix_note_private(self):
        """A message has just become private: forget a cached "none is", here
        and, as soon as it is committed, in the other workers (a sync commits
        batch by batch long before its request ends and signals)."""
        if not self._carerix_any_private():
            self.env.registry.clear_cache()
            self.env.cr.postcommit.add(self.env.registry.signal_changes)

    # ------------------------------------------------------------------
    # Paths that bypass record rules
    # ------------------------------------------------------------------
    def _carerix_hidden(self):
        """The messages of ``self`` that are private to another user."""
        ids = [id_ for id_ in self._ids if isinstance(id_, int)]
        if self.env.su or not ids or not self._carerix_any_private():
            return self.browse()
        query = self._carerix_visible_query([("id", "in", ids)], hidden=True)
        return self.browse(row[0] for row in self.env.execute_query(query.select()))

    def fetch(self, field_names):
        # Odoo's fetch() reads in sudo (its access checks are in read() and
        # _search()), so plain field access on a browsed message would read a
        # private message of another user: never fetch those.
        hidden = self._carerix_hidden()
        if hidden:
            if hidden == self:
                raise self.env["ir.rule"]._make_access_error("read", hidden)
            self -= hidden  # noqa: PLW0642
        return super().fetch(field_names)

    def export_data(self, fields_to_export):
        # mail.message.fetch() runs in sudo: export_data of explicit ids would
        # read private messages without any rule.
        self.check_access("read")
        return super().export_data(fields_to_export)

    def action_open_document(self):
        self.check_access("read")
        return super().action_open_document()

    def _to_store(self, store, /, *, fields=None, **kwargs):
        """The web client learns which messages are confidential and which
        ones the user may lock or unlock (his own archived or sent mail); an
        ordinary message carries no key of ours."""
        res = super()._to_store(store, fields=fields, **kwargs)
        for message in self:
            message_sudo = message.sudo()
            values = {}
            if message_sudo.carerix_confidential:
                values["carerix_confidential"] = True
            if message_sudo.carerix_owner_id.id == self.env.uid:
                values["carerix_is_owner"] = True
                values["carerix_confidential"] = message_sudo.carerix_confidential
            if values:
                store.add(message, values)
        return res

    # ------------------------------------------------------------------
    # Toggle
    # ------------------------------------------------------------------
    def action_carerix_toggle_confidential(self):
        """Mark the conversation of this message private, or public when it
        is private. Only the owner of the message may do this, administrators
        included. Returns the new state."""
        self.ensure_one()
        self._carerix_check_owner()
        return self._carerix_set_conversation_confidential(
            not self.sudo().carerix_confidential
        )

    def _carerix_check_owner(self):
        owner = self.sudo().carerix_owner_id
        if not owner or owner.id != self.env.uid:
            raise AccessError(
                _(
                    "Only the owner of this message can change whether it is "
                    "confidential."
                )
            )

    def _carerix_set_conversation_confidential(self, confidential):
        conversation = self._carerix_conversation()
        conversation._carerix_apply_confidential(confidential)
        return confidential

    def _carerix_apply_confidential(self, confidential):
        """Write ``confidential`` on these messages (sudo) and their synced mail
        entries. A message made private without an owner gets the current
        user as owner; attachments of a private message are moved onto it so
        that reading the record they were posted on does not reveal them."""
        messages = self.sudo()
        messages.filtered(lambda m: m.carerix_confidential != confidential).write(
            {"carerix_confidential": confidential}
        )
        messages.carerix_mailbox_message_id.filtered(
            lambda e: e.confidential != confidential
        ).write({"confidential": confidential})
        if confidential:
            ownerless = messages.filtered(lambda m: not m.carerix_owner_id)
            ownerless.write({"carerix_owner_id": self.env.uid})
            messages._carerix_protect_attachments()
        # record rules are SQL: later searches in this transaction must see it
        messages.flush_recordset(["carerix_confidential", "carerix_owner_id"])

    def _carerix_protect_attachments(self):
        """Point the attachments of private messages at the message itself
        (``res_model='mail.message'``), so access to the message decides."""
        for message in self.sudo().filtered("carerix_confidential"):
            movable = message.attachment_ids.filtered(
                lambda a, m=message: a.res_model != "mail.message" and not a.res_field
            )
            if not movable:
                continue
            for model, attachments in movable.grouped("res_model").items():
                if model not in self.env:
                    continue
                records = self.env[model].sudo().browse(attachments.mapped("res_id"))
                if "message_main_attachment_id" in records._fields:
                    records.exists().filtered(
                        lambda r, a=attachments: r.message_main_attachment_id in a
                    ).write({"message_main_attachment_id": False})
            movable.write({"res_model": "mail.message", "res_id": message.id})

    def _carerix_conversation(self):
        """All messages (sudo) of the conversation of ``self``: the copies of
        the same mail, and every message linked to it by Message-ID through
        References / In-Reply-To or ``parent_id``, in either direction."""
        Message = self.env["mail.message"].sudo()
        found = self.sudo()
        frontier = found
        for _hop in range(CONVERSATION_MAX_HOPS):
            ids = set(frontier.mapped("message_id")) - {False}
            refs = set()
            for message in frontier:
                refs.update(message_id_tokens(message.carerix_references))
            domain_parts = [
                [("message_id", "in", list(ids | refs))],
                [
                    (
                        "carerix_mailbox_message_id",
                        "in",
                        frontier.carerix_mailbox_message_id.ids,
                    )
                ],
                [("parent_id", "in", frontier.ids)],
                [("id", "in", frontier.parent_id.ids)],
            ]
            domain_parts += [[("carerix_references", "like", token)] for token in ids]
            domain = ["|"] * (len(domain_parts) - 1)
            for part in domain_parts:
                domain += part
            new = Message.search(domain) - found
            if not new:
                break
            found |= new
            frontier = new
        return found

    # ------------------------------------------------------------------
    # Private by inheritance, and mail a user sends
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            owner = vals.get("carerix_owner_id")
            if owner and owner != self.env.uid and not self.env.su:
                # Otherwise anyone could hide a message from everyone else by
                # making it "private" to a third user.
                raise AccessError(
                    _("A message can only belong to the mailbox of its author.")
                )
            self._carerix_default_confidential(vals)
        messages = super().create(vals_list)
        if any(vals.get("carerix_confidential") for vals in vals_list):
            self._carerix_note_private()
            messages.filtered("carerix_confidential")._carerix_protect_attachments()
        return messages

    def write(self, vals):
        res = super().write(vals)
        if vals.get("carerix_confidential"):
            self._carerix_note_private()
        if vals.get("carerix_confidential") or (
            vals.get("attachment_ids")
            and any(self.sudo().mapped("carerix_confidential"))
        ):
            self.filtered(
                lambda m: m.sudo().carerix_confidential
            )._carerix_protect_attachments()
        return res

    @api.model
    def _carerix_default_confidential(self, vals):
        """Decide ``carerix_confidential`` of a message being created.

        * A user's own outgoing mail: the decision given in ``vals`` (the
          composer's *Confidential* box, or :meth:`_carerix_outgoing_reason`
          applied by ``message_post``), else his *Outgoing email confidential
          by default*; the message then belongs to him, private or not, so
          its Sent copy carries the same decision.
        * A reply routed by the mail gateway to a private message stays
          private to that message's owner.

        An explicit value is only taken from the author of his own mail: a
        private message needs an owner. Extension point."""
        if vals.get("carerix_owner_id"):
            return
        explicit = vals.pop("carerix_confidential", None)
        user = self._carerix_posting_user(vals)
        if user and explicit is None and user._carerix_sends_confidential_mail():
            explicit = bool(self._carerix_outgoing_reason(user, vals.get("subject")))
        if user and explicit is not None:
            vals.update(
                carerix_confidential=bool(explicit),
                carerix_owner_id=user.id,
                carerix_direction="outgoing",
            )
            return
        if explicit is not None and self.env.su:
            vals["carerix_confidential"] = explicit
        reply_owner_id = self.env.context.get("carerix_private_reply_owner_id")
        if reply_owner_id and self.env.su:
            # a reply to a private mail routed by the mail gateway
            vals.update(
                carerix_confidential=True,
                carerix_owner_id=reply_owner_id,
                carerix_references=self.env.context.get(
                    "carerix_private_reply_references"
                ),
            )

    @api.model
    def _carerix_posting_user(self, vals):
        """The internal user sending ``vals`` as his own mail from Odoo (a
        comment he authors on a record, or a mass mail), else an empty
        recordset."""
        nobody = self.env["res.users"]
        if not vals.get("model"):
            return nobody
        message_type = vals.get("message_type")
        subtype_id = vals.get("subtype_id")
        if message_type == "comment":
            comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
            if subtype_id != comment:
                return nobody
        elif message_type != "email_outgoing" or subtype_id:
            return nobody
        user = self.env.user
        if self.env.su and user._is_superuser() or not user._is_internal():
            return nobody
        if vals.get("author_id") and vals["author_id"] != user.partner_id.id:
            return nobody
        return user

    @api.model
    def _carerix_outgoing_reasons(self):
        """The rules that make mail a user sends private, as a selection
        ``[(key, why)]``; the composer shows why."""
        return [
            ("reply", _("Reply in a confidential conversation")),
            ("partner", _("This person's mail is confidential by default")),
            ("subject", _('The subject says "confidential"')),
            ("default", _("Your outgoing mail is confidential by default")),
        ]

    @api.model
    def _carerix_outgoing_reason(self, user, subject=None, answered=None, record=None):
        """Why mail ``user`` sends from Odoo is private to him, as a key of
        :meth:`_carerix_outgoing_reasons`, or ``False``:

        * ``reply``: it answers ``answered`` (the message he chose to answer,
          never Odoo's flat-thread default parent), and that message, or one
          of the Message-IDs it refers to, is a private message of his;
        * ``partner``: it answers a mail of a person marked *Incoming email
          confidential by default*, or is posted on that person (``record``);
        * ``subject``: the subject contains "confidential" or "vertrouwelijk";
        * ``default``: his *Outgoing email confidential by default*.

        For users to whom the rules apply
        (``res.users._carerix_sends_confidential_mail``). Extension point.
        """
        if not user._carerix_sends_confidential_mail():
            return False
        if answered:
            answered = answered.sudo()
            tokens = message_id_tokens(answered.message_id, answered.carerix_references)
            conversation = answered | self._carerix_private_for(tokens)
            if any(
                m.carerix_confidential and m.carerix_owner_id == user
                for m in conversation
            ):
                return "reply"
        people = answered.author_id if answered else self.env["res.partner"]
        if record and record._name == "res.partner":
            people |= record.sudo()
        if any(people.mapped("carerix_incoming_confidential")):
            return "partner"
        if subject_is_confidential(subject):
            return "subject"
        if user._carerix_sender_flags()[1]:  # outgoing confidential by default
            return "default"
        return False
