"""A sync process that kills itself with SIGKILL at a chosen point.

Not a test module (tests/test_faults.py runs it as a separate process)::

    python fault_worker.py DBNAME [odoo options: -c FILE, --db_host=..., ...]

It loads the registry of DBNAME once, closes its database connections and
prints ``{"ready": true}``. Then, for each JSON line read on stdin
(``{"mailbox_id": 7, "point": "before_commit", "nth": 2, "batch_size": 3}``),
it forks a child that runs ``carerix.mailbox._claim_and_sync`` exactly as the
cron does, with a hook that sends SIGKILL to the child itself at the ``nth``
time the point is reached, and answers one JSON line: ``{"signal": 9}`` when
the child died by SIGKILL, else ``{"signal": ..., "exit": ...}``. Forking a
loaded registry keeps a run well under a second, so many crash runs fit in
the test budget; every run is still a real process killed without any
cleanup (no rollback, no logout, no ``finally``).

Points:

* ``after_fetch``: right after the ``nth`` FETCH of message bodies returned;
* ``during_archiving``: inside the archiving of the ``nth`` batch, after
  its entry rows were inserted and before its archive copies are;
* ``mid_batch``: while the ``nth`` message of the sync is prepared for
  archiving (the messages before it in its batch are prepared, nothing of
  the batch is written yet; earlier batches are committed);
* ``before_commit``: right before the ``nth`` database commit;
* ``after_commit``: right after the ``nth`` database commit.
"""

# The worker runs as a script: Odoo (and this addon, by absolute name) can be
# imported only once the Odoo configuration is read.
# ruff: noqa: PLC0415
# pylint: disable=import-outside-toplevel,odoo-addons-relative-import

import json
import os
import signal
import sys
import traceback


def _answer(values):
    sys.stdout.write(json.dumps(values) + "\n")
    sys.stdout.flush()


def _kill():
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _install_hook(point, nth, batch_size):
    from odoo import sql_db

    from odoo.addons.carerix_mail.engine import imap
    from odoo.addons.carerix_mail.models import (
        carerix_mailbox_message_archive as archive,
    )
    from odoo.addons.carerix_mail.models import (
        carerix_mailbox_message_match as match,
    )

    calls = {"count": 0}

    def reached():
        calls["count"] += 1
        return calls["count"] == nth

    sync_folder = imap.ImapMailbox.sync_folder

    def small_batches(self, folder, cursor=None, **kwargs):
        kwargs["batch_size"] = batch_size
        return sync_folder(self, folder, cursor, **kwargs)

    imap.ImapMailbox.sync_folder = small_batches

    if point == "after_fetch":
        fetch_bodies = imap.ImapMailbox._fetch_bodies

        def hook(self, sync, group):
            result = fetch_bodies(self, sync, group)
            if reached():
                _kill()
            return result

        imap.ImapMailbox._fetch_bodies = hook
    elif point == "during_archiving":
        create_copies = archive.CarerixMailboxMessage._carerix_create_copies

        def hook(self, *args, **kwargs):
            if reached():
                _kill()
            return create_copies(self, *args, **kwargs)

        archive.CarerixMailboxMessage._carerix_create_copies = hook
    elif point == "mid_batch":
        # called for each message of a batch, before the batch is written
        archive_targets = match.CarerixMailboxMessage._archive_targets

        def hook(self, *args, **kwargs):
            if reached():
                _kill()
            return archive_targets(self, *args, **kwargs)

        match.CarerixMailboxMessage._archive_targets = hook
    elif point in ("before_commit", "after_commit"):
        commit = sql_db.Cursor.commit

        def hook(self):
            if point == "before_commit" and reached():
                _kill()
            result = commit(self)
            if point == "after_commit" and reached():
                _kill()
            return result

        sql_db.Cursor.commit = hook
    else:
        raise ValueError(f"unknown crash point {point!r}")


def _child(registry, request):
    from odoo import SUPERUSER_ID, api

    signal.alarm(120)  # a hung child dies by SIGALRM, which the test reports
    _install_hook(request["point"], request["nth"], request.get("batch_size", 3))
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["carerix.mailbox"]._claim_and_sync(mailbox_id=request["mailbox_id"])


def main(argv):
    import odoo
    from odoo import sql_db
    from odoo.modules.registry import Registry

    dbname, odoo_args = argv[0], argv[1:]
    odoo.tools.config.parse_config(odoo_args)
    registry = Registry(dbname)
    sql_db.close_all()  # every child opens its own connections
    _answer({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 3  # the sync ended without reaching the crash point
            try:
                _child(registry, request)
            except BaseException:  # reported to the test through the exit code
                traceback.print_exc()
                code = 4
            sys.stderr.flush()
            os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        answer = {"signal": None, "exit": None}
        if os.WIFSIGNALED(status):
            answer["signal"] = os.WTERMSIG(status)
        else:
            answer["exit"] = os.WEXITSTATUS(status)
        sql_db.close_all()
        _answer(answer)


if __name__ == "__main__":
    main(sys.argv[1:])
