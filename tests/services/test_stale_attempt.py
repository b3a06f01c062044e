"""A worker that lost its lease must not write the job's log or move its progress (issue 11 item 5).

The first test uses a real worker process: it is SIGSTOPped while its job prints, the lease is
reaped and a second attempt starts, then it is SIGCONTed with the first attempt's output still in
its pipe. The second checks the write path itself with two attempts.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from services import jobs
from services.af3.runlog.progress import Tracker
from services.hosts import load_hosts
from services.jobs import joblog
from services.running.executors.cleanup import reap_lost_attempts
from tests.conftest import ROOT, wait_for

AF3 = {"name": "stale", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}
# Prints numbered lines tagged with its attempt ($FOLDDECK_JOB is "<job>:<attempt>") and, every
# 20 lines, an AF3 stage line that moves the progress to featurisation (45 %). The count of lines
# printed goes to `printed` beside the script too, so the test sees output its stopped worker cannot.
CHATTY = """#!/bin/sh
i=0
while [ $i -lt 5000 ]; do
  i=$((i+1))
  echo "attempt=$FOLDDECK_JOB line $i"
  echo $i > "$(dirname "$0")/printed.tmp" && mv "$(dirname "$0")/printed.tmp" "$(dirname "$0")/printed"
  if [ $((i % 20)) -eq 0 ]; then echo "Featurising data with seed 1."; fi
  sleep 0.01
done
"""


def printed(folder) -> int:
    """Return how many lines the chatty script has printed (0 before its first)."""
    try:
        return int((folder / "printed").read_text())
    except (FileNotFoundError, ValueError):
        return 0


def lines_of(conn, job_id: int) -> list[joblog.LogLine]:
    return joblog.read_log(conn, job_id, 0, 100_000)


@pytest.mark.service  # a real worker process, stopped and resumed
def test_a_resumed_worker_that_lost_its_lease_writes_nothing(tmp_path, settings, conn, alice):
    script = tmp_path / "chatty.sh"
    script.write_text(CHATTY)
    job = jobs.submit(conn, settings, alice, AF3)
    env = dict(os.environ, FOLDDECK_DATA_DIR=str(settings.data_dir), FOLDDECK_LEASE_SECONDS="5",
               FOLDDECK_LOCAL_SLOTS="1", FOLDDECK_AF3_COMMAND=f"sh {script} {{input}} {{output}}",
               PYTHONPATH=str(ROOT))
    env.pop("FOLDDECK_HOSTS_FILE", None)
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "services.running.worker"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        tag1 = f"attempt={job.id}:1 "
        wait_for(lambda: sum(x.text.startswith(tag1) for x in lines_of(conn, job.id)) >= 30, 30, "attempt 1 output")
        os.kill(worker.pid, signal.SIGSTOP)
        stopped_at = printed(tmp_path)
        wait_for(lambda: printed(tmp_path) >= stopped_at + 40, 30, "attempt 1 printing into the stopped worker's pipe")
        # past the lease: the job is reaped (attempt 1's processes are killed) and attempt 2 starts
        reaped = reap_lost_attempts(conn, settings, now=time.time() + settings.lease_seconds + 10)
        assert [j.id for j in reaped] == [job.id]
        second = jobs.claim_job(conn, settings, "worker-B", load_hosts(settings))
        assert second.id == job.id and second.attempts == 2
        assert jobs.start_attempt(conn, second, Tracker().to_json())
        jobs.heartbeat(conn, "worker-B", 3600, job_ids=[job.id])  # B keeps its lease while A resumes
        start2 = joblog.last_seq(conn, job.id)
        joblog.append_lines(conn, job.id, [f"attempt={job.id}:2 line 1"])
        os.kill(worker.pid, signal.SIGCONT)
        # A reads attempt 1's lines from its pipe and drops them (it says so in its log) ...
        wait_for(lambda: "of attempt 1 dropped: the attempt no longer owns the job" in worker_log.read_text(), 30,
                 "the resumed worker to drop attempt 1's lines")
        # ... and, told to stop, ends only once its slot has given the lost attempt up: nothing of it is left to come.
        worker.terminate()
        assert worker.wait(30) is not None
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
            worker.terminate()
            worker.wait(30)
    after = [x for x in lines_of(conn, job.id) if x.seq > start2]
    stale = [x.text for x in after if x.text.startswith(tag1) or x.text.startswith("Featurising")]
    assert not stale, f"{len(stale)} stale lines of attempt 1 after attempt 2 started, e.g. {stale[:3]}"
    now = jobs.get_job(conn, alice, job.id)
    assert now.state is jobs.JobState.RUNNING and now.attempts == 2 and now.worker_id == "worker-B"
    assert now.progress == 0.0 and now.stage != "featurisation"  # attempt 1 did not move attempt 2's progress
    assert [x.text for x in after] == [f"attempt={job.id}:2 line 1"]


def test_writes_of_an_attempt_that_lost_the_job_are_dropped(settings, conn, alice):
    job = jobs.submit(conn, settings, alice, AF3)
    hosts = load_hosts(settings)
    first = jobs.claim_job(conn, settings, "worker-A", hosts)
    assert jobs.start_attempt(conn, first, Tracker().to_json())
    assert joblog.append_attempt_lines(conn, job.id, "worker-A", 1, ["a1 line"]) is not None
    jobs.reap_expired(conn, settings, now=time.time() + settings.lease_seconds + 10)
    # reaped and queued again: attempt 1 writes nothing
    seq = joblog.last_seq(conn, job.id)
    assert joblog.append_attempt_lines(conn, job.id, "worker-A", 1, ["Featurising data with seed 1."]) is None
    assert joblog.last_seq(conn, job.id) == seq
    second = jobs.claim_job(conn, settings, "worker-B", hosts)
    assert jobs.start_attempt(conn, second, Tracker().to_json())
    # attempt 2 owns the job now: attempt 1 still writes nothing, even from the same worker id
    for worker_id, attempt in (("worker-A", 1), ("worker-B", 1), ("worker-A", 2)):
        assert joblog.append_attempt_lines(conn, job.id, worker_id, attempt, ["Featurising data with seed 1."]) is None
    assert jobs.get_job(conn, alice, job.id).progress == 0.0
    assert joblog.append_attempt_lines(conn, job.id, "worker-B", 2, ["Featurising data with seed 1."])
    assert jobs.get_job(conn, alice, job.id).stage == "featurisation"
    texts = [x.text for x in lines_of(conn, job.id)]
    assert texts.count("Featurising data with seed 1.") == 1 and "a1 line" in texts
