from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.osv import expression

from ..engine import default_port
from .carerix_mailbox import CarerixMailbox
from .carerix_mailbox_oauth import PROVIDER_HOSTS
from .carerix_mailbox_smtp import SMTP_PRESETS


def _proxy(source):
    """The res.users field showing the carerix.mailbox field ``source``.

    Same type, label, help and read-only flag as ``source``; the selection is
    read from the mailbox field itself, so an addon that extends it extends the
    user's page too. Only the user himself (through SELF_READABLE_FIELDS) and
    settings administrators see the values; every other user reads the
    defaults. Writing goes through :meth:`ResUsers.write` / :meth:`ResUsers.create`,
    which hand the values to the mailbox in one write (no ORM inverse: the
    fields share one compute method, and an inverse would see the unwritten
    ones as empty).
    """
    kwargs = {
        # (without a string, the mailbox field's label is made from its name)
        "string": source.args.get("string") or source.name.replace("_", " ").title(),
        "help": source.args.get("help"),
        "readonly": bool(source.args.get("readonly")),
        "compute": "_compute_mailbox_fields",
    }
    if isinstance(source, fields.Selection):
        kwargs["selection"] = lambda self, name=source.name: (
            self.env["carerix.mailbox"]._fields[name]._description_selection(self.env)
        )
    return type(source)(**kwargs)


# The fields of carerix.mailbox marked user_setting, shown on the Email
# settings page: {res.users field: carerix.mailbox field}, in their order.
MAILBOX_SOURCES = {
    f"mailbox_{source.name}": source
    for source in vars(CarerixMailbox).values()
    if isinstance(source, fields.Field) and source.args.get("user_setting")
}
MAILBOX_FIELDS = {name: source.name for name, source in MAILBOX_SOURCES.items()}
# Those the user (or a settings administrator) may change.
MAILBOX_EDITABLE = [
    name for name, source in MAILBOX_SOURCES.items() if not source.args.get("readonly")
]
# The write-only passwords: {res.users field: carerix.mailbox method storing it}.
SECRET_FIELDS = {
    "mailbox_password": "_set_password",
    "mailbox_smtp_password": "_set_smtp_password",
}


