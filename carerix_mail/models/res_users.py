from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.osv import expression

from ..engine import default_port

# Fields of res.users shown on page "Email settings" -> field of carerix.mailbox.
MAILBOX_FIELDS = {
    "mailbox_host": "host",
    "mailbox_port": "port",
    "mailbox_login": "login",
    "mailbox_protocol": "protocol",
    "mailbox_security": "security",
    "mailbox_security_none_confirmed": "security_none_confirmed",
    "mailbox_fetch_enabled": "fetch_enabled",
    "mailbox_keep_copy": "keep_copy",
    "mailbox_remove_after_days": "remove_after_days",
    "mailbox_from_address": "from_address",
    "mailbox_incoming_confidential": "incoming_confidential",
    "mailbox_outgoing_confidential": "outgoing_confidential",
}
# Read-only sync health.
MAILBOX_HEALTH_FIELDS = {
    "mailbox_has_password": "has_password",
    "mailbox_state": "state",
    "mailbox_last_sync_ok": "last_sync_ok",
    "mailbox_last_error": "last_error",
    "mailbox_count_fetched": "count_fetched",
    "mailbox_count_archived": "count_archived",
    "mailbox_count_unmatched": "count_unmatched",
    "mailbox_count_skipped": "count_skipped",
}


LABELS = {
    "host": "Mail server",
    "port": "Port",
    "login": "Username",
    "protocol": "Type",
    "security": "Security",
    "security_none_confirmed": "I understand the risk of no encryption",
    "fetch_enabled": "Fetch email from mail server",
    "keep_copy": "Keep a copy on the server",
    "remove_after_days": "Remove from server after (days)",
    "from_address": "Outgoing From address",
    "incoming_confidential": "Incoming email confidential by default",
    "outgoing_confidential": "Outgoing email confidential by default",
    "has_password": "Password set",
    "state": "Sync state",
    "last_sync_ok": "Last successful sync",
    "last_error": "Last error",
    "count_fetched": "Fetched",
    "count_archived": "Archived",
    "count_unmatched": "Unmatched",
    "count_skipped": "Not stored",
}


def _proxy(field_name, readonly=False):
    """A res.users field showing ``carerix.mailbox.<field_name>``.

    Only the user himself (through SELF_READABLE_FIELDS) and settings
    administrators see the values; every other user reads empty values.
    Writing goes through :meth:`ResUsers.write` / :meth:`ResUsers.create`,
    which hand the values to the mailbox (no ORM inverse: the fields share one
    compute method, and an inverse would see the unwritten ones as empty).
    """
    Field = {
        "host": fields.Char,
        "port": fields.Integer,
        "login": fields.Char,
        "from_address": fields.Char,
        "last_error": fields.Text,
        "last_sync_ok": fields.Datetime,
        "remove_after_days": fields.Integer,
        "count_fetched": fields.Integer,
        "count_archived": fields.Integer,
        "count_unmatched": fields.Integer,
        "count_skipped": fields.Integer,
    }.get(field_name, fields.Boolean)
    kwargs = {}
    if field_name in ("protocol", "security", "state"):
        Field = fields.Selection
        kwargs["selection"] = lambda self, name=field_name: (
            self.env["carerix.mailbox"]._fields[name]._description_selection(self.env)
        )
    kwargs["string"] = LABELS.get(field_name)
    return Field(compute="_compute_mailbox_fields", readonly=readonly, **kwargs)


