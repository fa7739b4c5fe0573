"""The addon builds as a wheel the way OCA 18.0 addons do (whool)."""

import ast
import email
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_addon_builds_as_wheel(tmp_path):
    script = (
        "import os, sys, whool.buildapi as api; "
        "os.chdir(sys.argv[1]); print(api.build_wheel(sys.argv[2]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "carerix_mail"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    name = result.stdout.strip().splitlines()[-1]
    manifest = ast.literal_eval((ROOT / "carerix_mail" / "__manifest__.py").read_text())
    # whool adds a post-release number: the commits since the version changed.
    match = re.fullmatch(
        rf"odoo_addon_carerix_mail-({re.escape(manifest['version'])}(?:\.\d+)?)"
        r"-py3-none-any\.whl",
        name,
    )
    assert match, name
    with zipfile.ZipFile(tmp_path / name) as wheel:
        files = set(wheel.namelist())
        metadata = email.message_from_bytes(
            wheel.read(f"odoo_addon_carerix_mail-{match.group(1)}.dist-info/METADATA")
        )
    prefix = "odoo/addons/carerix_mail/"
    for path in (
        "__manifest__.py",
        "engine/imap.py",
        "engine/message.py",
        "models/carerix_mailbox.py",
        "security/ir.model.access.csv",
        "i18n/carerix_mail.pot",
        "static/description/icon.png",
        "README.rst",
        f"migrations/{manifest['version']}/pre-migration.py",
    ):
        assert prefix + path in files, path
    assert metadata["Name"] == "odoo-addon-carerix_mail"
    requires = metadata.get_all("Requires-Dist")
    assert "imapclient" in requires
    assert "odoo==18.0.*" in requires
    # The OCA manifest keys and the generated README reach the package index.
    assert "Development Status :: 4 - Beta" in metadata.get_all("Classifier")
    assert metadata["Home-page"].startswith("https://")
    assert metadata.get_payload().startswith("============\nCarerix Mail\n")
