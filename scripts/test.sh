#!/usr/bin/env bash
# Runs every test of carerix_mail: lint, engine tests against a real Dovecot,
# then the Odoo tests (a fresh database on a private PostgreSQL, the addon
# installed, carerix_mail/tests run with pytest-odoo, browser tours on Chromium).
# Safe to run twice; leaves no process and no database behind.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

START=$(date +%s)
RUN_DIR="$(mktemp -d /tmp/carerix-test.XXXXXX)"
ARTIFACTS="$ROOT/.artifacts"
mkdir -p "$ARTIFACTS"
TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_STAGES=()

cleanup() {
    if [ -f "$RUN_DIR/state.json" ]; then
        "$PY" scripts/devservices.py stop --dir "$RUN_DIR" >/dev/null 2>&1 || true
    fi
    chmod -R u+w "$RUN_DIR" 2>/dev/null
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Adds the counts of a junit xml file to the totals.
count_junit() {
    local counts
    counts="$("$PY" - "$1" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PYEOF
)"
    set -- $counts
    TOTAL_PASSED=$((TOTAL_PASSED + $1))
    TOTAL_FAILED=$((TOTAL_FAILED + $2))
    LAST_SKIPPED=$3
}

stage_failed() { FAILED_STAGES+=("$1"); }

# Odoo's own mail tests, the whole test_mail module (query counts included):
# with carerix_mail installed, Odoo's mail flows must behave and cost as in
# stock Odoo.
ODOO_MAIL_TEST_TAGS="/test_mail"

# --- 1. What the tests need -------------------------------------------------
ensure_apt "${APT_PACKAGES[@]}"
ensure_venv

