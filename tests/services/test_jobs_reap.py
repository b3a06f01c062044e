"""Reaping a lost SSH attempt: its remote processes are killed over SSH, and a down host costs little."""
from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, joblog
from services.platform import defaults
from services.running.executors.base import RunSpec
from services.running.executors.cleanup import reap_lost_attempts
from services.running.executors.ssh import SSHExecutor
from tests.conftest import alive, wait_for

pytestmark = pytest.mark.service

INPUT = {"name": "remote", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def ssh_host(sshd, tmp_path: Path, command: str) -> Host:
    return Host(name="sshbox", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                work_dir=str(tmp_path / "remote"), slots=4, af3_command=command)


def start_attempt(conn, settings, job: jobs.Job, host: Host, pids: Path) -> tuple[SSHExecutor, list[int]]:
    """Start the job's attempt over SSH the way the worker does; return the executor and the remote tree."""
    ex = SSHExecutor(host, settings.known_hosts)
    ex.start(RunSpec(job.id, job.attempts, Path(job.input_path), settings.jobs_dir / str(job.id), host.af3_command))
    jobs.record_process(conn, job, remote_pid=ex.remote_pid, remote_output=ex.remote_output)
    lines: list[str] = []
    wait_for(lambda: "started" in (lines.__iadd__(ex.read_lines(0.1)) or lines), what="remote start")
    tree = [ex.remote_pid] + [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in tree)
    return ex, tree


def hang(pids: Path) -> str:
    # A child that ignores TERM and one that leaves the group: only the marker finds the second.
    return (f"sh -c 'trap \"\" TERM; sleep 300' & echo $! >> {pids}; "
            f"setsid sleep 301 & echo $! >> {pids}; echo started; wait")


def test_lost_ssh_attempt_is_killed_on_its_host_and_others_are_left_alone(settings, conn, alice, sshd, tmp_path):
    s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]))
    lost_pids, other_pids = tmp_path / "lost-pids", tmp_path / "other-pids"
    lost_host, other_host = ssh_host(sshd, tmp_path, hang(lost_pids)), ssh_host(sshd, tmp_path, hang(other_pids))
    lost = jobs.submit(conn, s, alice, INPUT)
    other = jobs.submit(conn, s, alice, INPUT)
    lost = jobs.claim_job(conn, s, "dead-worker", [lost_host])
    other = jobs.claim_job(conn, s, "live-worker", [other_host])
    dead_ex, lost_tree = start_attempt(conn, s, lost, lost_host, lost_pids)
    live_ex, other_tree = start_attempt(conn, s, other, other_host, other_pids)
    try:
        dead_ex.client.close()  # the worker died: its connection drops, nobody cancels
        time.sleep(0.3)
        assert all(alive(p) for p in lost_tree), "closing the connection alone must not be what kills it"
        jobs.heartbeat(conn, "live-worker", 1000)
        reaped = reap_lost_attempts(conn, s, now=lost.lease_expires + 1, hosts=[lost_host])
        assert [j.id for j in reaped] == [lost.id]
        wait_for(lambda: not any(alive(p) for p in lost_tree), timeout=3, what="lost attempt killed")
        assert all(alive(p) for p in other_tree), "the reaper killed another job's processes"
        assert jobs.get_job(conn, alice, lost.id).state is JobState.QUEUED
        texts = [line.text for line in joblog.read_log(conn, lost.id)]
        assert texts[-2].startswith("Worker dead-worker stopped answering")
        m = re.fullmatch(r"Stopped (\d+) processes attempt 1 left running on sshbox\.", texts[-1])
        assert m and int(m.group(1)) >= len(lost_tree), texts[-1]
    finally:
        live_ex.cancel(grace=0)
        live_ex.close()
        dead_ex.close()
    assert not any(alive(p) for p in other_tree)


def test_a_host_that_does_not_answer_delays_the_reaper_only_briefly(settings, conn, alice, sshd, caplog,
                                                                    monkeypatch):
    monkeypatch.setattr(defaults, "REAP_SSH_TIMEOUT_S", 1.0)
    # A port that accepts connections and never says a word: the worst kind of down host.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        host = Host(name="silent", address="127.0.0.1", port=hole.getsockname()[1], user="nobody", slots=4)
        s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]))
        for _ in range(3):
            jobs.submit(conn, s, alice, INPUT)
        claimed = [jobs.claim_job(conn, s, "dead-worker", [host]) for _ in range(3)]
        caplog.set_level(logging.WARNING, logger="folddeck.jobs")
        started = time.monotonic()
        reaped = reap_lost_attempts(conn, s, now=max(j.lease_expires for j in claimed) + 1, hosts=[host])
        took = time.monotonic() - started
    assert len(reaped) == 3 and all(jobs.get_job(conn, alice, j.id).state is JobState.QUEUED for j in claimed)
    assert took < 2.5, f"the reaper waited {took:.1f} s on a down host (one timeout, then skip it)"
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and "attempt 1" in r.getMessage()]
    assert len(warnings) == 3 and "could not stop attempt 1 on silent" in warnings[0]
    assert all("did not answer earlier" in w for w in warnings[1:])
    first_log = [line.text for line in joblog.read_log(conn, claimed[0].id)]
    assert first_log[-1] == "Could not reach silent to stop attempt 1; it may still be running there."
