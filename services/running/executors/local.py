"""Run the AF3 command on this machine in its own process group, output merged line by line."""
from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from services.platform import defaults
from services.running.executors.base import Executor, ExecutorError, LineSplitter, RunSpec, drain, render_command

_FOLDDECK_ROOT = Path(__file__).resolve().parents[3]
JOB_ENV = "FOLDDECK_JOB"  # marks every process of a job, so a reaper can find leftovers by group
_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - non-Linux
    _libc = None


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL the child if the worker thread that started it dies (kill -9)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalExecutor(Executor):
    kind = "local"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.eof = threading.Event()
        self.reader: threading.Thread | None = None
        self.returncode: int | None = None

    def start(self, spec: RunSpec) -> None:
        """Start `spec.command` under /bin/sh in a new session (its own process group)."""
        spec.output_dir.mkdir(parents=True, exist_ok=True)
        cmd = render_command(spec.command, str(spec.input_path), str(spec.output_dir), spec.model_dir, spec.db_dir,
                             spec.stage)
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{JOB_ENV: job_tag(spec.job_id, spec.attempt)})
        # Last on the path: the bundled simulator (`-m services.af3sim`) resolves from any working dir.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(_FOLDDECK_ROOT)) if p)
        try:
            self.proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, cwd=spec.workdir or spec.output_dir, env=env,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            raise ExecutorError(f"cannot start the AF3 command: {exc}") from None
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, name=f"job-{spec.job_id}-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        fd = self.proc.stdout.fileno()
        splitter = LineSplitter()
        try:
            while data := os.read(fd, 1 << 16):
                if lines := splitter.feed(data):
                    self.lines.put(lines)
            if rest := splitter.flush():
                self.lines.put(rest)
        finally:
            self.proc.stdout.close()
            self.eof.set()

    def read_lines(self, timeout: float) -> list[str]:
        """Return output lines available within `timeout` seconds."""
        return drain(self.lines, timeout)

    def poll(self) -> int | None:
        """Return the exit status once the shell exited and its output is drained; reap leftovers."""
        if self.returncode is not None:
            return self.returncode
        if not self.eof.is_set() or not self.lines.empty():
            return None
        if self.proc.poll() is None:
            # Output closed but the shell lives on (it detached its output): wait for it briefly.
            return None
        self._kill_group(signal.SIGKILL)  # grandchildren left behind by the command must not outlive the job
        self.returncode = self.proc.returncode
        return self.returncode

    def _kill_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if sig == signal.SIGKILL:
            # Delivery is asynchronous: wait until the group is empty so callers see a clean machine.
            deadline = time.monotonic() + 2
            while _group_alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.01)

    def cancel(self, grace: float = defaults.CANCEL_GRACE_SECONDS) -> None:
        """SIGTERM the process group, SIGKILL it after `grace`, and reap the shell."""
        if self.proc is None:
            return
        self._kill_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(self.pid):
            time.sleep(0.05)
            self.proc.poll()  # reap the leader so it does not count as alive while a zombie
        self._kill_group(signal.SIGKILL)
        self.proc.wait()
        self.eof.wait(5)

    def close(self) -> None:
        """Make sure nothing of the job survives and the reader thread ended."""
        if self.proc is not None and self.proc.poll() is None:
            self.cancel(grace=0)
        if self.reader is not None:
            self.reader.join(5)


def job_tag(job_id: int, attempt: int) -> str:
    """Return the environment marker of one attempt's processes."""
    return f"{job_id}:{attempt}"


def _group_members(pgid: int) -> list[int]:
    """Return the live (non-zombie) processes in a process group."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    return bool(_group_members(pgid))


LEFTOVER_KILL_ROUNDS = 5  # rescans after a kill; a fork in flight shows up within one


def kill_leftovers(pgid: int, job_id: int, attempt: int) -> int:
    """SIGKILL the processes of a lost attempt (its worker died); return how many were found.

    Only processes in group `pgid` that carry this attempt's marker are touched, so a reused
    process id never hits an unrelated program.
    """
    tag = f"{JOB_ENV}={job_tag(job_id, attempt)}".encode()
    killed = 0
    # Several rounds: a shell caught between fork and our scan can still spawn one more child.
    for _ in range(LEFTOVER_KILL_ROUNDS):
        found = 0
        for pid in _group_members(pgid):
            try:
                if tag in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    os.kill(pid, signal.SIGKILL)
                    found += 1
            except OSError:
                continue
        if not found:
            break
        killed += found
        time.sleep(0.05)
    return killed
