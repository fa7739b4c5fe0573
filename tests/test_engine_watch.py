"""The push watcher against a real Dovecot: NOTIFY, IDLE, polling, reconnects."""

import threading
import time

import pytest
from devservices import Dovecot

from carerix_mail.engine import ImapMailbox
from carerix_mail.engine.watch import IDLE, NOTIFY, POLL, Watcher
from conftest import _new_user

# What Dovecot 2.3 announces after login, less the push extensions.
_BASE_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND UNSELECT "
    "CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC "
    "ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE "
    "LITERAL+ SPECIAL-USE"
)
FOLDERS = ("INBOX", "Sent")


@pytest.fixture(scope="module")
def dovecot_idle_only(tmp_path_factory):
    server = Dovecot(
        tmp_path_factory.mktemp("dovecot-idle"),
        starttls=False,
        imap_capability=_BASE_CAPABILITIES + " IDLE",
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dovecot_no_push(tmp_path_factory):
    server = Dovecot(
        tmp_path_factory.mktemp("dovecot-nopush"),
        starttls=False,
        imap_capability=_BASE_CAPABILITIES,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot_own(tmp_path):
    """A Dovecot of its own, for a test that restarts it."""
    server = Dovecot(tmp_path / "dc", starttls=False).start()
    try:
        yield server
    finally:
        server.stop()


class Recorder:
    """Collects the watcher's calls, and syncs like a caller would: from UID
    cursors, so every message is seen exactly once."""

    def __init__(self, settings, sync=False):
        self.settings = settings
        self.sync = sync
        self.events = []
        self.seen = []  # (folder, uid) of every message synced
        self.cursors = {}
        self._cond = threading.Condition()

    def __call__(self, key, folders, reason):
        with self._cond:
            self.events.append((time.monotonic(), key, folders, reason))
            if self.sync:
                self._sync(folders)
            self._cond.notify_all()

    def _sync(self, folders):
        with ImapMailbox(self.settings) as mailbox:
            for folder in sorted(folders):
                sync = mailbox.sync_folder(folder, self.cursors.get(folder))
                for batch in sync:
                    self.seen += [(folder, m.uid) for m in batch.messages]
                    self.cursors[folder] = batch.cursor

    def wait(self, predicate, timeout=5.0):
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.events), timeout), (
                self.events
            )
            return [e for e in self.events if predicate([e])]

    def reason_count(self, reason):
        return sum(1 for e in self.events if e[3] == reason)


def _has(folder, reason=None, after=0.0):
    def predicate(events):
        return any(
            at >= after and folder in folders and reason in (None, why)
            for at, _key, folders, why in events
        )

    return predicate


def _user_with_sent(server):
    user = _new_user(server)
    time.sleep(1.1)  # Dovecot re-reads a passwd-file at most once a second
    server.create_folder(user.login, "Sent")
    return user


def _settings(user, server):
    return user.settings(port=server.imap_port)


def _deliver(server, user, folder, n=1):
    """Deliver one message; the time of the server's OK."""
    server.deliver(user.login, folder, b"Subject: m%d\r\n\r\nhello\r\n" % n)
    return time.monotonic()


@pytest.fixture
def watcher_factory():
    watchers = []

    def make(on_change, **options):
        watcher = Watcher(on_change, **options).start()
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        watcher.stop()


def _watching(server, watcher_factory, mode, **options):
    """A fresh user with a Sent folder, watched in ``mode``."""
    user = _user_with_sent(server)
    recorder = Recorder(_settings(user, server))
    watcher = watcher_factory(recorder, **options)
    watcher.watch("k", _settings(user, server), FOLDERS)
    recorder.wait(_has("INBOX", "connected"))
    assert watcher.modes() == {"k": mode}
    return user, recorder


def _seen_within_2s(server, user, recorder, folder, reason):
    """Deliver to ``folder``; the watcher reports it within 2 s of the OK."""
    ok_at = _deliver(server, user, folder)
    events = recorder.wait(_has(folder, reason, ok_at))
    latency = min(at for at, *_rest in events) - ok_at
    assert latency < 2.0, latency


def test_engine_watch_notify_sees_inbox_and_sent_within_2s(dovecot, watcher_factory):
    user, recorder = _watching(dovecot, watcher_factory, NOTIFY)
    for folder in FOLDERS:
        _seen_within_2s(dovecot, user, recorder, folder, "notified")


def test_engine_watch_idle_when_no_notify(dovecot_idle_only, watcher_factory):
    server = dovecot_idle_only
    user, recorder = _watching(server, watcher_factory, IDLE, status_interval=0.5)
    _seen_within_2s(server, user, recorder, "INBOX", "notified")
    # Sent is not under IDLE: its periodic STATUS sees it.
    _seen_within_2s(server, user, recorder, "Sent", "status")


