# Shared helpers for scripts/test.sh and scripts/demo.sh (sourced, not run).
# Everything here is idempotent: running a command twice installs nothing twice.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
# The OCA addons of requirements/odoo-addons.txt (on Odoo's addons_path).
ODOO_ADDONS_DIR="$VENV/odoo-addons"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[1;31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Debian packages the dev services and the browser tests need.
APT_PACKAGES=(postgresql-15 dovecot-imapd dovecot-pop3d dovecot-submissiond openssl chromium)

ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "apt-get not found; install: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "Installing Debian packages: ${missing[*]}"
    # Keep the packages' own services (a system PostgreSQL cluster, a system
    # Dovecot) from starting: our scripts start private instances instead.
    local policy=/usr/sbin/policy-rc.d created=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        created=1
    fi
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    local rc=$?
    [ -n "$created" ] && $sudo rm -f "$policy"
    [ $rc -eq 0 ] || die "apt-get install failed for: ${missing[*]}"
}

# The virtual environment sees the system site-packages, where Odoo 18.0 and its
# requirements are installed (a prerequisite); our pinned tools live in the venv.
ensure_venv() {
    local stamp="$VENV/.requirements.sha256" want
    want="$(cat "$ROOT/requirements/dev.txt" "$ROOT/requirements/odoo-python.txt" \
        "$ROOT/requirements/odoo-addons.txt" | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$PY" ]; then
        say "Creating virtual environment $VENV"
        python3 -m venv --system-site-packages "$VENV" || die "python3 -m venv failed"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "Installing pinned Python packages (requirements/dev.txt)"
        "$PY" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements/dev.txt" \
            || die "pip install -r requirements/dev.txt failed"
        # Without their declared dependencies: see the two files' comments.
        "$PY" -m pip install -q --disable-pip-version-check --no-deps \
            -r "$ROOT/requirements/odoo-python.txt" \
            || die "pip install -r requirements/odoo-python.txt failed"
        rm -rf "$ODOO_ADDONS_DIR"
        "$PY" -m pip install -q --disable-pip-version-check --no-deps \
            --target "$ODOO_ADDONS_DIR" -r "$ROOT/requirements/odoo-addons.txt" \
            || die "pip install -r requirements/odoo-addons.txt failed"
        echo "$want" > "$stamp"
    fi
    if [ -n "${ODOO_SRC:-}" ]; then
        [ -f "$ODOO_SRC/odoo/__init__.py" ] || die "ODOO_SRC=$ODOO_SRC holds no odoo/ package"
        local site
        site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        echo "$ODOO_SRC" > "$site/carerix-odoo-src.pth"
    fi
}

# Prints nothing and returns 0 when Odoo 18.0 is importable; otherwise prints why.
odoo_missing_reason() {
    "$PY" - <<'PYEOF'
import sys
try:
    import odoo.release
except Exception as exc:  # noqa: BLE001
    print("odoo 18.0 not importable (%s: %s); install Odoo 18.0 or set ODOO_SRC"
          % (type(exc).__name__, exc))
    sys.exit(1)
if tuple(odoo.release.version_info[:2]) != (18, 0):
    print("odoo %s found, 18.0 required" % odoo.release.version)
    sys.exit(1)
PYEOF
}

# addons_path for Odoo: its own addons directories, the OCA addons of
# requirements/odoo-addons.txt, and this repository.
odoo_addons_path() {
    "$PY" - "$ROOT" "$ODOO_ADDONS_DIR/odoo/addons" <<'PYEOF'
import os, sys
import odoo
paths = []
base = os.path.dirname(os.path.abspath(odoo.__file__))
for candidate in (os.path.join(os.path.dirname(base), "addons"),
                  os.path.join(base, "addons")):
    if os.path.isdir(candidate) and os.path.isdir(os.path.join(candidate, "mail")):
        paths.append(candidate)
paths.append(os.path.join(base, "addons"))
paths.append(sys.argv[2])
paths.append(sys.argv[1])
print(",".join(dict.fromkeys(paths)))
PYEOF
}
