import argparse
import signal
import sys

from odoo.cli.command import Command
from odoo.tools import config

from ..push_runner import PushRunner


class CarerixPush(Command):
    """Run the carerix_mail push runner: new mail archived within seconds"""

    name = "carerix_push"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(
            prog="odoo carerix_push",
            description="Watch the IMAP mailboxes of one database and sync "
            "them when new mail arrives; Odoo's options (-c, -d, ...) follow.",
        )
        parser.add_argument("--standby-poll", type=float, default=5.0)
        parser.add_argument("--reload-interval", type=float, default=30.0)
        parser.add_argument("--sync-workers", type=int, default=2)
        options, odoo_args = parser.parse_known_args(cmdargs)
        config.parse_config(odoo_args, setup_logging=True)
        dbnames = [name for name in (config["db_name"] or "").split(",") if name]
        if len(dbnames) != 1:
            sys.exit("odoo carerix_push: give one database (-d)")
        runner = PushRunner(
            dbnames[0],
            workers=options.sync_workers,
            standby_poll=options.standby_poll,
            reload_interval=options.reload_interval,
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_args: runner.stop())
        runner.run()
