from odoo import api, models
from odoo.tools import SQL


class IrAttachment(models.Model):
    """Attachments of private mail are private too.

    An attachment is hidden from a user when it belongs to a private message
    of another owner: listed in its ``attachment_ids``, or pointing at it
    (``res_model='mail.message'``). This covers RPC, ``/web/content``,
    ``/web/image`` and inline (CID) image URLs, which all read the attachment
    as the current user.
    """

    _inherit = "ir.attachment"

    @api.model
    def _carerix_hidden_sql(self):
        """SQL selecting the ids of the attachments hidden from the current user."""
        hidden = self.env["mail.message"]._carerix_visible_query(hidden=True)
        return SQL(
            "(SELECT r.attachment_id FROM message_attachment_rel r "
            "WHERE r.message_id IN %(hidden)s "
            "UNION SELECT a.id FROM ir_attachment a "
            "WHERE a.res_model = 'mail.message' AND a.res_id IN %(hidden)s)",
            hidden=hidden.subselect(),
        )

    def _carerix_hidden(self):
        if self.env.su or not self.ids:
            return self.browse()
        if not self.env["mail.message"]._carerix_any_private():
            return self.browse()
        self.env["mail.message"].flush_model(
            ["carerix_confidential", "carerix_owner_id", "attachment_ids"]
        )
        self.flush_recordset(["res_model", "res_id"])
        rows = self.env.execute_query(
            SQL(
                "SELECT hidden.attachment_id FROM (%s) hidden "
                "WHERE hidden.attachment_id = ANY(%s)",
                self._carerix_hidden_sql(),
                list(self.ids),
            )
        )
        return self.browse(row[0] for row in rows)

    def _check_access(self, operation):
        result = super()._check_access(operation)
        if not self or self.env.su:
            return result
        remaining = self - result[0] if result else self
        hidden = remaining._carerix_hidden()
        if not hidden:
            return result
        if result:
            return (result[0] + hidden, result[1])
        return (
            hidden,
            lambda: self.env["ir.rule"]._make_access_error(operation, hidden),
        )

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None):
        if not self.env.su:
            # Keep Odoo's implicit ``res_field = False`` (added only when the
            # domain names neither ``id`` nor ``res_field``), then hide.
            if not self.env.context.get("skip_res_field_check") and not any(
                leaf[0] in ("id", "res_field") for leaf in domain
            ):
                domain = [("res_field", "=", False), *domain]
            if self.env["mail.message"]._carerix_any_private():
                domain = [("id", "not in", self._carerix_hidden_sql()), *domain]
        return super()._search(domain, offset, limit, order)
