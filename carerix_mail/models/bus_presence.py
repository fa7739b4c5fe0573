from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.bus.models.bus_presence import DISCONNECTION_TIMER


class BusPresence(models.Model):
    _inherit = "bus.presence"

    @api.model
    def _update_presence(self, inactivity_period, identity_field, identity_value):
        """When a user comes online (no poll for longer than Odoo's disconnection
        delay), ask for a sync of his mailbox: he sees his latest mail first."""
        came_online = False
        # users without a mailbox pay no query (the recruiters are cached)
        recruiters = self.env["res.users"]._carerix_recruiter_partners().values()
        if identity_field == "user_id" and identity_value in recruiters:
            presence = self.search([("user_id", "=", identity_value)])
            since = fields.Datetime.now() - timedelta(seconds=DISCONNECTION_TIMER)
            came_online = not presence or presence.last_poll < since
        result = super()._update_presence(
            inactivity_period, identity_field, identity_value
        )
        if came_online:
            # sudo: the mailbox row is read, never written or locked
            mailbox = (
                self.env["carerix.mailbox"]
                .sudo()
                .search([("user_id", "=", identity_value)])
            )
            self.env["carerix.mailbox.sync.request"].sudo()._request(mailbox, "online")
        return result
