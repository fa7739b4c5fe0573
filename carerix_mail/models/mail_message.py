from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

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
