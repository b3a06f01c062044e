#!/usr/bin/env bash
# A newcomer's first run on this checkout, through `make run` itself (the Makefile's recipe and its
# .venv, with no FOLDDECK_* settings at all, so the relative default data dir ./data): it starts,
# prints the URL and the admin password, serves the login page, and Ctrl-C stops everything.
# What runs inside (login, every sample to `succeeded`, MSA reuse, a request in flight at Ctrl-C) is
# tested once, by tests/test_first_run.py on a fresh clone; this adds only the `make run` entry.
# Fails loudly otherwise, and leaves no process behind. Uses ./data: run it on a clean checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-make run}  # what a newcomer types; overridable only to try this script without make
URL="http://127.0.0.1:8050"
LOG=$(mktemp)
PGID=""

stop() {
    [ -n "$PGID" ] || return 0
    kill -INT -- "-$PGID" 2>/dev/null || true          # what Ctrl-C sends to the terminal's group
    for _ in $(seq 1 40); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.5; done
    if kill -0 -- "-$PGID" 2>/dev/null; then
        echo "first run: processes still running 20 s after Ctrl-C:" >&2
        ps -o pid,cmd -g "$PGID" >&2 || true
        kill -KILL -- "-$PGID" 2>/dev/null || true
        PGID=""
        return 1
    fi
    PGID=""
}
fail() { echo "first run FAILED: $*" >&2; echo "---- make run output ----" >&2; cat "$LOG" >&2; stop || true; exit 1; }
trap 'stop || true; rm -f "$LOG"' EXIT

if [ -e data/folddeck.db ]; then fail "data/folddeck.db exists: this check needs a fresh checkout"; fi
unset_args=()
for var in $(env | grep -o '^FOLDDECK_[A-Za-z0-9_]*' || true); do unset_args+=(-u "$var"); done

setsid env "${unset_args[@]}" PYTHONUNBUFFERED=1 $RUN >"$LOG" 2>&1 &
PGID=$!

for _ in $(seq 1 240); do
    grep -q "FoldDeck is starting at $URL" "$LOG" && curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null && break
    kill -0 "$PGID" 2>/dev/null || fail "make run exited"
    sleep 0.5
done
curl -fsS -o /dev/null "$URL/healthz" || fail "$URL/healthz never answered"
grep -q "password: " "$LOG" || fail "no admin password was printed"

page=$(curl -fsS "$URL/login") || fail "$URL/login did not answer"
grep -q 'name="csrf_token"' <<<"$page" || fail "$URL/login served no login form"

start=$(date +%s)
stop || fail "Ctrl-C did not stop everything"
took=$(( $(date +%s) - start ))
grep -q "FoldDeck stopped." "$LOG" || fail "no 'FoldDeck stopped.' after Ctrl-C"
if grep -q "SIGKILL" "$LOG"; then fail "a process had to be killed on Ctrl-C"; fi
echo "first run OK: make run started with no settings, printed the admin password, served the login page; Ctrl-C stopped everything in ${took} s"