# --- 2. Lint ----------------------------------------------------------------
say "Lint: ruff, ruff format, XML, translations, READMEs, pylint-odoo, OCA checks"
"$PY" -m ruff check . || stage_failed "ruff check"
"$PY" -m ruff format --check . || stage_failed "ruff format"
"$PY" scripts/check_xml.py || stage_failed "xml"
"$PY" scripts/i18n.py check || stage_failed "translations"
"$PY" scripts/gen_readme.py --check || stage_failed "readme"
"$PY" -m pylint --rcfile=.pylintrc */__manifest__.py carerix_mail* || stage_failed "pylint-odoo"
# OCA's own pre-commit checks (oca-odoo-pre-commit-hooks, requirements/dev.txt).
"$VENV/bin/oca-checks-odoo-module" */__manifest__.py || stage_failed "oca-checks-odoo-module"
"$VENV/bin/oca-checks-po" */i18n/*.po */i18n/*.pot || stage_failed "oca-checks-po"

# --- 3. Engine tests (no Odoo) ----------------------------------------------
say "Engine tests (real Dovecot, no Odoo)"
"$PY" -m pytest tests -p no:cacheprovider -q -p no:odoo \
    --junitxml="$RUN_DIR/engine.xml" || stage_failed "engine tests"
count_junit "$RUN_DIR/engine.xml"

# --- 4. Odoo tests ----------------------------------------------------------
# Every addon of this repository: carerix_mail and its bridges.
ADDONS=()
for manifest in */__manifest__.py; do ADDONS+=("$(dirname "$manifest")"); done
ADDONS_CSV="$(IFS=,; echo "${ADDONS[*]}")"
TEST_DIRS=()
for addon in "${ADDONS[@]}"; do [ -d "$addon/tests" ] && TEST_DIRS+=("$addon/tests"); done
ODOO_TESTS=$("$PY" scripts/count_odoo_tests.py "${TEST_DIRS[@]}")
if reason="$(odoo_missing_reason)"; then
    say "Odoo tests: starting PostgreSQL and Dovecot"
    if "$PY" scripts/devservices.py start --dir "$RUN_DIR" >"$RUN_DIR/services.log" 2>&1; then
        # shellcheck disable=SC1091
        source "$RUN_DIR/env.sh"
        DB="carerix_test_$(date +%s)_$$"
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
screenshots = $ARTIFACTS/screenshots
list_db = True
CONFEOF
        say "Odoo tests: creating database $DB with $ADDONS_CSV installed"
        if "$PY" -m odoo -c "$CONF" -d "$DB" -i "$ADDONS_CSV" --stop-after-init \
            --log-level=warn >"$RUN_DIR/install.log" 2>&1; then
            tail -n 20 "$RUN_DIR/install.log"
            say "Odoo tests: pytest-odoo on ${TEST_DIRS[*]} (${ODOO_TESTS} tests)"
            LAST_SKIPPED=0
            "$PY" -m pytest "${TEST_DIRS[@]}" -p no:cacheprovider -q -rs \
                --odoo-config="$CONF" --odoo-database="$DB" --odoo-http \
                --odoo-log-level=warn --junitxml="$RUN_DIR/odoo.xml" \
                || stage_failed "odoo tests"
            count_junit "$RUN_DIR/odoo.xml"
            if [ "${LAST_SKIPPED:-0}" -gt 0 ]; then
                # A skipped Odoo test here means a tour that could not start a
                # browser, or a test that hides a failure: never acceptable.
                echo "FAILED: ${LAST_SKIPPED} Odoo test(s) skipped (see -rs output above)"
                TOTAL_FAILED=$((TOTAL_FAILED + LAST_SKIPPED))
                stage_failed "odoo tests skipped"
            fi
        else
            tail -n 60 "$RUN_DIR/install.log"
            stage_failed "odoo install"
            TOTAL_FAILED=$((TOTAL_FAILED + 1))
        fi
        PGPASSWORD="$CARERIX_PG_PASSWORD" dropdb -h "$CARERIX_PG_HOST" -p "$CARERIX_PG_PORT" \
            -U "$CARERIX_PG_USER" --if-exists "$DB" || true

        # Odoo's own mail tests with the addon installed: non-private mail must
        # behave exactly as in stock Odoo. test_mail adds test models, so it
        # gets a database of its own.
        say "Odoo's own mail tests with carerix_mail installed"
        MAILDB="${DB}_odoo_mail"
        if "$PY" -m odoo -c "$CONF" -d "$MAILDB" -i carerix_mail --without-demo=all \
                --stop-after-init --log-level=warn >"$RUN_DIR/mail-install.log" 2>&1 \
            && "$PY" -m odoo -c "$CONF" -d "$MAILDB" -i test_mail --without-demo=all \
                --test-tags "$ODOO_MAIL_TEST_TAGS" --stop-after-init \
                --log-level=test >"$RUN_DIR/mail-tests.log" 2>&1; then
            MAIL_RC=0
        else
            MAIL_RC=1
        fi
        RESULT_LINE="$(grep -E "odoo.tests.result: [0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests" \
            "$RUN_DIR/mail-tests.log" | tail -n 1)"
        echo "${RESULT_LINE:-no result line}"
        if [[ "$RESULT_LINE" =~ ([0-9]+)\ failed,\ ([0-9]+)\ error\(s\)\ of\ ([0-9]+)\ tests ]]; then
            BAD=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
            TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[3] - BAD))
            TOTAL_FAILED=$((TOTAL_FAILED + BAD))
            [ "$BAD" -eq 0 ] || MAIL_RC=1
        else
            MAIL_RC=1
            TOTAL_FAILED=$((TOTAL_FAILED + 1))
        fi
        if [ "$MAIL_RC" -ne 0 ]; then
            grep -E "FAIL|ERROR" "$RUN_DIR/mail-tests.log" | head -n 40
            tail -n 20 "$RUN_DIR/mail-install.log"
            stage_failed "odoo mail tests"
        fi
        PGPASSWORD="$CARERIX_PG_PASSWORD" dropdb -h "$CARERIX_PG_HOST" -p "$CARERIX_PG_PORT" \
            -U "$CARERIX_PG_USER" --if-exists "$MAILDB" || true
    else
        cat "$RUN_DIR/services.log"
        stage_failed "dev services"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
else
    echo
    printf '\033[1;33m!!! ODOO TESTS NOT RUN: %s (%s tests) !!!\033[0m\n' "$reason" "$ODOO_TESTS"
    echo
fi

# --- 5. Summary -------------------------------------------------------------
ELAPSED=$(($(date +%s) - START))
echo
say "Test command finished in ${ELAPSED}s"
if [ ${#FAILED_STAGES[@]} -gt 0 ]; then
    echo "Failed stages: ${FAILED_STAGES[*]}"
    [ "$TOTAL_FAILED" -gt 0 ] || TOTAL_FAILED=1
fi
echo "${TOTAL_PASSED} passed, ${TOTAL_FAILED} failed"
[ ${#FAILED_STAGES[@]} -eq 0 ]
