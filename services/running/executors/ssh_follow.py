"""Follow a detached remote run (issue 23): its log by byte offset, its exit file, through dropped connections.

The run lives in its own session on the host (`launch_script`), so sshd going away does not touch it.
Its folder holds `pid` (the process group), `log` (stdout and stderr) and `exit` (the status, written
by the wrapper when the command ends). A `Follower` thread reads the log from where it left off,
reconnects with backoff when the connection drops, and ends when `exit` exists and the log is read.
"""
from __future__ import annotations

import posixpath
import queue
import shlex
import threading
import time
from collections.abc import Callable

import paramiko

from services.platform import defaults
from services.platform.errors import HostUnreachable
from services.running.executors.base import LineSplitter

DROPPED = (OSError, EOFError, paramiko.SSHException, HostUnreachable)
KILLED = -9  # the group ended without writing `exit`: killed (cancel, OOM killer, reboot)


def launch_script(run_dir: str, command: str, tag: str) -> str:
    """Return the shell that starts `command` detached in `run_dir` and prints its process group id.

    setsid gives the run its own session (no SIGHUP when sshd ends the login session); the wrapper
    writes `exit` only when the command ended by itself, atomically (a reader never sees it half).
    """
    inner = ("echo $$ > pid.tmp && mv pid.tmp pid; "
             f"/bin/sh -c {shlex.quote(command)} > log 2>&1 < /dev/null; "
             "echo $? > exit.tmp && mv exit.tmp exit")
    # Only the `env` line goes to the background: a backgrounded `a && b &` list would be a subshell
    # holding the session's stdout open until the run ends.
    return (f"cd {shlex.quote(run_dir)} || exit 1; rm -f pid exit log; : > log || exit 1\n"
            f"env {shlex.quote(tag)} setsid /bin/sh -c {shlex.quote(inner)} < /dev/null > /dev/null 2>&1 &\n"
            "i=0; while [ ! -s pid ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; cat pid")


def read_pid(client: paramiko.SSHClient, run_dir: str) -> int | None:
    """Return the run's recorded process group id, or None when it never started."""
    with client.open_sftp() as sftp:
        try:
            with sftp.open(posixpath.join(run_dir, "pid")) as f:
                text = f.read().decode().strip()
        except FileNotFoundError:
            return None
    return int(text) if text.isdigit() else None


class Follower(threading.Thread):
    """Copy a remote run's log into `lines` from byte `offset` until its exit status is known.

    `lines` holds (lines, offset) pairs: the offset is where the log's next unread whole line starts.

    `connect` returns a fresh client (raising one of DROPPED when the host is away). `code` is the
    exit status once `done` is set; `gave_up` says the host stayed away past the reconnect limit.
    """

    def __init__(self, name: str, host_name: str, run_dir: str, pid: int,
                 connect: Callable[[], paramiko.SSHClient], offset: int = 0):
        super().__init__(name=name, daemon=True)
        self.host_name, self.run_dir, self.pid, self.connect = host_name, run_dir, pid, connect
        self.offset = offset
        self.lines: queue.Queue = queue.Queue()
        self.done = threading.Event()
        self.stopping = threading.Event()
        self.code: int | None = None
        self.gave_up = ""
        self.splitter = LineSplitter()
        self.client: paramiko.SSHClient | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    if self._step():
                        return
                except DROPPED as exc:
                    if not self._reconnect(exc):
                        return
        finally:
            if rest := self.splitter.flush():
                self._put(rest)
            if self.client is not None:
                self.client.close()
            self.done.set()

    def _step(self) -> bool:
        """Read what the log gained; True once the run ended and its log is read to the end."""
        if self.client is None:
            self.client = self.connect()
        last_alive = time.monotonic()
        with self.client.open_sftp() as sftp:
            log_path, exit_path = posixpath.join(self.run_dir, "log"), posixpath.join(self.run_dir, "exit")
            while not self.stopping.is_set():
                code = self._exit_code(sftp, exit_path)  # before the read: once `exit` exists the log is whole
                got = self._read_log(sftp, log_path)
                if code is not None and not got:
                    self.code = code
                    return True
                if got:
                    continue
                if time.monotonic() - last_alive >= defaults.SSH_ALIVE_CHECK_S:
                    if not self._alive() and self._exit_code(sftp, exit_path) is None:
                        self._read_log(sftp, log_path)
                        self._put([f"FoldDeck: the run on {self.host_name} ended without an exit status "
                                        "(killed)."])
                        self.code = KILLED
                        return True
                    last_alive = time.monotonic()
                self.stopping.wait(defaults.SSH_LOG_POLL_S)
        return True

    def _put(self, lines: list[str]) -> None:
        """Queue `lines` with the log offset just after the last whole line read (where a re-attach resumes)."""
        self.lines.put((lines, self.offset - len(self.splitter.buf)))

    def _read_log(self, sftp: paramiko.SFTPClient, path: str) -> bool:
        """Queue the log's lines after `offset`; True if there were new bytes."""
        with sftp.open(path, "rb") as f:
            f.seek(self.offset)
            data = f.read(defaults.SSH_LOG_CHUNK_BYTES)
        if not data:
            return False
        self.offset += len(data)
        if lines := self.splitter.feed(data):
            self._put(lines)
        return True

    @staticmethod
    def _exit_code(sftp: paramiko.SFTPClient, path: str) -> int | None:
        try:
            with sftp.open(path) as f:
                text = f.read().decode().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.lstrip("-").isdigit() else KILLED

    def _alive(self) -> bool:
        _, out, _ = self.client.exec_command(f"kill -0 -- -{self.pid} 2>/dev/null && echo yes || echo no",
                                             timeout=defaults.SSH_COMMAND_TIMEOUT_S)
        return out.read().decode().strip() == "yes"

    def _reconnect(self, exc: BaseException) -> bool:
        """Connect again with growing pauses; False when stopped or the host stayed away too long."""
        if self.client is not None:
            self.client.close()
            self.client = None
        self._put([f"FoldDeck: lost the SSH connection to {self.host_name} ({exc or 'closed'}); the run goes "
                        "on there, reconnecting."])
        start, pause = time.monotonic(), defaults.SSH_RECONNECT_MIN_S
        while not self.stopping.wait(pause):
            try:
                self.client = self.connect()
            except DROPPED as again:
                if time.monotonic() - start > defaults.SSH_RECONNECT_GIVE_UP_S:
                    self.gave_up = (f"the SSH connection to {self.host_name} stayed down for "
                                    f"{time.monotonic() - start:.0f} s ({again}); the run's state there is unknown")
                    return False
                pause = min(pause * 2, defaults.SSH_RECONNECT_MAX_S)
                continue
            self._put([f"FoldDeck: reconnected to {self.host_name}; following the run from byte "
                            f"{self.offset} of its log."])
            return True
        return False
