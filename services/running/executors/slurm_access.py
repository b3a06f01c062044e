"""Where a Slurm host's commands run and its files live: this machine, or a login node over SSH (issue 25).

`Connection` is one persistent SSH session (host keys checked as for any SSH host) that every
executor of a cluster shares: Slurm commands are channels on it, files go through one SFTP
client on it. A dropped session is dropped whole and opened again on the next call; meanwhile
each call raises HostUnavailable (commands) or ConnectionLost (files), which the tracking and the
log follower treat as "ask again next tick": no job fails for it.

`Access` is one person's way in: the service account's, the same through `sudo -n -u <user>`, or
their own session (`own_key`). Files are local when the cluster shares FoldDeck's storage.
"""
from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

import paramiko

from services.hosts import Host
from services.hosts.ssh import open_client
from services.platform import defaults
from services.platform.errors import HostUnreachable
from services.running.executors.base import HostUnavailable
from services.running.executors.remote_files import FETCH_SUFFIXES
from services.running.executors.ssh import unavailable


class ConnectionLost(OSError):
    """The SSH session to the login node broke during a file operation: try again later."""


class Connection:
    """One SSH session to a login node, shared by threads, reopened after a drop (at most once a retry period)."""

    def __init__(self, host: Host, known_hosts: Path):
        self.host, self.known_hosts = host, known_hosts
        self.client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.opened = 0  # sessions opened so far (a test counts the re-attach after a drop)
        self.file_ops = 0  # SFTP operations so far (the bench reads it)
        self.down_until = 0.0
        self._lock = threading.RLock()  # guards the session and SFTP (paramiko's SFTP client is not thread-safe)

    def _client(self) -> paramiko.SSHClient:
        with self._lock:
            transport = self.client.get_transport() if self.client is not None else None
            if transport is not None and transport.is_active():
                return self.client
            self.drop()
            if time.monotonic() < self.down_until:
                raise HostUnavailable(self.host.name, "the login node is unreachable (retrying)")
            try:
                self.client = open_client(self.host, self.known_hosts)
            except HostUnreachable as exc:
                self.down_until = time.monotonic() + defaults.SLURM_TICK_S
                raise unavailable(self.host, self.known_hosts, exc) from None
            self.client.get_transport().set_keepalive(defaults.SLURM_SSH_KEEPALIVE_S)
            self.opened += 1
            return self.client

    def drop(self) -> None:
        """Close the session (a later call opens a new one)."""
        with self._lock:
            if self.client is not None:
                self.client.close()
            self.client, self._sftp = None, None

    def exec(self, command: str, stdin: bytes | None = None,
             timeout: float = defaults.SLURM_COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Run one shell command on the login node; HostUnavailable when the session is gone."""
        client = self._client()
        try:
            chan = client.get_transport().open_session(timeout=timeout)
            chan.settimeout(timeout)
            chan.exec_command(command)
            if stdin is not None:
                chan.sendall(stdin)
                chan.shutdown_write()
            out, err = _read_all(chan)
            code = chan.recv_exit_status()
            chan.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.drop()
            raise HostUnavailable(self.host.name, f"lost the SSH session: {exc or 'closed by the host'}") from None
        return subprocess.CompletedProcess(command, code, out.decode(errors="replace"), err.decode(errors="replace"))

    def sftp(self, op):
        """Return op(sftp client) under the session's lock; ConnectionLost when the session broke."""
        with self._lock:
            self.file_ops += 1
            try:
                client = self._client()
                if self._sftp is None:
                    self._sftp = client.open_sftp()
                    self._sftp.get_channel().settimeout(defaults.SLURM_COMMAND_TIMEOUT_S)
                return op(self._sftp)
            except HostUnavailable as exc:
                raise ConnectionLost(str(exc)) from None
            except (EOFError, paramiko.SSHException, TimeoutError, ConnectionError) as exc:
                self.drop()
                raise ConnectionLost(f"{self.host.name}: lost the SSH session: {exc}") from None
            except OSError as exc:
                if self.client is None or not self.client.get_transport() or \
                        not self.client.get_transport().is_active():
                    self.drop()
                    raise ConnectionLost(f"{self.host.name}: lost the SSH session: {exc}") from None
                raise


def _read_all(chan: paramiko.Channel) -> tuple[bytes, bytes]:
    """Read a channel's stdout to its end, then its stderr (buffered meanwhile: Slurm's errors are short)."""
    with chan.makefile("rb") as out, chan.makefile_stderr("rb") as err:
        return out.read(), err.read()


class Access:
    """Run Slurm commands and reach the run folders as one identity.

    `conn` None: commands run here; `shared`: files are on this machine's filesystem; `sudo_user`:
    commands and writes go through `sudo -n -u <user>` (reads stay the login user's: the job's
    files are world-readable under the default umask, and FoldDeck only reads them).
    """

    def __init__(self, host: Host, conn: Connection | None, shared: bool, sudo_user: str = ""):
        self.host, self.conn, self.shared, self.sudo_user = host, conn, shared, sudo_user

    # -- commands ------------------------------------------------------------------------------------

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        """Run one command (as the identity); HostUnavailable when it cannot be started or does not answer."""
        argv = (["sudo", "-n", "-u", self.sudo_user] if self.sudo_user else []) + list(args)
        if self.conn is not None:
            return self.conn.exec(shlex.join(argv), stdin)
        try:
            res = subprocess.run(argv, capture_output=True, timeout=defaults.SLURM_COMMAND_TIMEOUT_S, check=False,
                                 input=stdin if stdin is not None else b"")
            return subprocess.CompletedProcess(argv, res.returncode, res.stdout.decode(errors="replace"),
                                               res.stderr.decode(errors="replace"))
        except FileNotFoundError:
            raise HostUnavailable(self.host.name, f"{argv[0]} not found", config=True,
                                  fix="install the Slurm clients (and the cluster's slurm.conf) on this machine, "
                                      "or give the host the 'address' of a login node") from None
        except subprocess.TimeoutExpired:
            raise HostUnavailable(self.host.name, f"{args[0]} did not answer within "
                                  f"{defaults.SLURM_COMMAND_TIMEOUT_S:.0f} s (is slurmctld up?)") from None

    # -- files ---------------------------------------------------------------------------------------

    def makedirs(self, path: str) -> None:
        """Create a folder and its parents (as the identity)."""
        if self.sudo_user:
            self._checked("mkdir", "-p", "--", path)
        elif self.shared:
            os.makedirs(path, exist_ok=True)
        else:
            self._checked("mkdir", "-p", "--", path)

    def write(self, path: str, data: bytes) -> None:
        """Write a whole file (as the identity)."""
        if self.sudo_user:
            self._checked("tee", "--", path, stdin=data)
        elif self.shared:
            Path(path).write_bytes(data)
        else:
            def put(sftp):
                with sftp.open(path, "wb") as f:
                    f.write(data)
            self.conn.sftp(put)

    def _checked(self, *args: str, stdin: bytes | None = None) -> None:
        try:
            res = self.run(*args, stdin=stdin)
        except HostUnavailable as exc:
            raise ConnectionLost(str(exc)) from None
        if res.returncode != 0:
            raise OSError(f"`{' '.join(args[:3])}` failed on {self.host.name}: {res.stderr.strip()[-300:]}")

    def read_at(self, path: str, offset: int, limit: int) -> bytes:
        """Return up to `limit` bytes of a file from `offset` (b"" when it does not exist yet)."""
        if self.shared:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    return f.read(limit)
            except FileNotFoundError:
                return b""

        def read(sftp):
            try:
                with sftp.open(path, "rb") as f:
                    f.seek(offset)
                    return f.read(limit)
            except FileNotFoundError:
                return b""
        return self.conn.sftp(read)

    def size(self, path: str) -> int | None:
        """Return a file's size, None when it does not exist."""
        if self.shared:
            try:
                return os.path.getsize(path)
            except FileNotFoundError:
                return None

        def size(sftp):
            try:
                return sftp.stat(path).st_size
            except FileNotFoundError:
                return None
        return self.conn.sftp(size)

    def read_text(self, path: str) -> str | None:
        """Return a small file's text, None when it does not exist."""
        data = self.read_at(path, 0, 1 << 20) if self.size(path) is not None else None
        return data.decode(errors="replace") if data is not None else None

    def exists(self, path: str) -> bool:
        return self.size(path) is not None

    def fetch(self, remote: str, local: Path, suffixes: tuple[str, ...] = FETCH_SUFFIXES) -> None:
        """Copy a results folder here (over SFTP: only the files ending in `suffixes`)."""
        if self.shared:
            if Path(remote).resolve() != Path(local).resolve():
                shutil.copytree(remote, local, dirs_exist_ok=True)
            return
        self.conn.sftp(lambda sftp: _fetch(sftp, remote, Path(local), suffixes))


def _fetch(sftp: paramiko.SFTPClient, remote: str, local: Path, suffixes: tuple[str, ...]) -> None:
    local.mkdir(parents=True, exist_ok=True)
    for entry in sftp.listdir_attr(remote):
        src = f"{remote}/{entry.filename}"
        if stat.S_ISDIR(entry.st_mode or 0):
            _fetch(sftp, src, local / entry.filename, suffixes)
        elif entry.filename.endswith(suffixes):
            sftp.get(src, str(local / entry.filename))
