from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import MailError
from ..models.carerix_mailbox_folder import ROLES


class CarerixMailboxFolderWizard(models.TransientModel):
    """Lists the folders on the server with the proposed roles to change."""

    _name = "carerix.mailbox.folder.wizard"
    _description = "Edit mailbox folders"

    mailbox_id = fields.Many2one("carerix.mailbox", required=True, readonly=True)
    line_ids = fields.One2many("carerix.mailbox.folder.wizard.line", "wizard_id")
    vanished_folders = fields.Text(readonly=True)

    @api.model
    def _create_for(self, mailbox):
        try:
            mailbox._discover_folders()
        except MailError as error:
            raise UserError(mailbox._user_message(error)) from None
        lines = [
            (
                0,
                0,
                {
                    "folder_id": folder.id,
                    "name": folder.name,
                    "proposed_role": folder.proposed_role,
                    "role": folder.role,
                },
            )
            for folder in mailbox.folder_ids.filtered("present")
        ]
        vanished = mailbox.folder_ids.filtered(lambda f: not f.present)
        return self.create(
            {
                "mailbox_id": mailbox.id,
                "line_ids": lines,
                "vanished_folders": "\n".join(vanished.mapped("name")) or False,
            }
        )

    def action_apply(self):
        self.ensure_one()
        self.mailbox_id._check_owner_or_admin()
        for line in self.line_ids:
            if line.folder_id.role != line.role:
                line.folder_id.sudo().role = line.role
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Folders saved"),
                "message": _(
                    "%(inbox)s folder(s) synced as inbox, %(sent)s as sent mail.",
                    inbox=len(
                        self.line_ids.filtered(lambda line: line.role == "inbox")
                    ),
                    sent=len(self.line_ids.filtered(lambda line: line.role == "sent")),
                ),
                "type": "success",
                "next": self._back_action(),
            },
        }

    def action_cancel(self):
        return self._back_action()

    def _back_action(self):
        """Where the user goes after the wizard.

        Opened from the preferences dialog (which the wizard replaced), the
        preferences open again with the updated folders; from the user form the
        wizard just closes and the form reloads.
        """
        if self.env.context.get("carerix_from_preferences"):
            action = self.env["res.users"].action_get()
            # (With hr, an employee's My Profile is a full page, which
            # simply reloads under the closing wizard.)
            if action.get("target") == "new":
                action["res_id"] = self.env.user.id
                return action
        return {"type": "ir.actions.act_window_close"}


class CarerixMailboxFolderWizardLine(models.TransientModel):
    _name = "carerix.mailbox.folder.wizard.line"
    _description = "Folder of the edit folders wizard"
    _order = "name"

    wizard_id = fields.Many2one(
        "carerix.mailbox.folder.wizard", required=True, ondelete="cascade"
    )
    folder_id = fields.Many2one(
        "carerix.mailbox.folder", "Folder record", required=True
    )
    name = fields.Char("Folder", readonly=True)
    proposed_role = fields.Selection(ROLES, "Proposed", readonly=True)
    role = fields.Selection(ROLES, required=True)


class CarerixMailboxArchiveWizard(models.TransientModel):
    _name = "carerix.mailbox.archive.wizard"
    _description = "Archive synced mail on partners"

    message_ids = fields.Many2many("carerix.mailbox.message", required=True)
    partner_ids = fields.Many2many("res.partner", string="Partners", required=True)

    def action_apply(self):
        self.ensure_one()
        self.message_ids._archive_on(self.partner_ids)
        return {"type": "ir.actions.act_window_close"}
