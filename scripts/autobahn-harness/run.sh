#!/usr/bin/env bash
# Run the Autobahn|Testsuite fuzzing server (client conformance) against one client.
#
#   run.sh CLIENT_CMD [ARGS...]
#
# The client command gets AUTOBAHN_URL (ws://127.0.0.1:PORT) and AUTOBAHN_AGENT in
# its environment and must: GET /getCaseCount, connect to
# /runCase?case=i&agent=NAME for i in 1..N echoing every message, then
# /updateReports?agent=NAME.  (If it skips updateReports, run.sh triggers it.)
#
# Environment knobs (all optional):
#   AUTOBAHN_VENV            venv made by setup.sh        (default /tmp/autobahn-venv)
#   AUTOBAHN_SPEC            spec template                (default fuzzingserver.json here)
#   AUTOBAHN_PORT            port on 127.0.0.1            (default 9001)
#   AUTOBAHN_OUTDIR          report dir, wiped first: an absolute path with a folder of its
#                            own (scripts/autobahn gives each run one under .build/autobahn/)
#   AUTOBAHN_AGENT           agent name passed to the client (default: basename of CLIENT_CMD)
#   AUTOBAHN_CASES           e.g. "1.*,2.*,9.1.1" instead of the spec's ["*"]
#   AUTOBAHN_EXCLUDE         e.g. "9.*,12.*,13.*"
#   AUTOBAHN_CLIENT_TIMEOUT  seconds before the client is stopped (default 3600)
#   AUTOBAHN_FAIL_ON_FAILED  1: exit 1 when any case FAILED or is missing
#
# Exit: 0 run completed (see summary), 1 failures with AUTOBAHN_FAIL_ON_FAILED=1,
#       2 harness problem (server did not start, no report, ...).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${AUTOBAHN_VENV:-/tmp/autobahn-venv}
SPEC_IN=${AUTOBAHN_SPEC:-$HERE/fuzzingserver.json}
PORT=${AUTOBAHN_PORT:-9001}
CLIENT_TIMEOUT=${AUTOBAHN_CLIENT_TIMEOUT:-3600}
PY="$VENV/bin/python"

if [ $# -lt 1 ]; then
    sed -n '2,25p' "$0"
    exit 2
fi
if [ ! -x "$VENV/bin/wstest" ]; then
    echo "run.sh: $VENV/bin/wstest missing - run $HERE/setup.sh first" >&2
    exit 2
fi

default_agent() {
    # name of the client script, skipping an interpreter in front of it
    local first
    first=$(basename "$1")
    case "$first" in
        python*|pypy*|node|nodejs|bash|sh|env|timeout) [ $# -ge 2 ] && first=$(basename "$2") ;;
    esac
    echo "${first%.*}"
}
AGENT=${AUTOBAHN_AGENT:-$(default_agent "$@")}
OUTDIR=${AUTOBAHN_OUTDIR:-$("$PY" "$HERE/harness.py" spec-outdir "$SPEC_IN")}
case "$OUTDIR" in
    /?*/?*) ;;
    *) echo "run.sh: refusing outdir '$OUTDIR' (an absolute path below a folder of its own)" >&2; exit 2 ;;
esac

if ! "$PY" "$HERE/harness.py" port-free "$PORT"; then
    echo "run.sh: something already listens on 127.0.0.1:$PORT" >&2
    exit 2
fi

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/autobahn-run.XXXXXX")
SPEC="$WORK/fuzzingserver.json"
SERVER_LOG="$(dirname "$OUTDIR")/$(basename "$OUTDIR")-server.log"
"$PY" "$HERE/harness.py" make-spec "$SPEC_IN" "$SPEC" --port "$PORT" --outdir "$OUTDIR" \
    --cases "${AUTOBAHN_CASES:-}" --exclude "${AUTOBAHN_EXCLUDE:-}" || exit 2

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# -u 0: no embedded web server (it would listen on 8080)
(cd "$WORK" && exec "$VENV/bin/wstest" -m fuzzingserver -s "$SPEC" -u 0) >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

if ! "$PY" "$HERE/harness.py" wait-port "$PORT" 60; then
    echo "run.sh: fuzzingserver did not come up; log $SERVER_LOG:" >&2
    tail -30 "$SERVER_LOG" >&2
    exit 2
fi
NCASES=$(sed -n 's/^Ok, will run \([0-9]*\) test cases.*/\1/p' "$SERVER_LOG" | head -1)
echo "run.sh: fuzzingserver pid $SERVER_PID on ws://127.0.0.1:$PORT, $NCASES cases, reports in $OUTDIR"
echo "run.sh: client: $* (agent $AGENT)"

T0=$(date +%s.%N)
AUTOBAHN_URL="ws://127.0.0.1:$PORT" AUTOBAHN_AGENT="$AGENT" \
    timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@"
CLIENT_RC=$?
T1=$(date +%s.%N)
WALL=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
echo "run.sh: client exited rc=$CLIENT_RC after ${WALL}s"
[ "$CLIENT_RC" = 124 ] && echo "run.sh: WARNING client hit AUTOBAHN_CLIENT_TIMEOUT=$CLIENT_TIMEOUT" >&2

# reports: wait for the client's /updateReports, else trigger it ourselves
for _ in $(seq 100); do
    grep -q "Report generation complete" "$SERVER_LOG" && break
    sleep 0.2
done
if ! grep -q "Report generation complete" "$SERVER_LOG"; then
    echo "run.sh: client did not finish /updateReports; requesting it"
    "$PY" "$HERE/harness.py" update-reports "$PORT" 600 || true
    for _ in $(seq 300); do
        grep -q "Report generation complete" "$SERVER_LOG" && break
        sleep 1
    done
fi
stop_server

if grep -q "Traceback" "$SERVER_LOG"; then
    echo "run.sh: WARNING fuzzingserver logged tracebacks, see $SERVER_LOG" >&2
fi

"$PY" "$HERE/harness.py" summarize "$OUTDIR" --expected "${NCASES:-0}" --wall "$WALL" \
    --json "$OUTDIR/summary.json" --server-log "$SERVER_LOG"
SUM_RC=$?
[ $SUM_RC -ne 0 ] && exit 2
echo "run.sh: full report $OUTDIR/index.html, summary $OUTDIR/summary.json, server log $SERVER_LOG"

if [ "${AUTOBAHN_FAIL_ON_FAILED:-0}" = 1 ]; then
    "$PY" - "$OUTDIR/summary.json" <<'EOF' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
bad = any(a["failed"] or a["missing"] or (a["expected_cases"] and a["cases"] != a["expected_cases"])
          for a in r.values())
sys.exit(1 if bad else 0)
EOF
fi
exit 0
