"""The push runner as it runs in production: ``odoo carerix_push`` processes
against this database and the real Dovecot. One leads, a standby takes over
when the leader is killed, nothing is archived twice, SIGTERM logs out."""

import logging
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.carerix_mail.push_runner import preflight

from .common import SyncCase

_logger = logging.getLogger(__name__)
LEADING = "Push runner: leading database"


class Runner:
    """One ``odoo carerix_push`` process, its log in a file of its own."""

    def __init__(self, dbname, name, directory):
        self.log = Path(directory) / f"{name}.log"
        self.log.touch()
        argv = [
            sys.executable,
            "-m",
            "odoo",
            f"--addons-path={config['addons_path']}",
            "carerix_push",
            "--standby-poll=1",
            "--reload-interval=1",
            f"--config={config.rcfile}",
            f"--database={dbname}",
            f"--logfile={self.log}",
            "--log-level=info",
        ]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)

    def text(self):
        return self.log.read_text(errors="replace")

    @property
    def leading(self):
        return LEADING in self.text()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


@tagged("post_install", "-at_install")
class TestPushRunner(SyncCase):
    def setUp(self):
        super().setUp()
        self.directory = tempfile.mkdtemp(prefix="carerix-push-")

    def start_runner(self, name):
        runner = Runner(self.env.cr.dbname, name, self.directory)
        self.addCleanup(runner.kill)  # before the committed rows are deleted
        return runner

    def subjects(self, user_id):
        return sorted(entry["subject"] for entry in self.entries(user_id))

    def arrives(self, user_id, login, email, subject, timeout=10.0):
        """Deliver, then wait until archived; seconds from APPEND's OK."""
        self.deliver(login, "cand@mail.example", email, subject)
        ok_at = time.monotonic()
        wait_for(
            lambda: subject in self.subjects(user_id), timeout, f"{subject} archived"
        )
        return time.monotonic() - ok_at

    def test_watch_list_first_sync_done_imap_only(self):
        synced_id, _login, _email = self.make_recruiter()
        new_id, _new, _mail = self.make_recruiter()
        pop_id, _pop, _pmail = self.make_recruiter(protocol="pop3")
        self.sync(synced_id)
        self.sync(pop_id)
        with self.real_env() as env:
            boxes = {
                user: env["res.users"].browse(user)._carerix_mailbox().id
                for user in (synced_id, new_id, pop_id)
            }
            watched = env["carerix.mailbox"]._push_watch_list()
        self.assertIn(boxes[synced_id], watched)
        settings, folders = watched[boxes[synced_id]]
        self.assertEqual(folders[0], "INBOX")
        self.assertEqual(settings.protocol, "imap")
        self.assertNotIn(boxes[new_id], watched)  # first sync: the cron's
        self.assertNotIn(boxes[pop_id], watched)

    def test_watch_signature_ignores_the_sync_health(self):
        user_id, _login, _email = self.make_recruiter()
        self.sync(user_id)

        def signature():
            with self.real_env() as env:
                return env["carerix.mailbox"]._push_watch_signature()

        before = signature()
        self.sync(user_id)  # writes the health (last_attempt, counters)
        self.assertEqual(signature(), before)
        with self.real_env() as env:
            env["res.users"].browse(user_id)._carerix_mailbox().port = 1
        self.assertNotEqual(signature(), before)

    def test_two_runners_one_leads_takeover_nothing_twice(self):
        user_id, login, email = self.make_recruiter()
        self.sync(user_id)
        first, second = self.start_runner("a"), self.start_runner("b")
        leader = wait_for(
            lambda: next((r for r in (first, second) if r.leading), None),
            60,
            "a runner leads",
        )
        standby = second if leader is first else first
        latency = self.arrives(user_id, login, email, "Before the crash")
        self.assertLess(latency, 5.0)
        self.assertFalse(standby.leading)
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)
        killed_at = time.monotonic()
        wait_for(lambda: standby.leading, 15, "the standby takes over")
        takeover = time.monotonic() - killed_at
        after = self.arrives(user_id, login, email, "After the crash", timeout=20)
        for n in range(5):
            self.deliver(login, "cand@mail.example", email, f"Burst {n}")
        wait_for(lambda: len(self.subjects(user_id)) == 7, 20, "the burst is archived")
        time.sleep(1.5)  # nothing archived late, nothing twice
        self.assertEqual(
            self.subjects(user_id),
            sorted(
                ["Before the crash", "After the crash"]
                + [f"Burst {n}" for n in range(5)]
            ),
        )
        _logger.info(
            "push runner: archived %.2f s after APPEND, takeover %.2f s, "
            "first mail after takeover %.2f s",
            latency,
            takeover,
            after,
        )

    def test_sigterm_logs_out_within_2s(self):
        user_id, login, email = self.make_recruiter()
        self.sync(user_id)
        runner = self.start_runner("solo")
        wait_for(lambda: runner.leading, 60, "the runner leads")
        self.arrives(user_id, login, email, "Watched")
        wait_for(lambda: login in self.dovecot.doveadm("who"), 10, "watching")
        runner.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        runner.process.wait(10)
        self.assertLess(time.monotonic() - started, 3.0)  # 2 s, plus exit
        self.assertEqual(runner.process.returncode, 0)
        self.assertIn("stopped", runner.text())
        wait_for(lambda: login not in self.dovecot.doveadm("who"), 5, "no session left")

    def test_preflight_warns_on_low_limits(self):
        warnings = preflight(open_files=1024, inotify_instances=128)
        self.assertEqual(len(warnings), 2)
        self.assertIn("open-files limit is 1024", warnings[0])
        self.assertIn("max_user_instances is 128", warnings[1])
        self.assertEqual(preflight(open_files=65536, inotify_instances=8192), [])