class ResUsers(models.Model):
    _inherit = "res.users"

    mailbox_password = fields.Char(
        "Mailbox password",
        compute="_compute_mailbox_password",
        search="_search_mailbox_password",
        readonly=False,
        help="Write-only: the password is never shown again once saved. "
        "Leave empty to keep the current one.",
    )
    mailbox_smtp_password = fields.Char(
        "Outgoing password",
        compute="_compute_mailbox_password",
        search="_search_mailbox_password",
        readonly=False,
        help="Write-only: the password is never shown again once saved. "
        "Leave empty to keep the current one, or to use the incoming password.",
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
            + [*SECRET_FIELDS, "mailbox_folder_ids"]
        )

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + MAILBOX_EDITABLE + list(SECRET_FIELDS)

    def _may_see_mailbox(self):
        self.ensure_one()
        env = self.env
        return env.su or self == env.user or env.user.has_group("base.group_system")

    def _carerix_mailbox(self, create=False):
        """The mailbox of this user (sudo), created on demand.

        A user has at most one mailbox (``carerix.mailbox.user_id`` is unique).
        """
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
        Box = self.env["carerix.mailbox"]
        defaults = Box.default_get(list(MAILBOX_FIELDS.values()))
        visible = self.filtered(lambda user: user.id and user._may_see_mailbox())
        boxes = Box.sudo().search([("user_id", "in", visible.ids)])
        box_of = {box.user_id.id: box for box in boxes}
        for user in self:
            box = box_of.get(user.id)
            for user_field, box_field in MAILBOX_FIELDS.items():
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
        for name in SECRET_FIELDS:
            self[name] = False

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

    @api.onchange("mailbox_auth_method", "mailbox_protocol")
    def _onchange_mailbox_auth_method(self):
        """Microsoft 365 and Google: propose their server, with SSL/TLS."""
        for user in self:
            hosts = PROVIDER_HOSTS.get(user.mailbox_auth_method)
            if hosts and user.mailbox_protocol:
                user.mailbox_host = hosts[user.mailbox_protocol]
                user.mailbox_security = "ssl"
                user.mailbox_port = default_port(user.mailbox_protocol, "ssl")

    @api.onchange("mailbox_smtp_mode", "mailbox_auth_method")
    def _onchange_mailbox_smtp_provider(self):
        """Microsoft 365 and Google: propose their outgoing server, which files
        what it sends in the Sent folder itself."""
        for user in self:
            preset = SMTP_PRESETS.get(user.mailbox_auth_method)
            if user.mailbox_smtp_mode == "own" and preset:
                host, port, security = preset
                user.mailbox_smtp_host = host
                user.mailbox_smtp_port = port
                user.mailbox_smtp_security = security
                user.mailbox_smtp_files_sent = True

    @api.onchange("mailbox_smtp_security")
    def _onchange_mailbox_smtp_security(self):
        """Propose the usual port; the user may still change it afterwards."""
        for user in self:
            if user.mailbox_smtp_security:
                user.mailbox_smtp_port = default_port(
                    "smtp", user.mailbox_smtp_security
                )
            if user.mailbox_smtp_security != "none":
                user.mailbox_smtp_security_none_confirmed = False

    @api.model
    def _pop_mailbox_vals(self, vals):
        """Remove the mailbox settings from ``vals``; return them separately.

        Returns ``(mailbox_vals, secrets)``: the values for carerix.mailbox
        and the new passwords, ``{mailbox setter: password}`` (the passwords
        left empty are kept).
        """
        box_vals = {}
        for key in set(vals) & set(MAILBOX_FIELDS):
            value = vals.pop(key)
            if key in MAILBOX_EDITABLE:  # the health is read-only
                box_vals[MAILBOX_FIELDS[key]] = value
        secrets = {}
        for key, setter in SECRET_FIELDS.items():
            password = vals.pop(key, None)
            if password:
                secrets[setter] = password
        vals.pop("mailbox_folder_ids", None)  # changed through Edit folders only
        return box_vals, secrets

    def _write_mailbox(self, box_vals, secrets):
        """Write the mailbox settings of these users (owner or admin only)."""
        for user in self:
            if not user._may_see_mailbox():
                raise AccessError(_("You cannot change another user's mailbox."))
            box = user._carerix_mailbox(create=True)
            changed = {key: val for key, val in box_vals.items() if box[key] != val}
            if changed:
                box.write(changed)
            for setter, password in (secrets or {}).items():
                getattr(box, setter)(password)
        self.invalidate_recordset([*MAILBOX_FIELDS, *SECRET_FIELDS])

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
        for user, (box_vals, secrets) in zip(users, mailbox_vals, strict=True):
            if not user.share:  # portal and public users get no mailbox
                user._carerix_mailbox(create=True)
            if box_vals or secrets:
                user._write_mailbox(box_vals, secrets)
        return users

    def write(self, vals):
        vals = dict(vals)
        box_vals, secrets = self._pop_mailbox_vals(vals)
        result = super().write(vals) if vals else True
        if box_vals or secrets:
            self._write_mailbox(box_vals, secrets)
        return result

    def _mailbox_action(self, method):
        self.ensure_one()
        if not self._may_see_mailbox():
            raise AccessError(_("You cannot use another user's mailbox."))
        return getattr(self._carerix_mailbox(create=True), method)()

    def action_mailbox_test_connection(self):
        return self._mailbox_action("action_test_connection")

    def action_mailbox_test_outgoing(self):
        return self._mailbox_action("action_test_outgoing")

    def action_mailbox_sync_now(self):
        return self._mailbox_action("action_sync_now")

    def action_mailbox_edit_folders(self):
        return self._mailbox_action("action_edit_folders")

    def action_mailbox_oauth_connect(self):
        """Go to the provider's sign-in page; for the user's own mailbox only."""
        self.ensure_one()
        if self != self.env.user:
            raise AccessError(
                _(
                    "Only %(user)s can connect his mailbox: the sign-in would go "
                    "to the account your browser is signed into.",
                    user=self.name,
                )
            )
        self._carerix_mailbox(create=True).with_user(
            self.env.user
        )._oauth_check_connect()
        return {
            "type": "ir.actions.act_url",
            "url": "/carerix_mail/oauth/start",
            "target": "self",
        }

    def action_mailbox_oauth_disconnect(self):
        return self._mailbox_action("action_oauth_disconnect")


def _add_mailbox_fields(model_class):
    """Add the fields of the Email settings page to ``model_class``.

    The metaclass registers the fields of a class body only; these are
    registered the same way, after the class is created.
    """
    for name, source in MAILBOX_SOURCES.items():
        field = _proxy(source)
        setattr(model_class, name, field)
        field.__set_name__(model_class, name)


_add_mailbox_fields(ResUsers)
