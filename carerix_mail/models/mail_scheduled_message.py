import json

from odoo import api, fields, models


class MailScheduledMessage(models.Model):
    """A message scheduled in the composer ("send later") keeps its
    *Confidential* box; until it is posted, a confidential one is its author's
    only (rule ``mail_scheduled_message_rule_carerix_private``): Odoo shows
    scheduled messages to everyone who may post on the record."""

    _inherit = "mail.scheduled.message"

    carerix_confidential = fields.Boolean(
        "Confidential", compute="_compute_carerix_confidential", store=True
    )

    @api.depends("notification_parameters")
    def _compute_carerix_confidential(self):
        for message in self:
            try:
                parameters = json.loads(message.notification_parameters or "{}")
            except ValueError:
                parameters = {}
            message.carerix_confidential = bool(
                isinstance(parameters, dict) and parameters.get("carerix_confidential")
            )

    def _notification_parameters_whitelist(self):
        return super()._notification_parameters_whitelist() | {"carerix_confidential"}
