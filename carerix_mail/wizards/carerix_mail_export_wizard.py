from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..models.carerix_mailbox_message_export import normalized_emails


class CarerixMailExportWizard(models.TransientModel):
    """*Export this person's mail*: the person is given by contacts and/or
    typed addresses; the ZIP is built when downloaded
    (``/carerix_mail/export/<id>``) and never stored, so no copy of it stays
    readable in the database."""

    _name = "carerix.mail.export.wizard"
    _description = "Export a person's archived mail"

    partner_ids = fields.Many2many("res.partner", string="Contacts")
    extra_emails = fields.Char(
        "Other addresses",
        help="More addresses of the person, separated by commas or spaces.",
    )
    email_list = fields.Text("Addresses", compute="_compute_email_list")
    entry_count = fields.Integer("Mails found", compute="_compute_email_list")

    @api.model
    def default_get(self, fields_list):
        self.env["carerix.mailbox.message"]._carerix_check_data_protection()
        values = super().default_get(fields_list)
        context = self.env.context
        if context.get("active_model") == "res.partner" and context.get("active_ids"):
            values["partner_ids"] = [Command.set(context["active_ids"])]
        return values

    @api.model_create_multi
    def create(self, vals_list):
        self.env["carerix.mailbox.message"]._carerix_check_data_protection()
        return super().create(vals_list)

    def _carerix_emails(self):
        """The person's addresses, normalized, sorted."""
        self.ensure_one()
        values = self.partner_ids.mapped("email")
        values += (self.extra_emails or "").replace(",", " ").replace(";", " ").split()
        return sorted(normalized_emails(values))

    @api.depends("partner_ids", "extra_emails")
    def _compute_email_list(self):
        Entry = self.env["carerix.mailbox.message"]
        for wizard in self:
            emails = wizard._carerix_emails()
            wizard.email_list = "\n".join(emails)
            wizard.entry_count = len(Entry._carerix_export_entries(emails))

    def action_export(self):
        """Download the ZIP (see :meth:`_carerix_export`)."""
        self.ensure_one()
        if not self._carerix_emails():
            raise UserError(_("Give at least one email address of the person."))
        return {
            "type": "ir.actions.act_url",
            "url": f"/carerix_mail/export/{self.id}",
            "target": "download",
        }

    def _carerix_export(self):
        """``(file name, ZIP bytes)`` of the person's mail, for the user who
        made this wizard only, with an audit entry."""
        self.ensure_one()
        Entry = self.env["carerix.mailbox.message"]
        Entry._carerix_check_data_protection()
        if self.create_uid != self.env.user and not self.env.su:
            raise AccessError(_("This export was prepared by another user."))
        emails = self._carerix_emails()
        if not emails:
            raise UserError(_("Give at least one email address of the person."))
        entries = Entry._carerix_export_entries(emails)
        data = Entry._carerix_export_zip(entries)
        self.env["carerix.mail.privacy.log"]._log(
            "export", emails, Entry._carerix_export_counts(entries)
        )
        stamp = fields.Datetime.context_timestamp(self, fields.Datetime.now())
        return "mail-export-%s.zip" % stamp.strftime("%Y%m%d-%H%M%S"), data
