"""What the lifecycle benchmarks share: a throwaway PostgreSQL
(``scripts/devservices.py``) with one Odoo database holding the addons under
test, its registry, and the header line of the machine. Needs Odoo 18.0
importable."""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402


def log(text):
    print(text, flush=True)


def log_machine():
    log(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


class OdooBench:
    """A PostgreSQL of its own (``durable``: its default durability, as in
    production; else fsync and synchronous commits off, as the tests run it)
    and the database ``db`` with ``modules`` installed (no demo data)."""

    def __init__(self, args, db, modules, prefix):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix=f"carerix-bench-{prefix}."))
        durable = args.postgres == "durable"
        self.pg = devservices.Postgres(self.tmp / "pg", durable=durable).start()
        log(
            "PostgreSQL: "
            + ("its default durability" if durable else "fsync and sync commits off")
        )
        self.conf = self.tmp / "odoo.conf"
        addons = subprocess.run(
            ["bash", "-c", f"source {ROOT}/scripts/lib.sh && odoo_addons_path"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.conf.write_text(
            "[options]\n"
            f"db_host = {self.pg.host}\ndb_port = {self.pg.port}\n"
            f"db_user = {self.pg.user}\ndb_password = {self.pg.password}\n"
            f"addons_path = {addons}\ndata_dir = {self.tmp / 'data'}\n"
        )
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "odoo", "-c", str(self.conf), "-d", db]
            + ["-i", modules, "--without-demo=all", "--stop-after-init"]
            + ["--log-level=warn"],
            check=True,
        )
        log(f"database ready in {time.monotonic() - started:.0f}s")
        import odoo  # noqa: PLC0415 (Odoo is only needed past this point)

        odoo.tools.config.parse_config(["-c", str(self.conf), "--log-level=warn"])
        self.odoo = odoo
        self.registry = odoo.modules.registry.Registry(db)

    def close(self):
        self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, cr):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        return api.Environment(cr, SUPERUSER_ID, {})
