import contextlib
import logging
import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.service.server import SLEEP_INTERVAL
from odoo.sql_db import TestCursor
from odoo.tools import SQL, config

from odoo.addons.bus.models.bus_presence import DISCONNECTION_TIMER

from ..engine import (
    ConnectionSettings,
    Cursor,
    ImapMailbox,
    MailError,
    OAuthSessionExpired,
    OAuthTokenRejected,
    Pop3Mailbox,
    default_port,
    translate_exception,
    uidls_to_delete,
)
from .res_users_alias import SENDER_FIELDS

_logger = logging.getLogger(__name__)

# A message larger than this is archived as a note saying so, never dropped.
MAX_MESSAGE_SIZE = 50 * 1024 * 1024
# Messages fetched, archived and committed together: at most this many, and
# at most this many bytes of mail (a larger message comes alone). Archiving
# in bulk pays per batch; past 250 messages a batch gains nothing measurable.
SYNC_BATCH_SIZE = 250
SYNC_BATCH_BYTES = 20_000_000
# Times a sync logs in again when an OAuth2 session ends under way.
MAX_SESSION_RENEWALS = 3
# Seconds a scheduled run may spend before leaving the rest for the next run
# (see cron_time_budget): at most the maximum, at least the minimum, and this
# margin below the real-time limit Odoo gives a cron job (for the batch under
# way when time is up, the health commit, and the other jobs of the run).
CRON_MAX_TIME_BUDGET = 240
CRON_MIN_TIME_BUDGET = 10
CRON_TIME_MARGIN = 20
# With workers, the cron worker's watchdog also counts its sleep between two
# runs: up to SLEEP_INTERVAL plus a jitter of pid % 10 seconds.
CRON_WORKER_SLEEP = SLEEP_INTERVAL + 10


def cron_time_budget(options=config):
    """Seconds a scheduled sync may run before Odoo stops its cron job.

    ``options`` are Odoo's (``odoo.tools.config``), applied as Odoo 18's
    server does (``odoo/service/server.py``): with workers, the cron worker's
    watchdog allows ``limit_time_real_cron`` seconds (-1: ``limit_time_real``,
    0: no limit), counted from before the worker's sleep; without workers, a
    cron thread may run ``limit_time_real_cron`` seconds when that is above 0,
    else ``limit_time_real`` (0: no limit).
    """
    real = options.get("limit_time_real") or 0
    cron = options.get("limit_time_real_cron")
    cron = -1 if cron is None else cron
    if options.get("workers"):
        limit, sleep = (real if cron == -1 else cron), CRON_WORKER_SLEEP
    else:
        limit, sleep = (cron if cron > 0 else real), 0
    if limit <= 0:  # no limit
        return CRON_MAX_TIME_BUDGET
    budget = limit - sleep - CRON_TIME_MARGIN
    return max(CRON_MIN_TIME_BUDGET, min(CRON_MAX_TIME_BUDGET, budget))


def read_committed(cr):
    """Make the new cursor ``cr`` read committed (not a test's cursor, which
    shares the test's transaction and may not change it)."""
    if not isinstance(cr, TestCursor):
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


def _past(deadline):
    return deadline is not None and time.monotonic() >= deadline


