#!/usr/bin/env bash
# Starts the carerix_mail demo: a private PostgreSQL and Dovecot (demo mailboxes
# filled with sample mail) and Odoo 18.0 with the addon and demo users at
# http://127.0.0.1:8069. Ctrl-C stops everything; nothing keeps running.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

HTTP_PORT="${CARERIX_DEMO_PORT:-8069}"

# Fail fast, before installing anything, when Odoo itself is missing.
if [ -z "${ODOO_SRC:-}" ] && ! python3 -c "import odoo.release" 2>/dev/null; then
    die "cannot start the demo: Odoo 18.0 is not importable by python3 and ODOO_SRC is
not set. Odoo 18.0 is a prerequisite: install it (its requirements.txt, then
pip install -e <odoo source>) or set ODOO_SRC to an Odoo 18.0 source tree whose
requirements are installed."
fi
ensure_apt "${APT_PACKAGES[@]}"
ensure_venv
reason="$(odoo_missing_reason)" || die "cannot start the demo: $reason.
Odoo 18.0 is a prerequisite: install it (pip install -e <odoo source> plus its
requirements.txt) so that 'python3 -c \"import odoo\"' works, or point ODOO_SRC
at an Odoo 18.0 source tree whose requirements are installed."

if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; then
    die "port $HTTP_PORT is in use (another demo still running?); set CARERIX_DEMO_PORT"
fi

RUN_DIR="$(mktemp -d /tmp/carerix-demo.XXXXXX)"
PUSH_PID=""
cleanup() {
    if [ -n "$PUSH_PID" ]; then
        say "Stopping the push runner"
        kill -TERM "$PUSH_PID" 2>/dev/null || true
        wait "$PUSH_PID" 2>/dev/null || true
    fi
    say "Stopping the demo services"
    "$PY" scripts/devservices.py stop --dir "$RUN_DIR" >/dev/null 2>&1 || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Starting PostgreSQL, Dovecot and the local identity provider in $RUN_DIR"
"$PY" scripts/devservices.py start --dir "$RUN_DIR" || die "dev services did not start"
# shellcheck disable=SC1091
source "$RUN_DIR/env.sh"

DB=carerix_demo
CONF="$RUN_DIR/odoo.conf"
cat > "$CONF" <<CONFEOF
[options]
db_host = $CARERIX_PG_HOST
db_port = $CARERIX_PG_PORT
db_user = $CARERIX_PG_USER
db_password = $CARERIX_PG_PASSWORD
addons_path = $(odoo_addons_path)
data_dir = $RUN_DIR/odoo-data
http_interface = 127.0.0.1
http_port = $HTTP_PORT
dbfilter = ^$DB\$
list_db = False
CONFEOF

say "Creating database $DB with carerix_mail, Recruitment and their demo data (a few minutes)"
"$PY" -m odoo -c "$CONF" -d "$DB" -i carerix_mail,carerix_mail_recruitment --stop-after-init \
    --log-level=warn || die "installing carerix_mail and carerix_mail_recruitment failed"

say "Filling the demo mailboxes"
"$PY" scripts/demo_setup.py --conf "$CONF" --db "$DB" --state "$RUN_DIR/state.json" \
    --base-url "http://127.0.0.1:$HTTP_PORT" || die "demo setup failed"

say "Starting the push runner beside Odoo: new mail is archived within seconds"
"$PY" -m odoo "--addons-path=$(odoo_addons_path)" carerix_push -c "$CONF" -d "$DB" \
    --log-level=warn &
PUSH_PID=$!

cat <<TXT

  carerix_mail demo: http://127.0.0.1:$HTTP_PORT
  Logins (user / password):
$(cat "$RUN_DIR/logins.txt")

  Press Ctrl-C to stop Odoo, the push runner, PostgreSQL and Dovecot.

TXT
"$PY" -m odoo -c "$CONF" -d "$DB" --log-level=info
