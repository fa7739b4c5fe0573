from odoo import fields, models

ROLES = [("inbox", "Inbox"), ("sent", "Sent"), ("ignore", "Ignore")]


class BigInteger(fields.Integer):
    """An integer stored as ``bigint``: ``fields.Integer`` is a 32-bit signed
    ``int4``, too small for IMAP's UIDVALIDITY and UIDs (up to 2**32 - 1)."""

    _column_type = ("int8", "int8")


class CarerixMailboxFolder(models.Model):
    """One IMAP folder of a mailbox: its role and how far it was synced."""

    _name = "carerix.mailbox.folder"
    _description = "Mailbox folder"
    _order = "mailbox_id, name"

    mailbox_id = fields.Many2one(
        "carerix.mailbox", required=True, ondelete="cascade", index=True
    )
    user_id = fields.Many2one(related="mailbox_id.user_id", store=True)
    name = fields.Char("Folder", required=True)
    delimiter = fields.Char()
    role = fields.Selection(ROLES, required=True, default="ignore")
    proposed_role = fields.Selection(ROLES, readonly=True)
    present = fields.Boolean(
        "On the server", default=True, help="Unticked when the folder vanished."
    )
    uidvalidity = BigInteger("UIDVALIDITY", readonly=True)
    last_uid = BigInteger("Last UID", readonly=True)
    last_sync = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("name_uniq", "unique(mailbox_id, name)", "A folder is listed once.")
    ]
