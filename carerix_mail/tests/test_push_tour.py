"""New mail in the open web client without a reload (Chromium).

The owner has his Inbox open; a mail is appended to his mailbox on the real
Dovecot and synced through the sync of the addon; Odoo's bus brings it to the
page: the message and the Inbox counter appear, the page is not reloaded.
"""

import threading
import time
from unittest.mock import patch

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, get_notify_payloads
from odoo.addons.bus.websocket import WebsocketConnectionHandler

from .common import (
    assert_screenshots,
    build_tour_assets,
    load_dovecot,
    make_mail,
    screenshot_on_request,
    unique,
)

MARKER = "TOURPUSH"


@tagged("post_install", "-at_install")
class TestPushTour(HttpCase):
    browser_size = "1920x1080"

    def setUp(self):
        super().setUp()
        # Odoo refuses websockets during tests; the bus is what is tested here.
        self.startPatcher(
            patch.object(
                WebsocketConnectionHandler, "websocket_allowed", return_value=True
            )
        )
        self.dovecot = load_dovecot()
        self.login = unique("pushowner")
        password = "pw-" + unique("x")
        self.dovecot.add_user(self.login, password)
        self.addCleanup(self.dovecot.remove_user, self.login)
        self.owner = new_test_user(
            self.env,
            login=self.login,
            name="Petra Push",
            email=f"{self.login}@agency.example",
            groups="base.group_user,base.group_partner_manager",
        )
        self.box = self.owner._carerix_mailbox(create=True)
        self.box.write(
            {
                "host": self.dovecot.host,
                "port": self.dovecot.imap_port,
                "login": self.login,
                "security": "starttls",
                "fetch_enabled": True,
                "ca_file": self.dovecot.ca_file,
                # Synced before: what arrives now is new mail, not history.
                "last_sync_ok": fields.Datetime.now(),
            }
        )
        self.box._set_password(password)

    def _deliver_and_sync(self, futures, errors):
        """Once the tour waits, append a mail on the server and sync it."""
        try:
            deadline = time.monotonic() + 60
            while "push_waiting" not in futures and time.monotonic() < deadline:
                time.sleep(0.1)
            self.dovecot.deliver(
                self.login,
                "INBOX",
                make_mail(
                    "Carla Candidate <carla@candidate.example>",
                    self.owner.email,
                    f"My answer {MARKER}",
                    "Yes, I am available on Tuesday.",
                ),
            )
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                box = env["carerix.mailbox"].browse(self.box.id)
                stats = {"fetched": 0, "archived": 0, "unmatched": 0, "skipped": 0}
                with box._open() as client:
                    box._sync_imap(client, stats)  # commits: the bus rows are in
                errors.extend([] if stats["archived"] == 1 else [stats])
                channel = channel_with_db(cr.dbname, box.user_id.partner_id)
            # A test cursor drops the post-commit hooks, among them the bus's
            # NOTIFY: sent here as the commit of a real cursor sends it.
            with odoo.sql_db.db_connect("postgres").cursor() as pg_cr:
                for payload in get_notify_payloads([channel]):
                    pg_cr.execute("SELECT pg_notify('imbus', %s)", [payload])
        except Exception as error:  # reported by the test
            errors.append(error)

    def test_new_mail_appears_without_reload(self):
        build_tour_assets(self.env)
        futures, errors = {}, []
        worker = threading.Thread(target=self._deliver_and_sync, args=(futures, errors))
        with screenshot_on_request(futures):
            worker.start()
            self.start_tour("/odoo/discuss", "carerix_mail_push_tour", login=self.login)
        worker.join(30)
        self.assertEqual(errors, [])
        assert_screenshots(self, futures, ["push_waiting", "push_arrived"])
