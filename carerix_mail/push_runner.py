"""The push runner: new mail archived within seconds of its arrival.

One runner leads per database: it holds a PostgreSQL advisory lock on a
connection of its own, which PostgreSQL releases the moment the runner dies.
Any number of runners may be started (one per Odoo host, say); the others
stand by and try the lock every ``standby_poll`` seconds, so one of them takes
over within that delay after the leader is gone.

The leader watches every IMAP mailbox whose first sync is done (first syncs
stay with the cron) with a :class:`~.engine.watch.Watcher` (one connection per
mailbox, NOTIFY or IDLE or polling) and syncs a mailbox when its server
announces mail, through ``carerix.mailbox._claim_and_sync`` in a small pool of
threads: the claim keeps it from syncing a mailbox a cron is syncing, and the
UID cursors make a false alarm cost one STATUS. Mailbox settings are read
again every ``reload_interval`` seconds; a mailbox whose settings changed is
watched on a new connection. :meth:`PushRunner.stop` logs out of every
connection within 2 seconds.

Started by the command ``odoo carerix_push`` (see ``cli/push.py``), or with
the threaded server when the configuration says ``[carerix_mail] push = True``
(:func:`start_with_server`).
"""

import concurrent.futures
import logging
import resource
import threading
from pathlib import Path

import psycopg2

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.sql_db import connection_info_for
from odoo.tools import config

from .engine.watch import Watcher

_logger = logging.getLogger(__name__)

# pg_try_advisory_lock(key1, key2): this addon's key, then the use.
LOCK_CLASS = 0x43524D58  # "CRMX"
LOCK_PUSH_RUNNER = 1
# Open files a runner needs: one socket per watched mailbox, plus one per sync.
MIN_OPEN_FILES = 4096
# Dovecot's default fs.inotify.max_user_instances: past it, IDLE sessions fall
# back to polling every 30 seconds.
INOTIFY_DEFAULT = 128
INOTIFY_FILE = Path("/proc/sys/fs/inotify/max_user_instances")
BUSY_RETRY = 2.0  # seconds before asking again for a mailbox being synced


def preflight(open_files=None, inotify_instances=None):
    """Warnings about the host (logged, and returned for the caller)."""
    if open_files is None:
        open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if inotify_instances is None:
        try:
            inotify_instances = int(INOTIFY_FILE.read_text())
        except (OSError, ValueError):
            inotify_instances = None
    warnings = []
    if 0 <= open_files < MIN_OPEN_FILES:
        warnings.append(
            "the open-files limit is %d: the push runner holds one connection "
            "per mailbox; raise it (ulimit -n, LimitNOFILE=) to %d or more"
            % (open_files, MIN_OPEN_FILES)
        )
    if inotify_instances is not None and inotify_instances <= INOTIFY_DEFAULT:
        warnings.append(
            "fs.inotify.max_user_instances is %d here: on the Dovecot server it "
            "must be above the number of IDLE sessions, or past it Dovecot "
            "falls back to polling every 30 s (sysctl fs.inotify."
            "max_user_instances=8192)" % inotify_instances
        )
    for warning in warnings:
        _logger.warning("Push runner: %s", warning)
    return warnings