class ResUsers(models.Model):
    _inherit = "res.users"

    carerix_mailbox_ids = fields.One2many(
        "carerix.mailbox", "user_id", "Mailbox", groups="base.group_system"
    )
    mailbox_host = _proxy("host")
    mailbox_port = _proxy("port")
    mailbox_login = _proxy("login")
    mailbox_protocol = _proxy("protocol")
    mailbox_security = _proxy("security")
    mailbox_security_none_confirmed = _proxy("security_none_confirmed")
    mailbox_fetch_enabled = _proxy("fetch_enabled")
    mailbox_keep_copy = _proxy("keep_copy")
    mailbox_remove_after_days = _proxy("remove_after_days")
    mailbox_from_address = _proxy("from_address")
    mailbox_incoming_confidential = _proxy("incoming_confidential")
    mailbox_outgoing_confidential = _proxy("outgoing_confidential")
    mailbox_has_password = _proxy("has_password", readonly=True)
    mailbox_state = _proxy("state", readonly=True)
    mailbox_last_sync_ok = _proxy("last_sync_ok", readonly=True)
    mailbox_last_error = _proxy("last_error", readonly=True)
    mailbox_count_fetched = _proxy("count_fetched", readonly=True)
    mailbox_count_archived = _proxy("count_archived", readonly=True)
    mailbox_count_unmatched = _proxy("count_unmatched", readonly=True)
    mailbox_count_skipped = _proxy("count_skipped", readonly=True)
    mailbox_password = fields.Char(
        "Mailbox password",
        compute="_compute_mailbox_password",
        search="_search_mailbox_password",
        readonly=False,
        help="Write-only: the password is never shown again once saved. "
        "Leave empty to keep the current one.",
    )
    mailbox_folder_ids = fields.One2many(
        "carerix.mailbox.folder",
        compute="_compute_mailbox_folder_ids",
        string="Folders",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return (
            super().SELF_READABLE_FIELDS
            + list(MAILBOX_FIELDS)
            + list(MAILBOX_HEALTH_FIELDS)
            + ["mailbox_password", "mailbox_folder_ids"]
        )

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return (
            super().SELF_WRITEABLE_FIELDS + list(MAILBOX_FIELDS) + ["mailbox_password"]
        )

    def _may_see_mailbox(self):
        self.ensure_one()
        env = self.env
        return env.su or self == env.user or env.user.has_group("base.group_system")

    def _carerix_mailbox(self, create=False):
        """The mailbox of this user (sudo), created on demand."""
        self.ensure_one()
        box = (
            self.env["carerix.mailbox"]
            .sudo()
            .search([("user_id", "=", self.id)], limit=1)
        )
        if not box and create:
            box = self.env["carerix.mailbox"].sudo().create({"user_id": self.id})
        return box

    @api.depends_context("uid")
    def _compute_mailbox_fields(self):
        defaults = self.env["carerix.mailbox"].default_get(
            list(MAILBOX_FIELDS.values())
        )
        for user in self:
            box = (
                user._carerix_mailbox() if user.id and user._may_see_mailbox() else None
            )
            for user_field, box_field in {
                **MAILBOX_FIELDS,
                **MAILBOX_HEALTH_FIELDS,
            }.items():
                if box:
                    user[user_field] = box[box_field]
                else:
                    user[user_field] = defaults.get(box_field, False)
            if not user.mailbox_port and user.mailbox_protocol:
                # The port the connection uses when none is entered.
                user.mailbox_port = default_port(
                    user.mailbox_protocol, user.mailbox_security or "starttls"
                )

    def _compute_mailbox_password(self):
        # Write-only: never read back, whoever asks.
        self.mailbox_password = False

    def _search_mailbox_password(self, operator, value):
        # No search may tell anything about a password: nothing ever matches.
        return expression.FALSE_DOMAIN

    @api.onchange("mailbox_protocol", "mailbox_security")
    def _onchange_mailbox_protocol_security(self):
        """Propose the usual port; the user may still change it afterwards."""
        for user in self:
            if user.mailbox_protocol and user.mailbox_security:
                user.mailbox_port = default_port(
                    user.mailbox_protocol, user.mailbox_security
                )
            if user.mailbox_security != "none":
                user.mailbox_security_none_confirmed = False

    @api.model
    def _pop_mailbox_vals(self, vals):
        """Remove the mailbox settings from ``vals``; return them separately.

        Returns ``(mailbox_vals, password)``: the values for carerix.mailbox
        and the new password (``None`` to keep the current one).
        """
        box_vals = {
            MAILBOX_FIELDS[key]: vals.pop(key)
            for key in list(vals)
            if key in MAILBOX_FIELDS
        }
        password = vals.pop("mailbox_password", None) or None
        for key in MAILBOX_HEALTH_FIELDS:
            vals.pop(key, None)  # read-only
        vals.pop("mailbox_folder_ids", None)  # changed through Edit folders only
        return box_vals, password

    def _write_mailbox(self, box_vals, password):
        """Write the mailbox settings of these users (owner or admin only)."""
        for user in self:
            if not user._may_see_mailbox():
                raise AccessError(_("You cannot change another user's mailbox."))
            box = user._carerix_mailbox(create=True)
            changed = {key: val for key, val in box_vals.items() if box[key] != val}
            if changed:
                box.write(changed)
            if password:
                box._set_password(password)
        self.invalidate_recordset(
            [*MAILBOX_FIELDS, *MAILBOX_HEALTH_FIELDS, "mailbox_password"]
        )

    @api.depends_context("uid")
    def _compute_mailbox_folder_ids(self):
        for user in self:
            if user.id and user._may_see_mailbox():
                user.mailbox_folder_ids = user._carerix_mailbox().folder_ids
            else:
                user.mailbox_folder_ids = False

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [dict(vals) for vals in vals_list]
        mailbox_vals = [self._pop_mailbox_vals(vals) for vals in vals_list]
        users = super().create(vals_list)
        for user, (box_vals, password) in zip(users, mailbox_vals, strict=True):
            if not user.share:  # portal and public users get no mailbox
                user._carerix_mailbox(create=True)
            if box_vals or password:
                user._write_mailbox(box_vals, password)
        return users

    def write(self, vals):
        vals = dict(vals)
        box_vals, password = self._pop_mailbox_vals(vals)
        result = super().write(vals) if vals else True
        if box_vals or password:
            self._write_mailbox(box_vals, password)
        return result

    def _mailbox_action(self, method):
        self.ensure_one()
        if not self._may_see_mailbox():
            raise AccessError(_("You cannot use another user's mailbox."))
        return getattr(self._carerix_mailbox(create=True), method)()

    def action_mailbox_test_connection(self):
        return self._mailbox_action("action_test_connection")

    def action_mailbox_sync_now(self):
        return self._mailbox_action("action_sync_now")

    def action_mailbox_edit_folders(self):
        return self._mailbox_action("action_edit_folders")
