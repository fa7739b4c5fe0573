"""The scheduled sync stops before Odoo's real-time limit of a cron job."""

import time
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from odoo.addons.carerix_mail.models import carerix_mailbox as mailbox_module
from odoo.addons.carerix_mail.models.carerix_mailbox import (
    CRON_MAX_TIME_BUDGET,
    CRON_MIN_TIME_BUDGET,
    CRON_TIME_MARGIN,
    CRON_WORKER_SLEEP,
    cron_time_budget,
)

from .common import SyncCase


def options(real=120, cron=-1, workers=0):
    return {
        "limit_time_real": real,
        "limit_time_real_cron": cron,
        "workers": workers,
    }


@tagged("post_install", "-at_install")
class TestCronTimeBudget(TransactionCase):
    def test_budget_follows_the_limits_odoo_applies(self):
        sleep = CRON_WORKER_SLEEP
        cases = {
            # Odoo's defaults, without and with workers: limit_time_real.
            "threads": (options(), 120 - CRON_TIME_MARGIN),
            "workers": (options(workers=4), 120 - sleep - CRON_TIME_MARGIN),
            # limit_time_real_cron above 0 wins in both modes.
            "threads, cron limit": (options(cron=90), 90 - CRON_TIME_MARGIN),
            "workers, cron limit": (
                options(cron=200, workers=4),
                200 - sleep - CRON_TIME_MARGIN,
            ),
            # 0: no limit with workers; limit_time_real without.
            "workers, cron 0": (options(cron=0, workers=4), CRON_MAX_TIME_BUDGET),
            "threads, cron 0": (options(cron=0), 120 - CRON_TIME_MARGIN),
            "threads, no limit": (options(real=0), CRON_MAX_TIME_BUDGET),
            # Never above the maximum, never below the minimum.
            "long limit": (options(real=3600), CRON_MAX_TIME_BUDGET),
            "limit below the sleep": (
                options(cron=60, workers=4),
                CRON_MIN_TIME_BUDGET,
            ),
        }
        for name, (values, expected) in cases.items():
            with self.subTest(name):
                self.assertEqual(cron_time_budget(values), expected)

    def test_default_budget_fits_in_odoos_default_limit(self):
        for workers in (0, 2):
            with (
                self.subTest(workers=workers),
                patch.dict(config.options, options(workers=workers)),
            ):
                budget = cron_time_budget()
                counted = budget + (CRON_WORKER_SLEEP if workers else 0)
                self.assertGreaterEqual(budget, CRON_MIN_TIME_BUDGET)
                self.assertLessEqual(counted + CRON_TIME_MARGIN, 120)

    def test_cron_sync_uses_the_budget_of_the_configuration(self):
        deadlines = []

        def claim(model, mailbox_id=None, exclude=(), deadline=None):
            deadlines.append(deadline - time.monotonic())

        Box = self.env["carerix.mailbox"]
        for values in (options(cron=90), options(real=150, workers=3)):
            with (
                self.subTest(values=values),
                patch.dict(config.options, values),
                patch.object(type(Box), "_claim_and_sync", claim),
            ):
                deadlines.clear()
                self.assertEqual(Box._cron_sync(), 0)
                self.assertEqual(len(deadlines), 1)
                self.assertAlmostEqual(deadlines[0], cron_time_budget(values), delta=1)


@tagged("post_install", "-at_install")
class TestSyncStopsAtTheDeadline(SyncCase):
    """A mailbox synced when time is up stops after its current batch; the
    next runs go on where it stopped, and only a sync that got everything
    counts as completed (until then, mail is the first sync's history)."""

    def run_until_complete(self, user_id, protocol):
        fetched, completed = [], []
        with self.real_env() as env:
            box_id = env["res.users"].browse(user_id)._carerix_mailbox().id
        with patch.object(mailbox_module, "SYNC_BATCH_SIZE", 2):
            for _run in range(6):
                with self.real_env() as env:
                    Box = env["carerix.mailbox"]
                    # Time is up from the start: one batch per run.
                    Box._claim_and_sync(mailbox_id=box_id, deadline=time.monotonic())
                    box = Box.browse(box_id)
                    self.assertEqual(box.state, "ok", box.last_error)
                    fetched.append(box.count_fetched)
                    completed.append(bool(box.last_sync_ok))
                if completed[-1]:
                    return fetched, completed
        self.fail(f"{protocol}: never completed: {fetched}")

    def test_imap_and_pop3(self):
        for protocol in ("imap", "pop3"):
            with self.subTest(protocol=protocol):
                user_id, login, email = self.make_recruiter(protocol=protocol)
                subjects = [f"{protocol} {n}" for n in range(5)]
                for subject in subjects:
                    self.deliver(login, "a@b.example", email, subject)
                fetched, completed = self.run_until_complete(user_id, protocol)
                self.assertEqual(fetched[:3], [2, 4, 5])
                self.assertEqual(fetched[-1], 5)
                self.assertEqual(completed[-1], True)
                self.assertNotIn(True, completed[:-1])
                archived = sorted(e["subject"] for e in self.entries(user_id))
                self.assertEqual(archived, subjects)