class CarerixMailbox(models.Model):
    """The personal mailbox of one user: server settings, sync health, folders.

    The password is write-only: it is kept in the column ``password_secret``,
    which is not an ORM field, so no read, search, export or tracking path can
    return it. Only :meth:`_engine_settings` reads it, for the sync.
    """

    _name = "carerix.mailbox"
    _description = "Personal mailbox"
    _rec_name = "user_id"
    _order = "id"

    user_id = fields.Many2one(
        "res.users", required=True, ondelete="cascade", index=True, readonly=True
    )
    active = fields.Boolean(related="user_id.active", store=True)
    # Fields marked user_setting=True are the user's Email settings: res.users
    # shows each as mailbox_<name>, with the type, label, help and selection
    # defined here (editable unless readonly here). See res_users.py.
    auth_method = fields.Selection(
        [
            ("password", "Password"),
            ("microsoft", "Microsoft 365"),
            ("google", "Google"),
        ],
        "Sign-in method",
        default="password",
        required=True,
        help="Microsoft 365 and Google: sign in with your account in the browser "
        "(Connect); the mail server never sees a password.",
        user_setting=True,
    )
    host = fields.Char("Mail server", user_setting=True)
    port = fields.Integer(user_setting=True)
    login = fields.Char("Username", user_setting=True)
    protocol = fields.Selection(
        [("imap", "IMAP"), ("pop3", "POP3")],
        "Type",
        default="imap",
        required=True,
        user_setting=True,
    )
    security = fields.Selection(
        [("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", "None")],
        default="starttls",
        required=True,
        user_setting=True,
    )
    security_none_confirmed = fields.Boolean(
        "I understand the risk of no encryption",
        help="Without encryption my password and my mail cross the network "
        "readable by anyone on the way.",
        user_setting=True,
    )
    fetch_enabled = fields.Boolean("Fetch email from mail server", user_setting=True)
    keep_copy = fields.Boolean(
        "Keep a copy on the server", default=True, user_setting=True
    )
    remove_after_days = fields.Integer(
        "Remove from server after (days)", user_setting=True
    )
    from_address = fields.Char("Outgoing From address", user_setting=True)
    incoming_confidential = fields.Boolean(
        "Incoming email confidential by default", user_setting=True
    )
    outgoing_confidential = fields.Boolean(
        "Outgoing email confidential by default", user_setting=True
    )
    # Never archived on records (carerix_mail_excluded.py).
    excluded_addresses = fields.Text(
        "My excluded addresses",
        help="Your mail with these addresses and domains (one per line, e.g. "
        "doctor@clinic.example or clinic.example, which covers its subdomains) "
        "is never archived on contacts, candidates or applications. It stays "
        "in your My mail, marked Excluded.",
        user_setting=True,
    )
    has_password = fields.Boolean(
        "Password set",
        compute="_compute_has_password",
        readonly=True,
        user_setting=True,
    )
    oauth_status = fields.Selection(
        [
            ("none", "Not connected"),
            ("connected", "Connected"),
            ("reconnect", "Reconnect needed"),
        ],
        "Connection",
        compute="_compute_oauth",
        readonly=True,
        user_setting=True,
    )
    oauth_account = fields.Char(
        "Connected as",
        compute="_compute_oauth",
        readonly=True,
        user_setting=True,
    )
    # Outgoing mail (carerix_mailbox_smtp.py): the company's server, or the
    # user's own, signed in with the outgoing password or the OAuth2 tokens.
    smtp_mode = fields.Selection(
        [("company", "Company server"), ("own", "My own server")],
        "Send through",
        default="company",
        required=True,
        help="My own server: what you send from Odoo leaves through your own "
        "mail server, with your address as sender.",
        user_setting=True,
    )
    smtp_host = fields.Char("Outgoing mail server", user_setting=True)
    smtp_port = fields.Integer("Outgoing port", user_setting=True)
    smtp_security = fields.Selection(
        [("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", "None")],
        "Outgoing security",
        default="starttls",
        required=True,
        user_setting=True,
    )
    smtp_security_none_confirmed = fields.Boolean(
        "I understand the risk of sending without encryption",
        help="Without encryption my password and my mail cross the network "
        "readable by anyone on the way.",
        user_setting=True,
    )
    smtp_login = fields.Char(
        "Outgoing username",
        help="Leave empty to use the username of the incoming mail server.",
        user_setting=True,
    )
    smtp_files_sent = fields.Boolean(
        "Server files sent mail",
        help="The server puts what it sends in the Sent folder itself (Microsoft "
        "365, Gmail): Odoo then adds no copy there.",
        user_setting=True,
    )
    smtp_has_password = fields.Boolean(
        "Own outgoing password set",
        compute="_compute_smtp_has_password",
        readonly=True,
        help="Without one, the password of the incoming mail server is used.",
        user_setting=True,
    )
    ca_file = fields.Char(
        "Trusted CA file",
        help="PEM file of an extra certificate authority to trust (technical).",
        groups="base.group_system",
    )
    state = fields.Selection(
        [("never", "Never synced"), ("ok", "OK"), ("failing", "Failing")],
        "Sync state",
        default="never",
        readonly=True,
        required=True,
        user_setting=True,
    )
    last_sync_ok = fields.Datetime(
        "Last successful sync", readonly=True, user_setting=True
    )
    last_attempt = fields.Datetime("Last sync attempt", readonly=True)
    last_error = fields.Text("Last error", readonly=True, user_setting=True)
    count_fetched = fields.Integer("Fetched", readonly=True, user_setting=True)
    count_archived = fields.Integer("Archived", readonly=True, user_setting=True)
    count_unmatched = fields.Integer("Unmatched", readonly=True, user_setting=True)
    count_skipped = fields.Integer(
        "Not stored",
        readonly=True,
        user_setting=True,
        help="Messages that could not be stored, not even as they arrived: they "
        "stay on the mail server and the server log says why.",
    )
    folder_ids = fields.One2many("carerix.mailbox.folder", "mailbox_id", "Folders")
    uidl_ids = fields.One2many("carerix.mailbox.uidl", "mailbox_id", "POP3 messages")

    _sql_constraints = [
        ("user_uniq", "unique(user_id)", "A user has one mailbox."),
        (
            "remove_after_days_positive",
            "CHECK(remove_after_days >= 0)",
            "The number of days must be positive.",
        ),
        (
            "smtp_port_range",
            "CHECK(smtp_port IS NULL OR (smtp_port >= 0 AND smtp_port < 65536))",
            "The outgoing port must be between 1 and 65535.",
        ),
    ]

    def init(self):
        self.env.cr.execute(
            "ALTER TABLE carerix_mailbox "
            "ADD COLUMN IF NOT EXISTS password_secret VARCHAR"
        )
        self.env.cr.execute(
            "ALTER TABLE carerix_mailbox "
            "ADD COLUMN IF NOT EXISTS smtp_password_secret VARCHAR"
        )

    def _valid_field_parameter(self, field, name):
        # user_setting: shown on the user's Email settings page (res_users.py).
        return name == "user_setting" or super()._valid_field_parameter(field, name)

    # ------------------------------------------------------------------
    # Password (write-only)
    # ------------------------------------------------------------------
    # Write-only secrets: {column (no ORM field): its "is set" field}.
    _SECRET_COLUMNS = {
        "password_secret": "has_password",
        "smtp_password_secret": "smtp_has_password",
    }

    def _compute_secret_set(self, column):
        """Set the "is set" field of ``column`` on these mailboxes."""
        flag = self._SECRET_COLUMNS[column]
        if not self.ids:
            self[flag] = False
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM carerix_mailbox WHERE id IN %s "
                "AND COALESCE(%s, '') != ''",
                tuple(self.ids),
                SQL.identifier(column),
            )
        )
        with_secret = {row[0] for row in self.env.cr.fetchall()}
        for box in self:
            box[flag] = box.id in with_secret

    def _set_secret(self, column, value):
        """Store ``value`` in ``column``; callers check that the user may."""
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                "UPDATE carerix_mailbox SET %s = %s WHERE id IN %s",
                SQL.identifier(column),
                value or None,
                tuple(self.ids),
            )
        )
        self.invalidate_recordset([self._SECRET_COLUMNS[column]])

    def _get_secret(self, column):
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM carerix_mailbox WHERE id = %s",
                SQL.identifier(column),
                self.id,
            )
        )
        row = self.env.cr.fetchone()
        return (row and row[0]) or ""

    def _compute_has_password(self):
        self._compute_secret_set("password_secret")

    def _set_password(self, password):
        """Store ``password``; callers check that the user may do so."""
        self._set_secret("password_secret", password)

    def _get_password(self):
        return self._get_secret("password_secret")

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------
    @api.constrains("security", "security_none_confirmed")
    def _check_security_none_confirmed(self):
        for box in self:
            if box.security == "none" and not box.security_none_confirmed:
                raise UserError(
                    _(
                        "Security 'None' sends your password and your mail "
                        "unencrypted. Confirm that you understand this, or choose "
                        "STARTTLS or SSL/TLS."
                    )
                )

    def _check_owner_or_admin(self):
        for box in self:
            if not (
                self.env.su
                or box.user_id == self.env.user
                or self.env.user.has_group("base.group_system")
            ):
                raise AccessError(_("Only the owner can use this mailbox."))

    @api.model_create_multi
    def create(self, vals_list):
        boxes = super().create(vals_list)
        self.env.registry.clear_cache()  # res.users._carerix_sender_flags
        return boxes

    def write(self, vals):
        result = super().write(vals)
        if not SENDER_FIELDS.isdisjoint(vals):
            self.env.registry.clear_cache()  # res.users._carerix_sender_flags
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()  # res.users._carerix_sender_flags
        return result

    def _engine_settings(self, timeout=None, force_refresh=False):
        """The engine's settings; with OAuth2, a valid access token (refreshed
        first when needed, or with ``force_refresh``: True, or the access token
        the server rejected, see :meth:`_oauth_access_token`)."""
        self.ensure_one()
        if not self.host or not self.login:
            raise UserError(
                _("Enter the mail server and the user name of %(user)s first.")
                % {"user": self.user_id.name}
            )
        if not timeout:
            # Technical parameter: seconds to wait for a server (connect, and
            # each answer); unset means the engine's defaults.
            param = (
                self.env["ir.config_parameter"].sudo().get_param("carerix_mail.timeout")
            )
            try:
                timeout = float(param or 0)
            except ValueError:
                _logger.warning("carerix_mail.timeout is not a number: %r", param)
                timeout = None
        kwargs = self._credentials(self._get_password, timeout, force_refresh)
        return ConnectionSettings(
            host=self.host.strip(),
            port=self.port or default_port(self.protocol, self.security),
            login=self.login.strip(),
            protocol=self.protocol,
            security=self.security,
            ca_file=self.sudo().ca_file or None,
            **kwargs,
        )

    def _credentials(self, get_password, timeout, force_refresh):
        """The timeouts and the sign-in of the engine's settings: the password
        from ``get_password()``, or the OAuth2 access token (see
        :meth:`_engine_settings` for ``force_refresh``)."""
        kwargs = {}
        if timeout and timeout > 0:
            kwargs = {"connect_timeout": timeout, "read_timeout": timeout}
        if self.auth_method == "password":
            kwargs["password"] = get_password()
        else:
            kwargs["password"] = ""
            kwargs["auth"] = "oauth2"
            kwargs["access_token"] = self._oauth_access_token(
                force=bool(force_refresh),
                rejected=force_refresh if isinstance(force_refresh, str) else None,
            )
        return kwargs

    def _open(self, timeout=None, force_refresh=False):
        settings = self._engine_settings(timeout=timeout, force_refresh=force_refresh)
        if settings.protocol == "pop3":
            return Pop3Mailbox(settings)
        return ImapMailbox(settings)

    @contextlib.contextmanager
    def _connect(self, timeout=None, force_refresh=False):
        """The logged-in client (``with``). An access token the server rejects
        is refreshed once, and the login tried once more."""
        with contextlib.ExitStack() as stack:
            mailbox = self._open(timeout=timeout, force_refresh=force_refresh)
            try:
                client = stack.enter_context(mailbox)
            except OAuthTokenRejected as error:
                if self.auth_method == "password" or force_refresh:
                    raise
                _logger.info(
                    "Mailbox %s: token rejected (%s), refreshing", self.id, error
                )
                rejected = mailbox.settings.access_token
                client = stack.enter_context(
                    self._open(timeout=timeout, force_refresh=rejected)
                )
            yield client

    def _user_message(self, error):
        """The translated text of an engine error, safe to show and store."""
        if isinstance(error, MailError):
            return error.user_message(translate=self.env._)
        return str(error)

    # ------------------------------------------------------------------
    # Actions (buttons on the user card)
    # ------------------------------------------------------------------
    def action_test_connection(self):
        self.ensure_one()
        self._check_owner_or_admin()
        box = self.sudo()
        try:
            with box._connect(timeout=20) as client:
                if box.protocol == "imap":
                    folders = client.list_folders()
                    detail = _("%(count)s folders found.", count=len(folders))
                else:
                    detail = _(
                        "%(count)s messages on the server.",
                        count=len(client.list_uidls()),
                    )
        except MailError as error:
            raise UserError(box._user_message(error)) from None
        except (OSError, ValueError) as error:
            raise UserError(
                box._user_message(translate_exception(error, box._engine_settings()))
            ) from None
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection successful"),
                "message": _(
                    "Logged in to %(host)s as %(login)s. %(detail)s",
                    host=box.host,
                    login=box.login,
                    detail=detail,
                ),
                "type": "success",
                "sticky": False,
            },
        }

    def action_sync_now(self):
        self.ensure_one()
        self._check_owner_or_admin()
        box = self.sudo()
        if not box._claim_and_sync(mailbox_id=box.id):
            # Synced after the running sync, which may have missed the newest mail.
            self.env["carerix.mailbox.sync.request"].sudo()._request(box, "sync_now")
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "title": _("Sync requested"),
                    "message": _(
                        "This mailbox is being synchronised right now; it is "
                        "synchronised again as soon as that ends."
                    ),
                    "type": "info",
                    "sticky": False,
                },
            }
        if box.state == "failing":
            raise UserError(box.last_error)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Mailbox synchronised"),
                "message": _(
                    "Fetched: %(fetched)s. Archived: %(archived)s. Without a "
                    "matching partner so far: %(unmatched)s.",
                    fetched=box.count_fetched,
                    archived=box.count_archived,
                    unmatched=box.count_unmatched,
                ),
                "type": "success",
                "sticky": False,
            },
        }

    def action_edit_folders(self):
        self.ensure_one()
        self._check_owner_or_admin()
        if self.protocol != "imap":
            raise UserError(_("Only IMAP mailboxes have folders."))
        wizard = self.env["carerix.mailbox.folder.wizard"].sudo()._create_for(self)
        return {
            "type": "ir.actions.act_window",
            "name": _("Edit folders"),
            "res_model": "carerix.mailbox.folder.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "carerix_from_preferences": bool(
                    self.env.context.get("carerix_from_preferences")
                )
            },
        }

    # ------------------------------------------------------------------
    # Folders
    # ------------------------------------------------------------------
    def _discover_folders(self, client=None):
        """Update the folder records from the server; returns the server folders.

        New folders get the engine's proposed role; folders that vanished on the
        server are kept (their cursor stays) but flagged ``present = False``.
        """
        self.ensure_one()
        if client is None:
            with self._open() as opened:
                return self._discover_folders(opened)
        server = client.list_folders()
        by_name = {folder.name: folder for folder in self.folder_ids}
        Folder = self.env["carerix.mailbox.folder"]
        vals_list = []
        for info in server:
            if not info.selectable:
                continue
            record = by_name.get(info.name)
            if record:
                if not record.present:
                    record.present = True
            else:
                vals_list.append(
                    {
                        "mailbox_id": self.id,
                        "name": info.name,
                        "delimiter": info.delimiter or "",
                        "proposed_role": info.role,
                        "role": info.role,
                    }
                )
        if vals_list:
            Folder.create(vals_list)
        names = {info.name for info in server}
        self.folder_ids.filtered(lambda f: f.name not in names and f.present).write(
            {"present": False}
        )
        return server

    # ------------------------------------------------------------------
    # Sync
    # ------------------------------------------------------------------
    @api.model
    def _cron_sync(self, time_budget=None):
        """Sync every mailbox with fetching on, one at a time, until the budget
        (seconds; by default :func:`cron_time_budget`) is spent: a mailbox
        synced when time is up stops after its current batch, the rest of its
        mail waits for the next run.

        Returns the number of mailboxes synced. Commits (see :meth:`_claim_and_sync`).
        """
        if time_budget is None:
            time_budget = cron_time_budget()
        deadline = time.monotonic() + time_budget
        done = []
        while time.monotonic() < deadline:
            box_id = self._claim_and_sync(exclude=done, deadline=deadline)
            if not box_id:
                break
            done.append(box_id)
            remaining = self.search_count(
                [
                    ("fetch_enabled", "=", True),
                    ("host", "!=", False),
                    ("id", "not in", done),
                ]
            )
            self.env["ir.cron"]._notify_progress(done=len(done), remaining=remaining)
        return len(done)

    @api.model
    def _claim_and_sync(self, mailbox_id=None, exclude=(), deadline=None):
        """Claim one mailbox, sync it, record its health; returns its id or None.

        With a ``deadline`` (a ``time.monotonic()`` value), the sync stops after
        the first batch that ends past it.

        The mailbox row is claimed with ``SELECT … FOR NO KEY UPDATE SKIP
        LOCKED`` (the ``FOR UPDATE`` variant that still lets the sync insert
        rows referencing the mailbox) on a second cursor that stays open for the
        whole sync, so several cron workers or Odoo servers share the work and
        never sync one mailbox twice at once. The messages are written and
        committed batch by batch on the main cursor; the mailbox row itself (the
        sync health) is written only through the claiming cursor, which commits
        at the end and releases the claim.
        """
        query, params = self._claim_query(mailbox_id, exclude)
        with self.env.registry.cursor() as lock_cr:
            # Read committed: another worker may have just written the health
            # of a row this claim looks at; under Odoo's default repeatable
            # read, locking such a row fails with a serialization error.
            read_committed(lock_cr)
            lock_cr.execute(query, params)
            row = lock_cr.fetchone()
            if not row:
                return None
            health = self.browse(row[0])._sync(deadline=deadline)
            lock_env = api.Environment(lock_cr, self.env.uid, self.env.context)
            lock_box = lock_env["carerix.mailbox"].browse(row[0])
            stats = health.pop("stats")
            health.update(
                {
                    "last_attempt": fields.Datetime.now(),
                    "count_fetched": lock_box.count_fetched + stats["fetched"],
                    "count_archived": lock_box.count_archived + stats["archived"],
                    "count_unmatched": lock_box.count_unmatched + stats["unmatched"],
                    "count_skipped": lock_box.count_skipped + stats["skipped"],
                }
            )
            lock_box.write(health)
            lock_cr.commit()  # pylint: disable=invalid-commit; the sync health, and the claim is released
        self.browse(row[0]).invalidate_recordset()
        return row[0]

    @api.model
    def _claim_query(self, mailbox_id=None, exclude=()):
        """The SQL and parameters that claim the next mailbox to sync
        (``mailbox_id``, else the next due one not in ``exclude``)."""
        # Owners online (a poll within Odoo's disconnection delay) come first.
        query = """
            SELECT id FROM carerix_mailbox
             WHERE {where}
             ORDER BY EXISTS (
                        SELECT 1 FROM bus_presence p
                         WHERE p.user_id = carerix_mailbox.user_id
                           AND p.last_poll > (now() AT TIME ZONE 'UTC')
                                             - make_interval(secs => %s)
                      ) DESC,
                      last_attempt NULLS FIRST, id
             LIMIT 1
               FOR NO KEY UPDATE SKIP LOCKED
        """
        if mailbox_id:
            where, params = "id = %s", [mailbox_id]
        else:
            where = (
                "fetch_enabled AND active AND COALESCE(host, '') != '' "
                "AND NOT (id = ANY(%s)) AND (auth_method = 'password' OR EXISTS ("
                " SELECT 1 FROM carerix_mailbox_oauth_token t"
                " WHERE t.mailbox_id = carerix_mailbox.id AND t.status = 'connected'))"
            )
            params = [list(exclude) or [0]]
        params.append(DISCONNECTION_TIMER)
        return query.format(where=where), params

    @api.model
    def _push_watch_signature(self):
        """A digest of everything :meth:`_push_watch_list` depends on: the push
        runner reads the list again only when it changes (one query; the
        sync health, written at every sync, is left out)."""
        self.env.cr.execute(
            """
            SELECT md5(concat(
                (SELECT string_agg(concat_ws('|', id, host, port, login, protocol,
                                             security, fetch_enabled, active,
                                             last_sync_ok IS NOT NULL,
                                             password_secret, ca_file), ','
                                   ORDER BY id)
                   FROM carerix_mailbox),
                (SELECT string_agg(concat_ws('|', id, mailbox_id, name, role,
                                             present), ',' ORDER BY id)
                   FROM carerix_mailbox_folder),
                (SELECT value FROM ir_config_parameter
                  WHERE key = 'carerix_mail.timeout')
            ))
            """
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _push_watch_list(self):
        """``{mailbox id: (engine settings, folder names)}`` of the mailboxes
        the push runner watches: IMAP, fetching, first sync done (first syncs
        stay with the cron); the Inbox first, then Sent."""
        boxes = self.search(
            [
                ("protocol", "=", "imap"),
                ("fetch_enabled", "=", True),
                ("host", "!=", False),
                ("last_sync_ok", "!=", False),
            ]
        )
        watch = {}
        for box in boxes:
            folders = box.folder_ids.filtered(
                lambda f: f.present and f.role in ("inbox", "sent")
            ).sorted(lambda f: f.role != "inbox")
            if not folders or folders[0].role != "inbox":
                continue
            try:
                settings = box._engine_settings()
            except UserError:
                continue
            watch[box.id] = (settings, tuple(folders.mapped("name")))
        return watch

    def _sync(self, deadline=None):
        """Fetch and archive the new mail of this (claimed) mailbox, until the
        ``deadline`` (``time.monotonic()``) if any: a sync that stops there is
        completed by the next ones.

        Returns the sync health values for the caller to write on the mailbox
        row. Commits on ``self.env.cr`` after each batch: the archived messages
        and the folder cursor (or POP UIDLs) that covers them, so a crash loses
        and duplicates nothing. Any error is returned, never raised, so one
        broken mailbox never stops the others.
        """
        self.ensure_one()
        cr = self.env.cr
        stats = {"fetched": 0, "archived": 0, "unmatched": 0, "skipped": 0}
        try:
            complete = self._sync_sessions(stats, deadline)
            cr.commit()  # pylint: disable=invalid-commit; the last batch, before the health says "ok"
        except Exception as error:  # recorded on the card, the others go on
            if isinstance(error, MailError):
                _logger.info("Mailbox %s: %s", self.id, error)
                message = self._user_message(error)
            elif isinstance(error, UserError):
                message = error.args[0]
            else:
                _logger.exception("Mailbox %s: sync failed", self.id)
                message = _(
                    "The sync stopped on an unexpected error: %(error)s",
                    error=type(error).__name__,
                )
            cr.rollback()
            return {"state": "failing", "last_error": message, "stats": stats}
        health = {"state": "ok", "last_error": False, "stats": stats}
        if complete:  # (until then, what is fetched is still the first sync's)
            health["last_sync_ok"] = fields.Datetime.now()
        return health

    def _sync_sessions(self, stats, deadline=None):
        """Sync in one session; when an OAuth2 session ends mid-sync (its
        token expired), log in again with a new token and go on from the last
        committed batch. Returns whether the sync completed."""
        renewals = 0
        while True:
            try:
                with self._connect(force_refresh=bool(renewals)) as client:
                    if self.protocol == "imap":
                        return self._sync_imap(client, stats, deadline)
                    return self._sync_pop3(client, stats, deadline)
            except OAuthSessionExpired as error:
                if self.auth_method == "password" or renewals >= MAX_SESSION_RENEWALS:
                    raise
                renewals += 1
                _logger.info("Mailbox %s: %s; logging in again", self.id, error)
                self.env.cr.rollback()  # what is left of the unfinished batch
                self.env.invalidate_all()

    def _sync_imap(self, client, stats, deadline=None):
        """Sync the Inbox and Sent folders; False when stopped at ``deadline``."""
        if not self.folder_ids:
            self._discover_folders(client)
        folders = self.folder_ids.filtered(
            lambda f: f.present and f.role in ("inbox", "sent")
        )
        for folder in folders:
            cursor = None
            if folder.uidvalidity:
                cursor = Cursor(folder.uidvalidity, folder.last_uid)
            try:
                sync = client.sync_folder(
                    folder.name,
                    cursor,
                    batch_size=SYNC_BATCH_SIZE,
                    batch_bytes=SYNC_BATCH_BYTES,
                    max_message_size=MAX_MESSAGE_SIZE,
                )
            except MailError as error:
                if error.__class__.__name__ == "FolderNotFound":
                    folder.present = False
                    continue
                raise
            direction = "outgoing" if folder.role == "sent" else "incoming"
            for batch in sync:
                if batch.uidvalidity_changed:
                    _logger.info(
                        "Mailbox %s: UIDVALIDITY of %s changed, resyncing",
                        self.id,
                        folder.name,
                    )
                self._archive_fetched_batch(
                    batch.messages, direction, folder.name, stats
                )
                folder.write(
                    {
                        "uidvalidity": batch.cursor.uidvalidity,
                        "last_uid": batch.cursor.last_uid,
                        "last_sync": fields.Datetime.now(),
                    }
                )
                self.env.cr.commit()  # pylint: disable=invalid-commit; messages and the cursor covering them
                if _past(deadline):
                    return False
        return True

    def _sync_pop3(self, client, stats, deadline=None):
        """Sync the POP3 mailbox; False when stopped at ``deadline``."""
        Uidl = self.env["carerix.mailbox.uidl"]
        known = dict(self.uidl_ids.mapped(lambda u: (u.uidl, u)))
        batch, batch_bytes = [], 0
        for message in client.new_messages(
            set(known), max_message_size=MAX_MESSAGE_SIZE
        ):
            if not batch and stats["fetched"] and _past(deadline):
                return False  # every batch so far is committed
            size = len(message.raw or b"")
            if batch and batch_bytes + size > SYNC_BATCH_BYTES:  # a large one alone
                self._archive_pop3_batch(batch, known, stats)
                batch, batch_bytes = [], 0
            batch.append(message)
            batch_bytes += size
            if len(batch) >= SYNC_BATCH_SIZE:
                self._archive_pop3_batch(batch, known, stats)
                batch, batch_bytes = [], 0
        if batch:
            self._archive_pop3_batch(batch, known, stats)
        present = {uidl for _num, uidl, _size in client.list_uidls()}
        archived = {
            uidl: rec.first_archived for uidl, rec in known.items() if not rec.skipped
        }
        to_delete = uidls_to_delete(
            archived,
            present,
            keep_copy=self.keep_copy,
            remove_after_days=self.remove_after_days or None,
            now=fields.Datetime.now(),
        )
        if to_delete:
            client.delete(to_delete)
        # Forget UIDLs the server no longer has, a while after they vanished.
        gone = [rec.id for uidl, rec in known.items() if uidl not in present]
        if gone:
            stale = Uidl.browse(gone).filtered(
                lambda u: u.first_archived < fields.Datetime.now() - timedelta(days=30)
            )
            stale.unlink()
        return True

    def _archive_pop3_batch(self, messages, known, stats):
        """Archive POP3 ``messages`` and commit them with their UIDLs (a
        skipped message is not fetched again, nor ever deleted)."""
        skipped = self._archive_fetched_batch(messages, "incoming", "INBOX", stats)
        skipped_uidls = {message.uidl for message in skipped}
        uidls = self.env["carerix.mailbox.uidl"].create(
            [
                {
                    "mailbox_id": self.id,
                    "uidl": m.uidl,
                    "skipped": m.uidl in skipped_uidls,
                }
                for m in messages
            ]
        )
        known.update(zip([m.uidl for m in messages], uidls, strict=True))
        self.env.cr.commit()  # pylint: disable=invalid-commit; the messages and their UIDLs together

    def _archive_fetched_batch(self, messages, direction, folder_name, stats):
        """Archive a fetched batch in bulk, in one savepoint; never raises.

        When anything in the batch fails, the batch is archived again message
        by message, each in its own savepoint (:meth:`_archive_fetched`), so a
        bad message is stored raw with its reason and costs the others nothing.
        Returns the messages skipped (not stored at all).
        """
        # Until a sync has completed, what is fetched was in the mailbox before
        # it was connected: history, archived without an Inbox notification
        # per mail (an interrupted first sync goes on the same way).
        history = not self.last_sync_ok
        items = [
            (
                message.raw,
                {
                    "oversize": message.oversize,
                    "size": message.size,
                    "server_id": message.server_id,
                },
            )
            for message in messages
        ]
        try:
            with self.env.cr.savepoint():
                results = self.env["carerix.mailbox.message"]._archive_batch(
                    self,
                    items,
                    direction=direction,
                    folder=folder_name,
                    history=history,
                )
        except Exception as error:  # retried one by one: the culprit is stored raw
            _logger.info(
                "Mailbox %s: archiving a batch of %s failed (%s), retrying one by one",
                self.id,
                len(items),
                type(error).__name__,
            )
            results = None
        skipped = []
        if results is None:
            results = []
            for message, (raw, meta) in zip(messages, items, strict=True):
                result = self._archive_fetched(
                    raw, direction, folder_name, stats, history=history, **meta
                )
                if result is None:
                    skipped.append(message)
                results.append(result)
        else:
            for result in results:
                self._count_archived(result, stats)
        self._push_new_mail([result for result in results if result])
        return skipped

    def _push_new_mail(self, entries):
        """Show the owner's open web clients the Inbox notifications of these
        new entries, live, as Odoo does for its own (counter and list).

        Only to the owner, and only with the transaction: Odoo's bus writes
        its messages when the transaction commits and announces them after,
        and a rollback drops them. Called outside the archiving savepoints, so
        a batch rolled back to its savepoint sends nothing.
        """
        if not entries:
            return
        owner = self.user_id
        # sudo: the owner's own Inbox notifications of mail just archived
        notifications = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    (
                        "mail_message_id",
                        "in",
                        self.env["carerix.mailbox.message"]
                        .browse([entry.id for entry in entries])
                        .copy_ids.ids,
                    ),
                    ("res_partner_id", "=", owner.partner_id.id),
                    ("notification_type", "=", "inbox"),
                ]
            )
        )
        for message in notifications.mail_message_id:
            owner._bus_send_store(
                message.with_user(owner).with_context(allowed_company_ids=[]),
                for_current_user=True,
                notification_type="mail.message/inbox",
            )

    def _count_archived(self, result, stats):
        stats["fetched"] += 1
        if result and result.state == "unmatched":
            stats["unmatched"] += 1
        if result:
            stats["archived"] += 1

    def _archive_fetched(
        self, raw, direction, folder_name, stats, history=False, **meta
    ):
        """Archive one fetched message in its own savepoint; never raises.

        Returns the new entry (empty when the owner has the mail already), or
        None when the message was skipped (see :meth:`_store_fetched_raw`).
        """
        Archive = self.env["carerix.mailbox.message"]
        try:
            with self.env.cr.savepoint():
                result = Archive._archive_raw(
                    self,
                    raw,
                    direction=direction,
                    folder=folder_name,
                    history=history,
                    **meta,
                )
        except Exception as error:  # stored raw with the reason, batch goes on
            _logger.exception("Mailbox %s: archiving a message failed", self.id)
            reason = _("Archiving failed: %(error)s", error=type(error).__name__)
            result = self._store_fetched_raw(raw, direction, folder_name, reason, meta)
        if result is None:
            stats["skipped"] += 1
        self._count_archived(result, stats)
        return result

    def _store_fetched_raw(self, raw, direction, folder_name, reason, meta):
        """Store a message raw after its archiving failed, in its own savepoint.

        When even that fails, returns None: the message is skipped, with the
        reason in the log, so that the sync goes on past it instead of failing
        on it at every run; the mailbox counts it (``count_skipped``).
        """
        try:
            with self.env.cr.savepoint():
                return self.env["carerix.mailbox.message"]._store_raw_only(
                    self,
                    raw,
                    direction=direction,
                    folder=folder_name,
                    reason=reason,
                    server_id=meta.get("server_id"),
                    size=meta.get("size"),
                )
        except Exception:  # skipped: one message never stops the mailbox
            _logger.exception(
                "Mailbox %s: message %s skipped: not stored, not even raw (%s)",
                self.id,
                meta.get("server_id"),
                reason,
            )
            return None
