from odoo import models


class MailScheduledMessage(models.Model):
    _inherit = "mail.scheduled.message"

    def _notification_parameters_whitelist(self):
        # A message scheduled in the composer keeps its *Confidential* box.
        return super()._notification_parameters_whitelist() | {"carerix_confidential"}
