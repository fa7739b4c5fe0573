from email.utils import parseaddr

from odoo import Command, _, api, fields, models


class CarerixMailboxMessage(models.Model):
    """One synced mail of one owner: the entry of his *My mail* list.

    The mail itself is archived as ``mail.message`` copies: one in this
    record's chatter (the owner's mailbox copy) and one on every matching
    record (partners, their employer, the record a reply belongs to).
    Deduplication is per owner, on the engine's dedup key (Message-ID and a
    content hash), so a forged Message-ID never hides the real mail.
    Archiving itself (a batch of fetched mails turned into entries and copies)
    is in ``carerix_mailbox_message_archive.py``; this file holds the entry
    and what its owner does with it.
    """

    _name = "carerix.mailbox.message"
    _description = "Synced mail"
    _inherit = ["mail.thread"]
    _order = "date desc, id desc"
    _rec_name = "subject"
    _mail_post_access = "read"

    owner_id = fields.Many2one("res.users", required=True, index=True, readonly=True)
    mailbox_id = fields.Many2one("carerix.mailbox", ondelete="set null", readonly=True)
    dedup_key = fields.Char(required=True, readonly=True)
    message_id_header = fields.Char("Message-ID", index=True, readonly=True)
    subject = fields.Char(readonly=True)
    email_from = fields.Char("From", readonly=True)
    email_to = fields.Char("To", readonly=True)
    email_cc = fields.Char("Cc", readonly=True)
    date = fields.Datetime(readonly=True, index=True)
    direction = fields.Selection(
        [("incoming", "Incoming"), ("outgoing", "Outgoing")],
        required=True,
        default="incoming",
        readonly=True,
    )
    folder = fields.Char(readonly=True)
    state = fields.Selection(
        [
            ("matched", "Archived"),
            ("unmatched", "No matching partner"),
            ("raw", "Stored raw"),
        ],
        required=True,
        default="unmatched",
        readonly=True,
    )
    error = fields.Text("Why it was stored raw", readonly=True)
    partner_ids = fields.Many2many("res.partner", string="Archived on", readonly=True)
    copy_ids = fields.One2many(
        "mail.message", "carerix_mailbox_message_id", "Archived copies", readonly=True
    )
    confidential = fields.Boolean(readonly=True)

    _sql_constraints = [
        (
            "owner_dedup_uniq",
            "unique(owner_id, dedup_key)",
            "A mail is archived once per owner.",
        )
    ]

    # ------------------------------------------------------------------
    # Actions of My mail
    # ------------------------------------------------------------------
    @api.model
    def action_open_my_mail(self):
        """*My mail* (the menu), after asking for a sync of the user's mailbox:
        mail that arrived since the last sync shows up within seconds."""
        mailbox = self.env.user._carerix_mailbox()
        self.env["carerix.mailbox.sync.request"].sudo()._request(mailbox, "my_mail")
        return self.env["ir.actions.act_window"]._for_xml_id(
            "carerix_mail.carerix_mailbox_message_action"
        )

    def _carerix_answered_message(self, parent_id):
        """A post on a synced mail (the owner's *My mail*) answers that mail,
        unless he chose another message of it."""
        answered = super()._carerix_answered_message(parent_id)
        if answered or parent_id or self.sudo().owner_id != self.env.user:
            return answered
        return self.sudo().copy_ids.filtered(
            lambda m: m.model == self._name and m.res_id == self.id
        )[:1]

    def action_create_partner_from_sender(self):
        self.ensure_one()
        info_name, email = self._sender()
        partner = self.env["res.partner"].create(
            {"name": info_name or email, "email": email}
        )
        self._archive_on(partner)
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": partner.id,
            "view_mode": "form",
        }

    def _sender(self):
        name, email = parseaddr(self.email_from or "")
        return name, email

    def _archive_on(self, partners):
        """Copy this mail onto ``partners`` (owner's action *Archive on*)."""
        for entry in self:
            source = entry.copy_ids.filtered(lambda m: m.model == self._name)[:1]
            if not source:
                continue
            for partner in partners:
                if entry.copy_ids.filtered(
                    lambda m, p=partner: m.model == "res.partner" and m.res_id == p.id
                ):
                    continue
                source.sudo().copy(
                    {
                        "model": "res.partner",
                        "res_id": partner.id,
                        "attachment_ids": [Command.set(source.attachment_ids.ids)],
                    }
                )
            entry.write(
                {
                    "partner_ids": [Command.link(p.id) for p in partners],
                    "state": "matched" if entry.state != "raw" else "raw",
                }
            )

    def action_open_archive_wizard(self):
        wizard = self.env["carerix.mailbox.archive.wizard"].create(
            {"message_ids": [Command.set(self.ids)]}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Archive on a partner"),
            "res_model": "carerix.mailbox.archive.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }
