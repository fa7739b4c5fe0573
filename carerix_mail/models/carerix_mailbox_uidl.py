from odoo import fields, models


class CarerixMailboxUidl(models.Model):
    """A POP3 message already fetched, by its UIDL: archived, or ``skipped``
    (not stored at all, so never deleted from the server)."""

    _name = "carerix.mailbox.uidl"
    _description = "Archived POP3 message"
    _order = "id"

    mailbox_id = fields.Many2one(
        "carerix.mailbox", required=True, ondelete="cascade", index=True
    )
    uidl = fields.Char("UIDL", required=True)
    first_archived = fields.Datetime(required=True, default=fields.Datetime.now)
    skipped = fields.Boolean(readonly=True)

    _sql_constraints = [
        ("uidl_uniq", "unique(mailbox_id, uidl)", "A UIDL is archived once.")
    ]
