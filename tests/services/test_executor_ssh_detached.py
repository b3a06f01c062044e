"""SSH runs outlive their connection (issue 23), against the real loopback sshd: its sessions are killed mid-run.

Each run waits for a release file, so a test acts while it runs and lets it end when it chooses.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from services.running.executors.base import RunSpec
from services.running.executors.ssh import SSHExecutor
from tests.conftest import ROOT, alive, wait_for
from tests.services.test_executor_ssh import make_host, make_spec

pytestmark = pytest.mark.service

TAIL = [f"line {i}" for i in range(1, 301)]


def gated(release: Path, pids: Path | None = None) -> str:
    """A command that prints, waits for `release`, then prints 300 lines more (and records its pids)."""
    record = f"sleep 300 & echo $! > {pids}; " if pids else ""
    return (f"{record}echo before; while [ ! -e {release} ]; do sleep 0.05; done; echo after; "
            "i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); done; echo done")


def kill_sshd_sessions(sshd) -> int:
    """SIGKILL every sshd process but the listener (each connection's monitor and session); return how many."""
    listener = int(Path(sshd["root"], "sshd.pid").read_text())
    killed = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == listener:
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if comm.startswith("sshd") and (ppid == listener or _parent_is_session(ppid, listener)):
            os.kill(int(proc.name), signal.SIGKILL)
            killed += 1
    return killed


def _parent_is_session(ppid: int, listener: int) -> bool:
    try:
        return int(Path(f"/proc/{ppid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == listener
    except (OSError, ValueError, IndexError):
        return False


def follow(ex: SSHExecutor, lines: list[str], until: str, timeout: float = 30) -> None:
    """Read the executor's lines into `lines` until one starts with `until`."""
    wait_for(lambda: any(x.startswith(until) for x in lines.__iadd__(ex.read_lines(0.1)) or lines), timeout,
             f"a line starting {until!r}")


def run_out(ex: SSHExecutor, lines: list[str], timeout: float = 30) -> int:
    """Read lines until the run ended; return its exit status."""
    def ended():
        lines.extend(ex.read_lines(0.1))
        return (code := ex.poll()) is not None and (code,)
    return wait_for(ended, timeout, "the remote run to end")[0]


def output(lines: list[str]) -> list[str]:
    return [x for x in lines if not x.startswith("FoldDeck: ")]


def test_killing_every_sshd_session_mid_run_loses_neither_the_run_nor_its_log(sshd, tmp_path):
    release = tmp_path / "release"
    ex = SSHExecutor(make_host(sshd, tmp_path, gated(release)), Path(sshd["known_hosts"]))
    ex.start(make_spec(tmp_path))
    lines: list[str] = []
    try:
        follow(ex, lines, "before")
        assert kill_sshd_sessions(sshd) >= 1
        follow(ex, lines, "FoldDeck: lost the SSH connection")
        follow(ex, lines, "FoldDeck: reconnected")
        assert alive(ex.remote_pid)
        release.touch()
        assert run_out(ex, lines) == 0
    finally:
        ex.close()
    assert output(lines) == ["before", "after", *TAIL, "done"]


WORKER = """
import json, sys
from pathlib import Path
from services.hosts import Host
from services.running.executors.base import RunSpec
from services.running.executors.ssh import SSHExecutor
host, known, spec = json.loads(sys.argv[1])
ex = SSHExecutor(Host(**host), Path(known))
ex.start(RunSpec(spec["job_id"], spec["attempt"], Path(spec["input"]), Path(spec["output"]), spec["command"]))
while True:
    if lines := ex.read_lines(0.1):
        print("\\n".join(lines), f"@offset {ex.log_offset}", sep="\\n", flush=True)
"""


def test_a_worker_killed_mid_run_is_replaced_by_one_that_reattaches(sshd, tmp_path):
    release = tmp_path / "release"
    host = make_host(sshd, tmp_path, gated(release))
    spec = make_spec(tmp_path)
    arg = json.dumps([{"name": host.name, "address": host.address, "port": host.port, "user": host.user,
                       "key_file": host.key_file, "work_dir": host.work_dir, "slots": 1,
                       "af3_command": host.af3_command}, sshd["known_hosts"],
                      {"job_id": spec.job_id, "attempt": spec.attempt, "input": str(spec.input_path),
                       "output": str(spec.output_dir), "command": spec.command}])
    worker = subprocess.Popen([sys.executable, "-c", WORKER, arg], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert worker.stdout.readline().strip() == "before"
        offset = int(worker.stdout.readline().split()[1])  # how far the dead worker had got
    finally:
        worker.kill()  # SIGKILL: no cleanup of any kind runs in the worker
        worker.wait(10)
    other_attempt = SSHExecutor(host, Path(sshd["known_hosts"]))
    assert other_attempt.attach(RunSpec(7, 2, spec.input_path, spec.output_dir, "x")) is False
    other_attempt.close()
    ex = SSHExecutor(host, Path(sshd["known_hosts"]))
    lines: list[str] = ["before"]  # the dead worker's share of the log
    try:
        assert ex.attach(spec, offset) is True
        assert alive(ex.remote_pid) and offset == len("before\n")
        release.touch()
        assert run_out(ex, lines) == 0
    finally:
        ex.close()
    assert output(lines) == ["before", "after", *TAIL, "done"]


def test_cancel_after_a_reconnect_kills_the_remote_process_group(sshd, tmp_path):
    release, pids = tmp_path / "never-released", tmp_path / "pids"
    ex = SSHExecutor(make_host(sshd, tmp_path, gated(release, pids)), Path(sshd["known_hosts"]))
    ex.start(make_spec(tmp_path))
    lines: list[str] = []
    try:
        follow(ex, lines, "before")
        tree = [ex.remote_pid, int(pids.read_text())]
        assert kill_sshd_sessions(sshd) >= 1
        follow(ex, lines, "FoldDeck: reconnected")
        assert all(alive(p) for p in tree)
        ex.cancel(grace=0.5)
        assert run_out(ex, lines) != 0
    finally:
        ex.close()
    wait_for(lambda: not any(alive(p) for p in tree), 5, "every remote process to end after cancel")