def test_engine_watch_idle_reissued(dovecot, watcher_factory):
    user = _user_with_sent(dovecot)
    recorder = Recorder(_settings(user, dovecot))
    watcher = watcher_factory(recorder, idle_refresh=0.3)
    watcher.watch("c", _settings(user, dovecot), FOLDERS)
    recorder.wait(_has("INBOX", "connected"))
    time.sleep(1.2)  # IDLE ended and issued again a few times
    ok_at = _deliver(dovecot, user, "INBOX")
    events = recorder.wait(_has("INBOX", None, ok_at))
    assert min(at for at, *_rest in events) - ok_at < 2.0
    assert recorder.reason_count("connected") == 1  # never reconnected


def test_engine_watch_polls_without_idle_or_notify(dovecot_no_push, watcher_factory):
    server = dovecot_no_push
    user, recorder = _watching(server, watcher_factory, POLL, poll_interval=0.5)
    with ImapMailbox(_settings(user, server)) as mailbox:
        assert b"IDLE" not in mailbox.capabilities
        assert b"NOTIFY" not in mailbox.capabilities
    for folder in FOLDERS:
        _seen_within_2s(server, user, recorder, folder, "status")


def test_engine_watch_kicked_reconnects_and_catches_up(dovecot, watcher_factory):
    user = _user_with_sent(dovecot)
    settings = _settings(user, dovecot)
    recorder = Recorder(settings, sync=True)
    watcher = watcher_factory(recorder, backoff=0.5)
    _deliver(dovecot, user, "INBOX", 1)
    watcher.watch("e", settings, FOLDERS)
    recorder.wait(_has("INBOX", "connected"))
    kicked_at = time.monotonic()
    dovecot.doveadm("kick", user.login)
    _deliver(dovecot, user, "INBOX", 2)  # while the watcher is away
    recorder.wait(lambda events: recorder.reason_count("connected") >= 2)
    assert time.monotonic() - kicked_at < 5.0
    _deliver(dovecot, user, "Sent", 3)
    recorder.wait(lambda events: len(recorder.seen) >= 3)
    time.sleep(0.7)  # no late duplicate
    assert sorted(recorder.seen) == [("INBOX", 1), ("INBOX", 2), ("Sent", 1)]


def test_engine_watch_server_restart_reconnects(dovecot_own, watcher_factory):
    server = dovecot_own
    user = _user_with_sent(server)
    settings = _settings(user, server)
    recorder = Recorder(settings, sync=True)
    watcher = watcher_factory(recorder, backoff=0.3)
    watcher.watch("f", settings, FOLDERS)
    recorder.wait(_has("INBOX", "connected"))
    _deliver(server, user, "INBOX", 1)
    recorder.wait(lambda events: len(recorder.seen) >= 1)
    server.restart()
    _deliver(server, user, "INBOX", 2)
    recorder.wait(lambda events: recorder.reason_count("connected") >= 2, 10.0)
    recorder.wait(lambda events: len(recorder.seen) >= 2)
    assert watcher.modes() == {"f": NOTIFY}
    ok_at = _deliver(server, user, "INBOX", 3)
    recorder.wait(_has("INBOX", "notified", ok_at))
    recorder.wait(lambda events: len(recorder.seen) >= 3)
    assert sorted(recorder.seen) == [("INBOX", 1), ("INBOX", 2), ("INBOX", 3)]


def test_engine_watch_stop_logs_out_within_2s(dovecot, watcher_factory):
    users = [_user_with_sent(dovecot) for _ in range(3)]
    recorder = Recorder(None)
    watcher = Watcher(recorder).start()
    for n, user in enumerate(users):
        watcher.watch(n, _settings(user, dovecot), FOLDERS)
    recorder.wait(lambda events: recorder.reason_count("connected") == 3)
    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < 2.0
    deadline = time.monotonic() + 2.0
    who = "?"
    while time.monotonic() < deadline:
        who = dovecot.doveadm("who")
        if not any(user.login in who for user in users):
            break
        time.sleep(0.1)
    assert not any(user.login in who for user in users), who
    assert "Logged out" in dovecot.log_file.read_text().split(users[0].login, 1)[1]


def test_engine_watch_unwatch_and_new_settings(dovecot, watcher_factory):
    user = _user_with_sent(dovecot)
    recorder = Recorder(None)
    watcher = watcher_factory(recorder)
    watcher.watch("g", _settings(user, dovecot), ("INBOX",))
    recorder.wait(lambda events: recorder.reason_count("connected") == 1)
    watcher.watch("g", _settings(user, dovecot), ("INBOX",))  # unchanged: kept
    watcher.watch("g", _settings(user, dovecot), FOLDERS)  # changed: reconnects
    recorder.wait(lambda events: recorder.reason_count("connected") == 2)
    assert recorder.events[-1][2] == frozenset(FOLDERS)
    watcher.unwatch("g")
    ok_at = _deliver(dovecot, user, "INBOX")
    time.sleep(1.2)
    assert not [e for e in recorder.events if e[0] >= ok_at]
    assert watcher.modes() == {}
