#!/usr/bin/env bash
# A newcomer's first run on this checkout: `make run` with no FOLDDECK_* settings at all (so the
# relative default data dir ./data), submit a sample, wait for `succeeded`, then Ctrl-C.
# Fails loudly otherwise, and leaves no process behind. Uses ./data: run it on a clean checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
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

# every bundled sample, the ligand/ion one included (its CCD codes need the index, built on first use)
jobs=""
for sample in data/samples/*.json; do
    out=$(env "${unset_args[@]}" $PY -m services.jobs submit "$sample" --accept-terms) || fail "submit $sample: $out"
    ids=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
    [ -n "$ids" ] || fail "submit $sample printed no job id: $out"
    jobs="$jobs $ids"
done

for job in $jobs; do
    state=""
    for _ in $(seq 1 480); do
        state=$(env "${unset_args[@]}" $PY -m services.jobs show "$job" | awk '$1 == "state" {print $2}')
        case "$state" in succeeded|failed|cancelled) break ;; esac
        sleep 0.5
    done
    [ "$state" = succeeded ] || fail "job $job ended '$state': $(env "${unset_args[@]}" $PY -m services.jobs show "$job")"
done
job=$(echo $jobs | wc -w)

# issue 16: the same protein with another ligand reuses the first job's MSA (no second search)
kinase=""
for id in $jobs; do
    env "${unset_args[@]}" $PY -m services.jobs show "$id" | grep -q "^name .*Kinase" && kinase=$id
done
ADP_JSON=$(mktemp --suffix=.json)
sed 's/"ATP"/"ADP"/' data/samples/protein_ligand_ion.json > "$ADP_JSON"
out=$(env "${unset_args[@]}" $PY -m services.jobs submit "$ADP_JSON" --accept-terms) || fail "submit ADP: $out"
again=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
for _ in $(seq 1 240); do
    shown=$(env "${unset_args[@]}" $PY -m services.jobs show "$again")
    case "$(echo "$shown" | awk '$1 == "state" {print $2}')" in succeeded|failed|cancelled) break ;; esac
    sleep 0.5
done
echo "$shown" | grep -q "^state *succeeded" || fail "the ADP job did not succeed: $shown"
echo "$shown" | grep -q "^msa_reused *chain A reused from job #$kinase\$" || fail "the ADP job did not reuse job $kinase's MSA: $shown"

start=$(date +%s)
stop || fail "Ctrl-C did not stop everything"
took=$(( $(date +%s) - start ))
grep -q "FoldDeck stopped." "$LOG" || fail "no 'FoldDeck stopped.' after Ctrl-C"
if grep -q "SIGKILL" "$LOG"; then fail "a process had to be killed on Ctrl-C"; fi
echo "first run OK: all $job sample jobs succeeded with no settings, the same protein with another ligand reused job $kinase's MSA; Ctrl-C stopped everything in ${took} s"
