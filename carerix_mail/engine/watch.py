"""Push watching of IMAP mailboxes: one selector thread, one connection each.

A :class:`Watcher` holds one logged-in connection per watched mailbox and calls
``on_change(key, folders, reason)`` when something may have arrived in one of
its folders. It syncs nothing itself: the caller does, and its UID cursors make
a sync after a false alarm cost one STATUS, and a catch-up after a reconnect
exact. Per connection it uses, in order of preference:

``notify``
    NOTIFY (RFC 5465) on all the folders at once (``* STATUS`` for each new
    message), inside IDLE when the server offers it;
``idle``
    IDLE (RFC 2177) on the first folder (INBOX), plus a STATUS of the other
    folders every ``status_interval`` seconds;
``poll``
    a STATUS of every folder every ``poll_interval`` seconds.

IDLE is re-issued every ``idle_refresh`` seconds (RFC 2177 asks for less than
29 minutes), the socket has TCP keepalive, and a lost connection is opened again
after a backoff with jitter; ``on_change`` is then called with reason
``"connected"`` for every folder, so the caller catches up.

Only the selector thread reads a listening connection; connecting, STATUS and
re-issuing IDLE (blocking round trips) run in a small pool of threads, which
own the connection meanwhile. ``on_change`` is called from either: it must be
quick (queue the sync, do not run it).
"""

import concurrent.futures
import contextlib
import heapq
import imaplib
import itertools
import logging
import queue
import random
import selectors
import socket
import ssl
import threading
import time

from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response

from .imap import ImapMailbox

_logger = logging.getLogger(__name__)

NOTIFY, IDLE, POLL = "notify", "idle", "poll"
_READ_MORE = (BlockingIOError, ssl.SSLWantReadError)
_KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4))


class _Watch:
    """One watched mailbox; owned by the selector thread or by one job."""

    def __init__(self, key, settings, folders):
        self.key = key
        self.settings = settings
        self.folders = tuple(folders)
        self.mode = None
        self.mailbox = None
        self.connected_at = None
        self.attempt = 0
        self.marks = {}  # folder -> (UIDVALIDITY, UIDNEXT) seen by STATUS
        self.removed = False
        self.listening = False  # in IDLE (or waiting for NOTIFY) on the socket
        self.epoch = 0  # timers of an earlier connection or state are stale

    @property
    def sock(self):
        return self.mailbox.client._imap.sock


