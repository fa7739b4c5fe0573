"""Search records by the words of their mail (OCA base_search_mail_content).

``message_content`` (a search-only field of every ``mail.thread``, in every
search view of internal users) is searched as ``message_ids any [...]``.
``message_ids`` is ``auto_join``: that is one SQL sub-query without record
rules, with the field's domain, which holds the rule of confidential mail
(``mail_thread_privacy.py``). So another user's private mail never makes a
record found, whatever the operator.
"""

from odoo import fields, models
from odoo.osv import expression


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    # searched with ilike by ``message_content`` (attachment names)
    name = fields.Char(index="trigram")


class MailThread(models.AbstractModel):  # pylint: disable=consider-merging-classes-inherited
    _inherit = "mail.thread"

    def _search_message_content(self, operator, value):
        """OCA's search, with these changes:

        * also the names of the attachments of the messages;
        * a positive operator (``ilike``, ``=``...) is applied as it is: OCA
          applies its negation inside ``any`` (the records with a message
          *without* the words);
        * the trigram operator ``%`` (the search view's) compares whole
          values, so the body, the subject and the attachment names are
          searched with ``ilike`` for it, the other fields as OCA does;
        * portal users search only what they may read of a record's
          messages: no internal notes.
        """
        negative = operator in expression.NEGATIVE_TERM_OPERATORS
        op = expression.TERM_OPERATORS_NEGATION[operator] if negative else operator
        text_op = "ilike" if op == "%" else op
        with_attachment = (
            self.env["mail.message"]
            .sudo()
            ._search([("attachment_ids.name", text_op, value)])
        )
        terms = [
            [("body", text_op, value)],
            [("subject", text_op, value)],
            [("id", "in", with_attachment)],
        ]
        if op == "%":
            terms.append([("subject", op, value)])
        terms += [
            [(name, op, value)] for name in ("record_name", "email_from", "reply_to")
        ]
        domain = expression.AND([[("model", "=", self._name)], expression.OR(terms)])
        if not self.env.su and self.env.user.share:
            domain = expression.AND(
                [domain, self.env["mail.message"]._get_search_domain_share()]
            )
        return [("message_ids", "not any" if negative else "any", domain)]
