"""Mail in seconds on every deployment: sync requests (owner online, *My mail*,
*Sync now*) served by their own cron, the 5-minute sweep with online owners
first, and new mail pushed live to the owner's web client after its commit."""

import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.bus.models.bus_presence import BusPresence
from odoo.addons.carerix_mail.models.carerix_mailbox_folder import (
    CarerixMailboxFolder,
)

from .common import SyncCase, unique

CRON = "carerix_mail.carerix_mailbox_sync_request_cron"


@tagged("post_install", "-at_install")
class TestSyncRequest(SyncCase):
    def _box_id(self, user_id):
        with self.real_env() as env:
            return env["res.users"].browse(user_id)._carerix_mailbox().id

    def _requests(self):
        with self.real_env() as env:
            return {
                r.mailbox_id.id: r.reason
                for r in env["carerix.mailbox.sync.request"].search([])
            }

    def _triggers(self):
        with self.real_env() as env:
            return env["ir.cron.trigger"].search_count(
                [("cron_id", "=", env.ref(CRON).id)]
            )

    def _hold_claim(self, box_id):
        """A cursor holding the mailbox row as a running sync does."""
        cr = self.registry.cursor()
        self.addCleanup(cr.close)
        cr.execute(
            "SELECT id FROM carerix_mailbox WHERE id = %s FOR NO KEY UPDATE",
            [box_id],
        )
        return cr

    def _come_online(self, user_id, lock_timeout="1s"):
        with self.real_env(user_id) as env:
            env.cr.execute("SET LOCAL lock_timeout = %s", [lock_timeout])
            env["bus.presence"]._update_presence(0, "user_id", user_id)

    def test_presence_of_a_user_without_mailbox_costs_what_it_costs_in_odoo(self):
        self.make_recruiter()  # recruiters exist, this user is none of them
        with self.real_env() as env:
            plain = env["res.users"].create(
                {"name": "Plain", "login": unique("plain"), "email": "p@x.example"}
            )
            stock = BusPresence._update_presence.__get__(env["bus.presence"])
            stock(0, "user_id", plain.id)  # his presence row exists
            env["res.users"]._carerix_recruiter_partners()  # cached, as usual
            env.flush_all()
            ours = env["bus.presence"]._update_presence
            counts = []
            for update in (stock, ours, stock, ours):  # the first round warms up
                env.invalidate_all()
                before = env.cr.sql_log_count
                update(0, "user_id", plain.id)
                env.flush_all()
                counts.append(env.cr.sql_log_count - before)
            self.assertEqual(counts[3], counts[2], counts)
            self.assertGreater(counts[2], 0)
        self.assertEqual(self._requests(), {})

    def test_owner_online_requests_sync_served_by_its_cron(self):
        user_id, login, email = self.make_recruiter()
        box_id = self._box_id(user_id)
        self.sync(user_id)  # first sync done: new mail is not history
        self.deliver(login, "cand@mail.example", email, "While away")
        triggers = self._triggers()
        self._come_online(user_id)
        self.assertEqual(self._requests(), {box_id: "online"})
        self.assertEqual(self._triggers(), triggers + 1)  # the cron is woken
        # Still online a poll later: no new request.
        with self.real_env() as env:
            env["carerix.mailbox.sync.request"].search([]).unlink()
        self._come_online(user_id)
        self.assertEqual(self._requests(), {})
        # Back after the disconnection delay: asked again, then served.
        with self.real_env() as env:
            presence = env["bus.presence"].search([("user_id", "=", user_id)])
            presence.last_poll = fields.Datetime.now() - timedelta(minutes=5)
        self._come_online(user_id)
        with self.real_env() as env:
            self.assertEqual(env["carerix.mailbox.sync.request"]._cron_serve(), 1)
        self.assertEqual(self._requests(), {})
        self.assertEqual([e["subject"] for e in self.entries(user_id)], ["While away"])

    def test_presence_never_waits_on_a_running_sync(self):
        user_id, _login, _email = self.make_recruiter()
        box_id = self._box_id(user_id)
        self._hold_claim(box_id)
        # A lock wait would fail here after 1 s (lock_timeout).
        self._come_online(user_id)
        self.assertEqual(self._requests(), {box_id: "online"})
        # The cron finds it busy: it asks again a little later.
        with self.real_env() as env:
            self.assertEqual(env["carerix.mailbox.sync.request"]._cron_serve(), 0)
        self.assertEqual(self._requests(), {box_id: "sync_now"})

    def test_opening_my_mail_requests_a_sync(self):
        user_id, _login, _email = self.make_recruiter()
        other_id, _other, _mail = self.make_recruiter()
        with self.real_env(user_id) as env:
            action = env["carerix.mailbox.message"].action_open_my_mail()
            self.assertEqual(action["res_model"], "carerix.mailbox.message")
            menu = env.ref("carerix_mail.carerix_mailbox_message_menu")
            self.assertEqual(
                menu.action, env.ref("carerix_mail.carerix_mailbox_message_action_open")
            )
        self.assertEqual(self._requests(), {self._box_id(user_id): "my_mail"})
        self.assertNotIn(self._box_id(other_id), self._requests())

    def test_sync_now_on_a_busy_mailbox_requests_a_sync(self):
        user_id, _login, _email = self.make_recruiter()
        box_id = self._box_id(user_id)
        self._hold_claim(box_id)
        with self.real_env(user_id) as env:
            result = env["res.users"].browse(user_id).action_mailbox_sync_now()
        self.assertEqual(result["params"]["type"], "info")
        self.assertEqual(self._requests(), {box_id: "sync_now"})

    def test_mailbox_without_fetching_is_not_requested(self):
        user_id, _login, _email = self.make_recruiter(fetch_enabled=False)
        self._come_online(user_id)
        self.assertEqual(self._requests(), {})

    def test_sweep_takes_online_owners_first(self):
        away_id, _a, _b = self.make_recruiter()
        online_id, _c, _d = self.make_recruiter()
        away_box, online_box = self._box_id(away_id), self._box_id(online_id)
        with self.real_env() as env:
            boxes = env["carerix.mailbox"].browse([away_box, online_box])
            # The away owner's mailbox waited longer: without presence, first.
            boxes[0].last_attempt = fields.Datetime.now() - timedelta(hours=1)
            boxes[1].last_attempt = fields.Datetime.now()
            others = env["carerix.mailbox"].search([("id", "not in", boxes.ids)])
        self._come_online(online_id)
        with self.real_env() as env:
            claimed = env["carerix.mailbox"]._claim_and_sync(exclude=others.ids)
        self.assertEqual(claimed, online_box)


