"""Shared fixtures of the Odoo tests.

The tests talk to the real Dovecot started by ``scripts/test.sh`` (its state
file is named by ``CARERIX_DEVSERVICES_STATE``). Tests of the sync need real
transactions (the sync commits per batch, and claims mailboxes with a second
cursor), so :class:`SyncCase` works on fresh committed cursors, and when a test
ends deletes every row committed since it started, and its Dovecot accounts.
"""

import base64
import concurrent.futures
import contextlib
import importlib.util
import itertools
import logging
import os
import time
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from unittest.mock import patch

import psycopg2

import odoo
from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, new_test_user
from odoo.tests.common import ChromeBrowser
from odoo.tools import SQL

_logger = logging.getLogger(__name__)
SCREENSHOT_PREFIX = "carerix-screenshot:"
_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "devservices.py"
_counter = itertools.count(1)


def devservices():
    """The project's ``scripts/devservices.py`` module."""
    spec = importlib.util.spec_from_file_location("carerix_devservices", _SCRIPTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_dovecot():
    """The running Dovecot of the test command; fails loudly when absent."""
    state_file = os.environ.get("CARERIX_DEVSERVICES_STATE")
    if not state_file or not Path(state_file).is_file():
        raise RuntimeError(
            "CARERIX_DEVSERVICES_STATE is not set: run the Odoo tests through "
            "scripts/test.sh, which starts PostgreSQL and Dovecot"
        )
    _pg, dovecot = devservices().load_state(state_file)
    return dovecot


def load_idp():
    """The local identity provider of the test command (see :func:`load_dovecot`)."""
    load_dovecot()  # the same checks
    idp = devservices().load_idp(os.environ["CARERIX_DEVSERVICES_STATE"])
    if idp is None:
        raise RuntimeError("the dev services run no identity provider")
    return idp


def load_sink():
    """The SMTP sink Dovecot's submission service relays to (see
    :func:`load_dovecot`)."""
    load_dovecot()  # the same checks
    sink = devservices().load_sink(os.environ["CARERIX_DEVSERVICES_STATE"])
    if sink is None:
        raise RuntimeError("the dev services run no SMTP sink")
    return sink


def unique(prefix):
    return f"{prefix}{next(_counter)}x{uuid.uuid4().hex[:6]}"


def make_mail(
    sender,
    to,
    subject="Hello",
    body="Hello there",
    cc=None,
    message_id=None,
    in_reply_to=None,
    attachments=(),
    date=None,
):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    if date:
        msg["Date"] = format_datetime(date)
    msg.set_content(body)
    for filename, data, mimetype in attachments:
        maintype, subtype = mimetype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def max_ids(cr):
    """``{table: largest id}`` of every table with an integer ``id``."""
    cr.execute(
        """
        SELECT c.table_name
          FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = current_schema() AND c.column_name = 'id'
           AND c.data_type IN ('integer', 'bigint') AND t.table_type = 'BASE TABLE'
        """
    )
    tables = [name for (name,) in cr.fetchall()]
    cr.execute(
        SQL(" UNION ALL ").join(
            SQL("SELECT %s, MAX(id) FROM %s", name, SQL.identifier(name))
            for name in tables
        )
    )
    return {name: top or 0 for name, top in cr.fetchall()}


def delete_rows_since(env, snapshot):
    """Delete every row added since ``snapshot`` (:func:`max_ids`), in every
    table; returns ``{table: rows deleted}``. Attachments go through the ORM
    (their files too); the rest in SQL, each table again until the rows that
    referred to its rows are gone."""
    cr = env.cr
    cr.execute("SET LOCAL lock_timeout = '20s'")  # never wait for ever
    env["ir.attachment"].search(
        [("id", ">", snapshot.get("ir_attachment", 0))]
    ).unlink()
    pending = [name for name, top in max_ids(cr).items() if top > snapshot.get(name, 0)]
    deleted = {}
    while pending:
        blocked = []
        for name in pending:
            try:
                with cr.savepoint(flush=False):
                    cr.execute(
                        SQL(
                            "DELETE FROM %s WHERE id > %s",
                            SQL.identifier(name),
                            snapshot.get(name, 0),
                        )
                    )
                    deleted[name] = cr.rowcount
            except psycopg2.errors.ForeignKeyViolation:
                blocked.append(name)
        if len(blocked) == len(pending):
            raise RuntimeError(f"committed rows that cannot be deleted: {blocked}")
        pending = blocked
    return deleted


def comment_composer(user, record, values=None, **context):
    """The mail composer of ``user`` on ``record`` (comment mode), created
    with ``values``; ``context`` adds ``default_*`` keys. Without ``values``,
    the composer model (to create it in a test's own way)."""
    context = {
        "default_model": record._name,
        "default_res_ids": record.ids,
        "default_composition_mode": "comment",
        **context,
    }
    Composer = (
        record.env["mail.compose.message"].with_user(user).with_context(**context)
    )
    return Composer if values is None else Composer.create(values)


class SyncCase(TransactionCase):
    """Base class of the tests that run a real sync against Dovecot.

    What a test commits is deleted when it ends: every row added since it
    started (:func:`delete_rows_since`) and the Dovecot accounts it made.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = load_dovecot()

    def setUp(self):
        # Added first, so run last: after the test's transaction is rolled back.
        with self.real_env() as env:
            self.addCleanup(self._delete_committed, max_ids(env.cr))
        super().setUp()

    @contextlib.contextmanager
    def real_env(self, uid=SUPERUSER_ID):
        """An environment on a new cursor that commits when the block ends."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, uid, {})

    def _delete_committed(self, snapshot):
        with self.real_env() as env:
            delete_rows_since(env, snapshot)
            left = {
                name: top
                for name, top in max_ids(env.cr).items()
                if top > snapshot.get(name, 0)
            }
        self.assertEqual(left, {}, "rows committed by the test are left")

    def make_recruiter(self, protocol="imap", password=None, **mailbox_vals):
        """A committed user with a Dovecot account and a configured mailbox.

        Returns ``(user_id, login, email)``.
        """
        login = unique("rec")
        email = f"{login}@agency.example"
        dovecot_password = "pw-" + uuid.uuid4().hex
        self.dovecot.add_user(login, dovecot_password)
        self.addCleanup(self.dovecot.remove_user, login)
        with self.real_env() as env:
            user = new_test_user(
                env, login=login, email=email, name=f"Recruiter {login}"
            )
            box = user._carerix_mailbox(create=True)
            port = (
                self.dovecot.imap_port if protocol == "imap" else self.dovecot.pop3_port
            )
            box.write(
                dict(
                    {
                        "host": self.dovecot.host,
                        "port": port,
                        "login": login,
                        "protocol": protocol,
                        "security": "starttls",
                        "fetch_enabled": True,
                        "ca_file": self.dovecot.ca_file,
                    },
                    **mailbox_vals,
                )
            )
            box._set_password(password or dovecot_password)
            return user.id, login, email

    def deliver(self, login, *args, **kwargs):
        """Deliver ``make_mail(*args, **kwargs)`` to the INBOX of ``login``;
        returns its UID there."""
        return self.dovecot.deliver(login, "INBOX", make_mail(*args, **kwargs))

    def make_partner(self, **vals):
        with self.real_env() as env:
            return env["res.partner"].create(vals).id

    def sync(self, user_id):
        with self.real_env() as env:
            box = env["res.users"].browse(user_id)._carerix_mailbox()
            env["carerix.mailbox"]._claim_and_sync(mailbox_id=box.id)
            return box.read(
                [
                    "state",
                    "last_error",
                    "count_fetched",
                    "count_archived",
                    "count_unmatched",
                ]
            )[0]

    def entries(self, user_id):
        """The synced mail of a user as dicts (read on a fresh cursor)."""
        with self.real_env() as env:
            entries = env["carerix.mailbox.message"].search(
                [("owner_id", "=", user_id)], order="id"
            )
            return [
                {
                    "subject": e.subject,
                    "state": e.state,
                    "direction": e.direction,
                    "folder": e.folder,
                    "partners": set(e.partner_ids.ids),
                    "error": e.error,
                    "copies": sorted(
                        (m.model, m.res_id, m.author_id.id) for m in e.copy_ids
                    ),
                    "attachments": sorted(e.copy_ids.attachment_ids.mapped("name")),
                }
                for e in entries
            ]

    def partner_mail(self, partner_id):
        with self.real_env() as env:
            return (
                env["mail.message"]
                .search(
                    [
                        ("model", "=", "res.partner"),
                        ("res_id", "=", partner_id),
                        ("carerix_mailbox_message_id", "!=", False),
                    ]
                )
                .mapped("subject")
            )


def build_tour_assets(env):
    """Build the asset bundles of a tour before the browser waits for them:
    over a minute on a fresh database, and its "ready" check gives up after
    60 s. Once per database, the next calls find them built."""
    # Touch the static files map once, before the first request.
    odoo.http.root.statics  # noqa: B018  # pylint: disable=pointless-statement
    started = time.monotonic()
    for bundle_name in ("web.assets_web", "web.assets_tests"):
        bundle = env["ir.qweb"]._get_asset_bundle(bundle_name)
        bundle.js()
        bundle.css()
    _logger.info("asset bundles ready in %.0fs", time.monotonic() - started)


def screenshot_on_request(futures):
    """Patch for ChromeBrowser._handle_console: a console line
    ``carerix-screenshot:<name>`` saves a PNG named ``carerix_<name>.png`` in
    the screenshots directory of the configuration."""
    original = ChromeBrowser._handle_console
    directory = Path(odoo.tools.config["screenshots"])

    def save(name, future):
        data = future.result(timeout=0).get("data")
        if data:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"carerix_{name}.png"
            path.write_bytes(base64.b64decode(data))

    def handle_console(browser, type, args=None, **kwargs):  # noqa: A002
        first = browser._from_remoteobject(args[0]) if args else None
        if isinstance(first, str) and first.startswith(SCREENSHOT_PREFIX):
            name = first.removeprefix(SCREENSHOT_PREFIX)
            future = browser._websocket_send(
                "Page.captureScreenshot", params={"format": "png"}, with_future=True
            )
            future.add_done_callback(lambda f, name=name: save(name, f))
            futures[name] = future
        return original(browser, type, args=args, **kwargs)

    return patch.object(ChromeBrowser, "_handle_console", handle_console)


def assert_screenshots(case, futures, names):
    """The tour asked for exactly ``names`` and each was saved as a PNG."""
    concurrent.futures.wait(list(futures.values()), timeout=15)
    case.assertEqual(set(futures), set(names))
    directory = Path(odoo.tools.config["screenshots"])
    for name in futures:
        path = directory / f"carerix_{name}.png"
        case.assertTrue(path.is_file(), path)
        case.assertEqual(path.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
