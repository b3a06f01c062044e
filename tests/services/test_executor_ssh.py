"""SSH executor against a real OpenSSH server on loopback (the `sshd` fixture)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.hosts import Host
from services.running.executors.base import ExecutorError, RunSpec
from services.running.executors.ssh import SSHExecutor
from tests.conftest import alive, wait_for

pytestmark = pytest.mark.service


def make_host(sshd, tmp_path: Path, command: str) -> Host:
    return Host(name="sshbox", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                work_dir=str(tmp_path / "remote-work"), slots=1, af3_command=command)


def make_spec(tmp_path: Path) -> RunSpec:
    (tmp_path / "input.json").write_text(json.dumps({"name": "remote job", "modelSeeds": [1]}))
    return RunSpec(7, 1, tmp_path / "input.json", tmp_path / "local-out", "unused {input} {output}")


def test_job_runs_remotely_streams_and_results_are_fetched(sshd, tmp_path):
    # The remote command reads the uploaded input and writes an AF3-shaped result folder.
    command = ("echo reading {input}; grep -o 'remote job' {input}; echo to-stderr >&2; "
               "mkdir -p {output}/remote_job/seed-1_sample-0 && "
               "echo '{{}}' > "
               "{output}/remote_job/seed-1_sample-0/remote_job_seed-1_sample-0_summary_confidences.json && "
               "echo data > {output}/remote_job/big_embeddings.npz; echo done")
    ex = SSHExecutor(make_host(sshd, tmp_path, command), Path(sshd["known_hosts"]))
    spec = make_spec(tmp_path)
    ex.start(spec)
    lines, deadline = [], time.monotonic() + 20
    while (code := ex.poll()) is None:
        assert time.monotonic() < deadline
        lines += ex.read_lines(0.1)
    ex.collect()
    ex.close()
    remote_input = f"{tmp_path}/remote-work/job-7/attempt-1/input.json"
    assert code == 0 and isinstance(ex.remote_pid, int)
    assert lines == [f"reading {remote_input}", "remote job", "to-stderr", "done"]
    assert ex.remote_output == f"{tmp_path}/remote-work/job-7/attempt-1/output"
    fetched = sorted(p.relative_to(spec.output_dir).as_posix() for p in spec.output_dir.rglob("*") if p.is_file())
    assert fetched == ["remote_job/seed-1_sample-0/remote_job_seed-1_sample-0_summary_confidences.json"]


def test_cancel_kills_the_remote_process_group(sshd, tmp_path):
    pids = tmp_path / "remote-pids"  # same machine: the test can look the remote processes up
    # The last child leaves the process group (setsid): only the attempt's environment marker finds it.
    command = (f"sh -c 'trap \"\" TERM; sleep 300' & echo $! > {pids}; sleep 300 & echo $! >> {pids}; "
               f"setsid sleep 302 & echo $! >> {pids}; echo started; wait")
    ex = SSHExecutor(make_host(sshd, tmp_path, command), Path(sshd["known_hosts"]))
    ex.start(make_spec(tmp_path))
    deadline = time.monotonic() + 15
    lines = []
    while "started" not in lines:
        assert time.monotonic() < deadline
        lines += ex.read_lines(0.1)
    tree = [ex.remote_pid] + [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in tree)
    ex.cancel(grace=0.5)
    deadline = time.monotonic() + 10
    while ex.poll() is None:
        assert time.monotonic() < deadline
        ex.read_lines(0.1)
    ex.close()
    assert ex.poll() != 0
    # cancel() returns once the group is signalled; give the kernel a deadline to take every process down
    wait_for(lambda: not any(alive(p) for p in tree), 5, "every remote process to end after cancel")


def test_unknown_host_key_is_refused(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    ex = SSHExecutor(make_host(sshd, tmp_path, "echo {input} {output}"), empty)
    with pytest.raises(ExecutorError, match="host key not in"):
        ex.start(make_spec(tmp_path))
    ex.close()