@tagged("post_install", "-at_install")
class TestLivePush(SyncCase):
    def _bus_inbox(self, since):
        """``[(partner id, message id)]`` of the Inbox bus notifications sent."""
        with self.real_env() as env:
            rows = env["bus.bus"].search([("id", ">", since)])
            found = []
            for row in rows:
                message = json.loads(row.message)
                if message["type"] != "mail.message/inbox":
                    continue
                _db, model, partner_id = json.loads(row.channel)
                if model == "res.partner":
                    found += [
                        (partner_id, m["id"])
                        for m in message["payload"]["mail.message"]
                    ]
            return found

    def _last_bus_id(self):
        with self.real_env() as env:
            return env["bus.bus"].search([], order="id desc", limit=1).id or 0

    def test_new_mail_pushed_to_the_owner_only_after_commit(self):
        user_id, login, email = self.make_recruiter()
        cand_email = f"{unique('cand')}@mail.example"
        self.make_partner(name="Candidate", email=cand_email)
        self.deliver(login, cand_email, email, "History")
        since = self._last_bus_id()
        self.sync(user_id)
        self.assertEqual(self._bus_inbox(since), [])  # history: no Inbox push
        self.deliver(login, cand_email, email, "Application")
        since = self._last_bus_id()
        # The batch is archived, then the cursor write fails: all rolled back.
        with patch.object(
            CarerixMailboxFolder, "write", side_effect=RuntimeError("boom")
        ):
            self.assertEqual(self.sync(user_id)["state"], "failing")
        self.assertEqual(self._bus_inbox(since), [])
        self.assertEqual([e["subject"] for e in self.entries(user_id)], ["History"])
        # The next sync commits it, and pushes it once, to the owner.
        self.sync(user_id)
        with self.real_env() as env:
            owner_partner = env["res.users"].browse(user_id).partner_id.id
            notified = env["mail.notification"].search(
                [("res_partner_id", "=", owner_partner)]
            )
            owner_copy = notified.mail_message_id.filtered(
                lambda m: m.subject == "Application"
            )
        self.assertEqual(len(owner_copy), 1)
        self.assertEqual(self._bus_inbox(since), [(owner_partner, owner_copy.id)])

    def test_confidential_mail_pushed_to_its_owner_only(self):
        user_id, login, email = self.make_recruiter(incoming_confidential=True)
        self.sync(user_id)
        self.deliver(login, "cand@mail.example", email, "Secret")
        since = self._last_bus_id()
        self.sync(user_id)
        with self.real_env() as env:
            owner_partner = env["res.users"].browse(user_id).partner_id.id
        pushed = self._bus_inbox(since)
        self.assertEqual(len(pushed), 1)
        self.assertEqual({partner for partner, _message in pushed}, {owner_partner})