class Watcher:
    """Watch IMAP mailboxes for new mail; see the module documentation."""

    def __init__(
        self,
        on_change,
        *,
        workers=4,
        idle_refresh=600.0,
        status_interval=60.0,
        poll_interval=60.0,
        backoff=1.0,
        max_backoff=300.0,
        stable_after=30.0,
    ):
        self.on_change = on_change
        self.idle_refresh = idle_refresh
        self.status_interval = status_interval
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="carerix-watch"
        )
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._inbox = queue.SimpleQueue()
        self._watches = {}
        self._timers = []
        self._sequence = itertools.count()
        self._stopping = threading.Event()
        self._thread = None

    # -- public API (any thread) -----------------------------------------------------

    def start(self):
        self._thread = threading.Thread(
            target=self._loop, name="carerix-watch-selector", daemon=True
        )
        self._thread.start()
        return self

    def watch(self, key, settings, folders=("INBOX",)):
        """Watch ``folders`` of the IMAP mailbox ``settings`` under ``key``;
        watching a key again with other settings or folders reconnects."""
        self._post("watch", _Watch(key, settings, folders))

    def unwatch(self, key):
        """Stop watching ``key`` and log out of its connection."""
        self._post("unwatch", key)

    def modes(self):
        """``{key: mode}`` of the connected mailboxes (a snapshot)."""
        return {
            key: watch.mode
            for key, watch in list(self._watches.items())
            if watch.mailbox is not None
        }

    def stop(self, timeout=2.0):
        """Log out of every connection, within ``timeout`` seconds overall."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        watches = [w for w in self._watches.values() if w.mailbox is not None]
        self._watches.clear()
        futures = [self._pool.submit(self._logout, w, deadline) for w in watches]
        concurrent.futures.wait(futures, max(0.0, deadline - time.monotonic()))
        for watch in watches:  # whatever did not say goodbye in time
            self._close(watch, goodbye=False)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- selector thread ---------------------------------------------------------------

    def _post(self, *message):
        self._inbox.put(message)
        self._wake()

    def _wake(self):
        # closed by stop(), or full: it wakes anyway
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _loop(self):
        while not self._stopping.is_set():
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for key, _events in self._selector.select(timeout):
                if key.data is None:
                    self._drain_wake()
                else:
                    self._readable(key.data)
            self._handle_messages()
            self._run_timers()

    def _drain_wake(self):
        with contextlib.suppress(*_READ_MORE):
            while self._wake_r.recv(4096):
                continue

    def _handle_messages(self):
        while True:
            try:
                kind, *args = self._inbox.get_nowait()
            except queue.Empty:
                return
            getattr(self, "_on_" + kind)(*args)

    def _on_watch(self, watch):
        old = self._watches.get(watch.key)
        if old is not None:
            if (old.settings, old.folders) == (watch.settings, watch.folders):
                return
            self._on_unwatch(watch.key)
        self._watches[watch.key] = watch
        self._submit(watch, self._job_connect)

    def _on_unwatch(self, key):
        watch = self._watches.pop(key, None)
        if watch is None:
            return
        watch.removed = True
        if watch.listening:  # not in a job: nobody else will close it
            self._unlisten(watch)
            self._pool.submit(self._logout, watch, time.monotonic() + 2.0)

    def _on_listen(self, watch):
        """A job left ``watch`` connected and listening (or polling)."""
        if watch.removed:
            self._pool.submit(self._logout, watch, time.monotonic() + 2.0)
            return
        watch.epoch += 1
        now = time.monotonic()
        if watch.mode == POLL:
            self._schedule(watch, now + self.poll_interval, self._job_poll)
            return
        watch.sock.setblocking(False)
        watch.listening = True
        self._selector.register(watch.sock, selectors.EVENT_READ, watch)
        delay = self.idle_refresh
        if watch.mode == IDLE and len(watch.folders) > 1:
            delay = min(delay, self.status_interval)
        self._schedule(watch, now + delay, self._job_refresh)
        if watch.mailbox.client._imap._engine_reader.buffered:
            self._readable(watch)

    def _on_lost(self, watch):
        """A job found the connection broken: open it again after a backoff."""
        if watch.removed:
            return
        watch.epoch += 1
        if watch.connected_at and time.monotonic() - watch.connected_at > (
            self.stable_after
        ):
            watch.attempt = 0
        delay = min(self.max_backoff, self.backoff * 2**watch.attempt)
        delay *= random.uniform(0.5, 1.0)
        watch.attempt += 1
        _logger.info(
            "IMAP watch of %s: connection lost, reconnecting in %.1f s",
            watch.key,
            delay,
        )
        self._schedule(watch, time.monotonic() + delay, self._job_connect)

    def _schedule(self, watch, when, job):
        heapq.heappush(
            self._timers, (when, next(self._sequence), watch, watch.epoch, job)
        )

    def _run_timers(self):
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _when, _seq, watch, epoch, job = heapq.heappop(self._timers)
            if watch.removed or self._watches.get(watch.key) is not watch:
                continue
            if epoch != watch.epoch:
                continue  # set before the connection was lost, or lost again
            if watch.listening:
                self._unlisten(watch)
            self._submit(watch, job)

    def _submit(self, watch, job):
        with contextlib.suppress(RuntimeError):  # the pool is shut down: stopping
            self._pool.submit(self._run_job, watch, job)

    def _unlisten(self, watch):
        watch.listening = False
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(watch.sock)

    def _readable(self, watch):
        """Read what the server pushed, without ever waiting for more."""
        imap = watch.mailbox.client._imap
        changed = set()
        lost = False
        while not lost:
            try:
                line = imap._get_line()
            except _READ_MORE:  # all read
                break
            except (OSError, imaplib.IMAP4.error, ValueError):
                lost = True
            else:
                lost = self._interpret(watch, line, changed)
        if changed:
            self._notify(watch, changed, "notified")
        if lost:
            self._unlisten(watch)
            self._close(watch, goodbye=False)
            self._on_lost(watch)

    def _interpret(self, watch, line, changed):
        """Note the folders ``line`` announces; True when the server leaves."""
        if not line.startswith(b"* "):
            return not line.startswith(b"+")  # a tagged end of IDLE: start over
        try:
            parsed = tuple(parse_response([line[2:]]))
        except Exception:  # an answer we do not need to understand
            return False
        changed.update(_announced(watch.folders, parsed))
        return parsed[:1] == (b"BYE",)

    # -- jobs (pool threads) -------------------------------------------------------

    def _run_job(self, watch, job):
        try:
            if self._stopping.is_set():
                return
            job(watch)
        except Exception as exc:
            _logger.info(
                "IMAP watch of %s failed: %s",
                watch.key,
                exc,
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )
            self._close(watch, goodbye=False)
            self._post("lost", watch)
        else:
            self._post("listen", watch)

    def _job_connect(self, watch):
        self._close(watch, goodbye=False)
        mailbox = ImapMailbox(watch.settings)
        mailbox.connect()
        watch.mailbox = mailbox
        watch.connected_at = time.monotonic()
        _keepalive(watch.sock)
        caps = {c.upper() for c in mailbox.capabilities}
        watch.mode = POLL
        if b"NOTIFY" in caps and self._notify_set(watch):
            watch.mode = NOTIFY
        elif b"IDLE" in caps:
            watch.mode = IDLE
            mailbox.client.select_folder(watch.folders[0], readonly=True)
        if watch.mode != NOTIFY:
            self._status(
                watch, watch.folders if watch.mode == POLL else watch.folders[1:]
            )
        self._listen(watch)
        _logger.debug("IMAP watch of %s: %s", watch.key, watch.mode)
        self._notify(watch, set(watch.folders), "connected")

    def _job_refresh(self, watch):
        """End IDLE, check the folders IDLE does not cover, IDLE again."""
        changed = self._end_idle(watch)
        client = watch.mailbox.client
        if watch.mode == IDLE:
            changed |= self._status(watch, watch.folders[1:])
        elif not client.has_capability("IDLE"):  # NOTIFY alone: keep it alive
            for response in client.noop()[1]:
                changed.update(_announced(watch.folders, response))
        self._listen(watch)
        if changed:
            self._notify(watch, changed, "status")

    def _job_poll(self, watch):
        changed = self._status(watch, watch.folders)
        if changed:
            self._notify(watch, changed, "status")

    def _notify_set(self, watch):
        client = watch.mailbox.client
        names = b" ".join(client._normalise_folder(name) for name in watch.folders)
        spec = b"(mailboxes (%s) (MessageNew MessageExpunge))" % names
        typ, data = client._raw_command(b"NOTIFY", [b"SET", spec], uid=False)
        if typ != "OK":
            _logger.info("IMAP watch of %s: NOTIFY refused: %r", watch.key, data)
            return False
        return True

    def _listen(self, watch):
        client = watch.mailbox.client
        client._imap.untagged_responses.clear()  # read by nobody: not kept
        if watch.mode != POLL and client.has_capability("IDLE"):
            client.idle()

    def _end_idle(self, watch):
        client = watch.mailbox.client
        watch.sock.settimeout(watch.settings.read_timeout)
        changed = set()
        if watch.mode == POLL or not client.has_capability("IDLE"):
            return changed
        for response in client.idle_done()[1]:
            changed.update(_announced(watch.folders, response))
        return changed

    def _status(self, watch, folders):
        """STATUS of ``folders``; the ones whose UIDNEXT or UIDVALIDITY moved."""
        changed = set()
        for folder in folders:
            try:
                status = watch.mailbox._status(folder)
            except Exception as exc:
                if not watch.mailbox.connected:
                    raise
                _logger.debug("IMAP watch of %s: STATUS %s: %s", watch.key, folder, exc)
                continue
            mark = (status.get(b"UIDVALIDITY"), status.get(b"UIDNEXT"))
            if watch.marks.get(folder, mark) != mark:
                changed.add(folder)
            watch.marks[folder] = mark
        return changed

    def _notify(self, watch, folders, reason):
        if watch.removed or self._stopping.is_set():
            return
        try:
            self.on_change(watch.key, frozenset(folders), reason)
        except Exception:
            _logger.exception("IMAP watch of %s: on_change failed", watch.key)

    def _logout(self, watch, deadline):
        mailbox = watch.mailbox
        if mailbox is None or not mailbox.connected:
            return
        try:
            reader = mailbox.client._imap._engine_reader
            reader.read_timeout = max(0.1, deadline - time.monotonic())
            watch.sock.settimeout(reader.read_timeout)
            if watch.listening and mailbox.client.has_capability("IDLE"):
                watch.listening = False
                mailbox.client.idle_done()
        except Exception:
            self._close(watch, goodbye=False)
            return
        self._close(watch, goodbye=True)

    @staticmethod
    def _close(watch, goodbye):
        mailbox, watch.mailbox = watch.mailbox, None
        if mailbox is not None:
            mailbox.close(logout=goodbye)


def _announced(folders, response):
    """The folders among ``folders`` a parsed untagged response announces new
    mail in: ``EXISTS`` for the selected first one, ``STATUS`` for any."""
    if len(response) >= 2 and response[1] == b"EXISTS":
        return {folders[0]}
    if len(response) >= 2 and response[0] == b"STATUS":
        name = response[1]
        if isinstance(name, bytes):
            name = decode_utf7(name)
        name = str(name)
        if name in folders:
            return {name}
    return set()


def _keepalive(sock):
    """TCP keepalive: a peer gone without a word is noticed within minutes."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _KEEPALIVE:
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
