"""*Erase this person*: a preview of what goes (counts only), then the
erasure of every archived copy of the person's mail, for every owner, with
an audit entry. Only the *Data protection* group may use it."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.carerix_mailbox_message_erase import normalized_addresses


def check_data_protection(env):
    """Raise unless the user of ``env`` is in the *Data protection* group."""
    env["carerix.mailbox.message"]._carerix_check_data_protection()


class CarerixMailEraseWizard(models.TransientModel):
    _name = "carerix.mail.erase.wizard"
    _description = "Erase a person's archived mail"

    partner_ids = fields.Many2many("res.partner", string="Contacts")
    emails = fields.Text(
        "Addresses",
        help="The person's email addresses, separated by commas or lines. "
        "Mail from, to or copied to any of them is erased.",
    )
    state = fields.Selection(
        [("preview", "Preview"), ("done", "Erased")], default="preview", readonly=True
    )
    entry_count = fields.Integer("Mails", compute="_compute_counts")
    message_count = fields.Integer("Archived copies", compute="_compute_counts")
    attachment_count = fields.Integer("Attachments", compute="_compute_counts")
    owner_count = fields.Integer("Mailbox owners", compute="_compute_counts")
    erased_entry_count = fields.Integer("Mails erased", readonly=True)
    erased_message_count = fields.Integer("Copies erased", readonly=True)
    erased_attachment_count = fields.Integer("Attachments erased", readonly=True)

    @api.model
    def default_get(self, fields_list):
        check_data_protection(self.env)
        values = super().default_get(fields_list)
        model = self.env.context.get("active_model")
        ids = self.env.context.get("active_ids") or []
        if model and ids:
            partners, emails = self._carerix_person_of(model, ids)
            values["partner_ids"] = [fields.Command.set(partners.ids)]
            values["emails"] = "\n".join(emails)
        return values

    @api.model
    def _carerix_person_of(self, model, ids):
        """The contacts and addresses of the records ``ids`` of ``model``
        the wizard was opened on (extended for other models)."""
        if model != "res.partner":
            return self.env["res.partner"], []
        partners = self.env["res.partner"].browse(ids).exists()
        return partners, normalized_addresses(partners.mapped("email"))

    @api.model_create_multi
    def create(self, vals_list):
        check_data_protection(self.env)
        return super().create(vals_list)

    def _addresses(self):
        self.ensure_one()
        text = (self.emails or "").replace("\n", ",").replace(";", ",")
        return normalized_addresses([text])

    def _entries(self):
        return self.env["carerix.mailbox.message"]._carerix_person_entries(
            self._addresses()
        )

    @api.depends("emails")
    def _compute_counts(self):
        check_data_protection(self.env)
        Entry = self.env["carerix.mailbox.message"]
        for wizard in self:
            counts = Entry._carerix_erase_preview(wizard._entries())
            wizard.entry_count = counts["entries"]
            wizard.message_count = counts["messages"]
            wizard.attachment_count = counts["attachments"]
            wizard.owner_count = counts["owners"]

    def action_erase(self):
        """Erase the person's archived mail, keep tombstones, write the audit
        entry, and show what was erased."""
        self.ensure_one()
        check_data_protection(self.env)
        addresses = self._addresses()
        if not addresses:
            raise UserError(_("Give at least one valid email address."))
        counts = self.env["carerix.mailbox.message"]._carerix_erase_person(
            addresses, "erase"
        )
        self.write(
            {
                "state": "done",
                "emails": False,  # nothing of the person kept here either
                "erased_entry_count": counts["entries"],
                "erased_message_count": counts["messages"],
                "erased_attachment_count": counts["attachments"],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Erase this person"),
        }
