from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL

from .mail_message import message_id_tokens, visible_domain


class MailThread(models.AbstractModel):  # pylint: disable=consider-merging-classes-inherited
    """Privacy of confidential mail on every record with a chatter.

    * ``message_ids`` is ``auto_join``: a domain such as
      ``[('message_ids.body', 'ilike', word)]`` is one SQL sub-query that
      applies no record rule, only the field's domain. The privacy condition
      is therefore part of that domain (not for sudo / superuser code).
    * A private message notifies its owner and the explicit recipients who are
      not users (the person the mail is addressed to), never followers or
      other users: no ``mail.notification``, ``mail.mail``, web push or bus
      message for them.
    * A mail that arrives through the gateway (an alias, the catchall) as a
      reply to a private message is private to the owner of that message.
    * ``has_message`` (read and searched) leaves out other users' private
      messages.
    """

    _inherit = "mail.thread"

    def _carerix_message_ids_domain(self):
        domain = [("message_type", "!=", "user_notification")]
        if not self.env.su:
            domain += visible_domain(self.env.uid)
        return domain

    message_ids = fields.One2many(
        domain=lambda self: self._carerix_message_ids_domain()
    )

    def _carerix_visible_messages_query(self, ids=None):
        """Query of the messages of this model's records (of ``ids``, or
        all) the current user may see, selecting their ``res_id``:
        ``(query, res_id column)``."""
        domain = [("model", "=", self._name)]
        if ids is not None:
            domain.append(("res_id", "in", list(ids)))
        query = self.env["mail.message"]._carerix_visible_query(domain)
        return query, SQL.identifier(query.table, "res_id")

    def _compute_has_message(self):
        """Odoo's, without other users' private messages: a record whose only
        mail is private must not tell others that it has one. Records not
        saved yet (a form being filled in) have none."""
        saved = self.filtered(lambda r: isinstance(r.id, int))
        (self - saved).has_message = False
        if not saved:
            return
        super(MailThread, saved)._compute_has_message()
        if self.env.su or not self.env["mail.message"]._carerix_any_private():
            return
        with_messages = saved.filtered("has_message")
        if with_messages:
            query, res_id = self._carerix_visible_messages_query(with_messages.ids)
            visible = {row[0] for row in self.env.execute_query(query.select(res_id))}
            for record in with_messages:
                record.has_message = record.id in visible

    def _search_has_message(self, operator, value):
        domain = super()._search_has_message(operator, value)
        if self.env.su or not self.env["mail.message"]._carerix_any_private():
            return domain
        query, res_id = self._carerix_visible_messages_query()
        visible = query.subselect(res_id)
        positive = (operator == "=" and value is True) or (
            operator == "!=" and value is False
        )
        if positive:
            return expression.AND([domain, [("id", "in", visible)]])
        return expression.OR([domain, [("id", "not in", visible)]])

    def _message_compute_parent_id(self, parent_id):
        """Never hang a message under a private mail by default.

        With flat threads Odoo attaches every new message without an explicit
        parent to the first message of the record. When that one is private,
        the new message's ``parent_id`` would show it to everyone, and its
        mail would refer to the private mail (References), so that answers to
        it join the private conversation. The first message that is not
        private is the default parent instead (one search, as Odoo's own).
        An explicit parent (the message a user chose to answer) is Odoo's.
        """
        if parent_id or not self._mail_flat_thread:
            return super()._message_compute_parent_id(parent_id)
        first = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("res_id", "=", self.id),
                    ("model", "=", self._name),
                    ("message_type", "!=", "user_notification"),
                    ("carerix_confidential", "=", False),
                ],
                order="id ASC",
                limit=1,
            )
        )
        return first.id or False

    def _get_allowed_message_post_params(self):
        # The message a user answers from the web client (the Inbox's Reply):
        # what decides whether his answer is confidential. The controller
        # keeps it only when _carerix_answered_message accepts it.
        return super()._get_allowed_message_post_params() | {"parent_id"}

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, **kwargs):
        """Mail a user of confidential mail posts is his (he owns the
        message) and private to him when a rule of confidential mail applies
        (:meth:`mail.message._carerix_outgoing_reason`); an explicit
        ``carerix_confidential`` (the composer's box) is his choice. A reply
        carries the Message-IDs it answers, so that its conversation is made
        public or private again as a whole. Other users' posts are Odoo's."""
        self.ensure_one()
        user = self.env.user
        if (
            "carerix_confidential" in kwargs
            or not self._carerix_is_own_mail(kwargs)
            or not user._carerix_sends_confidential_mail()
        ):
            return super().message_post(**kwargs)
        answered = self._carerix_answered_message(kwargs.get("parent_id"))
        kwargs["carerix_confidential"] = bool(
            self.env["mail.message"]._carerix_outgoing_reason(
                user, kwargs.get("subject"), answered, self
            )
        )
        if answered:
            references = message_id_tokens(
                answered.message_id, answered.carerix_references
            )
            kwargs.setdefault("carerix_references", " ".join(references) or False)
        return super().message_post(**kwargs)

    def _carerix_is_own_mail(self, post_values):
        """Whether ``message_post(**post_values)`` sends the current user's
        own mail: a comment he authors (not a note, Odoo's default subtype,
        not a notification)."""
        user = self.env.user
        if post_values.get("message_type") != "comment" or user._is_public():
            return False
        author_id = post_values.get("author_id")
        if author_id and author_id != user.partner_id.id:
            return False
        IrModelData = self.env["ir.model.data"]
        subtype_id = post_values.get("subtype_id")
        if post_values.get("subtype_xmlid"):  # wins, as in message_post
            subtype_id = IrModelData._xmlid_to_res_id(post_values["subtype_xmlid"])
        return bool(subtype_id) and subtype_id == IrModelData._xmlid_to_res_id(
            "mail.mt_comment"
        )

    def _carerix_answered_message(self, parent_id):
        """The message (sudo) a post on this record answers: ``parent_id``
        when the posting user may read it and it belongs to this record, else
        nothing. Extension point (``carerix.mailbox.message``: a post on a
        synced mail answers that mail)."""
        if not parent_id:
            return self.env["mail.message"].sudo()
        parent = self.env["mail.message"].with_user(self.env.uid).browse(parent_id)
        parent = parent.exists()._filtered_access("read")
        parent = parent.sudo().filtered(
            lambda m: m.model == self._name and m.res_id == self.id
        )
        return parent

    def _get_message_create_valid_field_names(self):
        # The composer's *Confidential* box, posted by the author himself
        # (mail.message.create() takes it only from him and sets the owner),
        # and the Message-IDs a reply answers.
        return super()._get_message_create_valid_field_names() | {
            "carerix_confidential",
            "carerix_references",
        }

    def _notify_get_recipients(self, message, msg_vals, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals, **kwargs)
        msg_sudo = message.sudo()
        if msg_vals and "carerix_confidential" in msg_vals:
            confidential = msg_vals["carerix_confidential"]
            # mail.message.create() may have set the owner on the message
            owner_id = msg_vals.get("carerix_owner_id") or msg_sudo.carerix_owner_id.id
        else:
            confidential = msg_sudo.carerix_confidential
            owner_id = msg_sudo.carerix_owner_id.id
        if not confidential:
            return recipients
        owner = self.env["res.users"].sudo().browse(owner_id)
        if msg_vals and "partner_ids" in msg_vals:
            explicit = set(msg_vals.get("partner_ids") or [])
        else:
            explicit = set(msg_sudo.partner_ids.ids)
        return [
            r
            for r in recipients
            if (owner and r["id"] == owner.partner_id.id)
            or (r["id"] in explicit and not r.get("uid"))
        ]

    @api.model
    def _message_route_process(self, message, message_dict, routes):
        refs = message_id_tokens(
            message_dict.get("in_reply_to"), message_dict.get("references")
        )
        private = self.env["mail.message"]._carerix_private_for(refs)
        if private:
            # read by mail.message.create(), in sudo only (the gateway)
            self = self.with_context(  # noqa: PLW0642
                carerix_private_reply_owner_id=private[0].carerix_owner_id.id,
                carerix_private_reply_references=" ".join(refs),
            )
        return super()._message_route_process(message, message_dict, routes)