class Leadership:
    """The advisory lock that makes one runner per database the leader."""

    def __init__(self, dbname):
        self.dbname = dbname
        self._connection = None

    def try_acquire(self):
        """True when this runner now leads (the lock is held until
        :meth:`release`, or until this process dies)."""
        _name, info = connection_info_for(self.dbname)
        info = dict(info, application_name="carerix_push_runner")
        connection = psycopg2.connect(**info)
        connection.autocommit = True
        with connection.cursor() as cr:
            cr.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_PUSH_RUNNER]
            )
            acquired = cr.fetchone()[0]
        if acquired:
            self._connection = connection
        else:
            connection.close()
        return acquired

    def alive(self):
        """Whether the connection holding the lock still stands."""
        try:
            with self._connection.cursor() as cr:
                cr.execute("SELECT 1")
            return True
        except psycopg2.Error:
            return False

    def release(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()  # the lock goes with the session
            except psycopg2.Error:
                _logger.debug("Push runner: closing the lock connection failed")


class PushRunner:
    """Lead (or stand by) and keep the watched mailboxes synced; see the
    module documentation. :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        dbname,
        workers=2,
        standby_poll=5.0,
        reload_interval=30.0,
        watcher_options=None,
    ):
        self.dbname = dbname
        self.workers = workers
        self.standby_poll = standby_poll
        self.reload_interval = reload_interval
        self.watcher_options = watcher_options or {}
        self.leadership = Leadership(dbname)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending = set()
        self._watched = set()
        self._signature = None
        self._pool = None
        self._watcher = None
        self.registry = None

    def stop(self):
        self._stop.set()

    def run(self):
        preflight()
        while not self._stop.is_set():
            try:
                leading = self.leadership.try_acquire()
            except psycopg2.Error as error:
                _logger.warning("Push runner: database unreachable: %s", error)
                leading = False
            if leading:
                self._lead()
            else:
                self._stop.wait(self.standby_poll)
        _logger.info("Push runner of %s stopped", self.dbname)

    def _lead(self):
        _logger.info("Push runner: leading database %s", self.dbname)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="carerix-push-sync"
        )
        self._watcher = Watcher(self._changed, **self.watcher_options).start()
        self._watched = set()
        self._signature = None
        try:
            while not self._stop.is_set():
                try:
                    self._reload()
                except Exception:  # a bad moment of the database: next round
                    _logger.exception("Push runner: reading the mailboxes failed")
                if self._stop.wait(self.reload_interval):
                    break
                if not self.leadership.alive():
                    _logger.warning("Push runner: lost the lock connection")
                    break
        finally:
            self._watcher.stop(timeout=2.0)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.leadership.release()

    def _reload(self):
        """Watch the mailboxes to watch, with their current settings (read
        again only when something they depend on changed)."""
        self.registry = Registry(self.dbname).check_signaling()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            signature = env["carerix.mailbox"]._push_watch_signature()
            if signature == self._signature:
                return
            wanted = env["carerix.mailbox"]._push_watch_list()
        self._signature = signature
        for key in self._watched - set(wanted):
            self._watcher.unwatch(key)
        for key, (settings, folders) in wanted.items():
            self._watcher.watch(key, settings, folders)
        self._watched = set(wanted)

    def _changed(self, mailbox_id, _folders, _reason):
        """Called by the watcher: queue one sync of the mailbox."""
        with self._lock:
            if mailbox_id in self._pending or self._stop.is_set():
                return
            self._pending.add(mailbox_id)
        try:
            self._pool.submit(self._sync, mailbox_id)
        except RuntimeError:  # shut down: no longer leading
            with self._lock:
                self._pending.discard(mailbox_id)

    def _sync(self, mailbox_id):
        with self._lock:
            # Mail announced from now on needs a sync of its own.
            self._pending.discard(mailbox_id)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            claimed = env["carerix.mailbox"]._claim_and_sync(mailbox_id=mailbox_id)
        if not claimed and not self._stop.is_set():
            # Synced elsewhere right now, maybe past the announced mail: again.
            timer = threading.Timer(BUSY_RETRY, self._changed, (mailbox_id, (), "busy"))
            timer.daemon = True
            timer.start()


def start_with_server():
    """With ``[carerix_mail] push = True`` and the threaded server, run a push
    runner per database of ``db_name`` in a thread of the server. The prefork
    server (``workers`` > 0) runs it as its own command instead."""
    if not _truthy(config.misc.get("carerix_mail", {}).get("push")):
        return
    if config["workers"]:
        _logger.warning(
            "Push runner: not started with the prefork server; "
            "run `odoo carerix_push` beside it"
        )
        return
    for dbname in (config["db_name"] or "").split(","):
        if dbname.strip():
            runner = PushRunner(dbname.strip())
            thread = threading.Thread(
                target=runner.run, name="carerix-push-runner", daemon=True
            )
            thread.start()


def _truthy(value):
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")
