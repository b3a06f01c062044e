"""Run the AF3 command on an SSH host: upload the input, start it detached, follow its log, kill it, fetch results."""
from __future__ import annotations

import posixpath
import queue
import shlex
import stat
import time
from pathlib import Path

import paramiko

from services.hosts import Host
from services.hosts.ssh import open_client
from services.platform import defaults
from services.platform.errors import HostUnreachable
from services.running.executors import remote_files
from services.running.executors.base import (
    Executor,
    ExecutorError,
    HostUnavailable,
    RunSpec,
    render_command,
)
from services.running.executors.local import JOB_ENV, job_tag
from services.running.executors.ssh_follow import DROPPED, KILLED, Follower, launch_script, read_pid


class SSHExecutor(Executor):
    """Run detached on the host (issue 23): a dropped connection is reconnected, a restarted worker re-attaches."""

    kind = "ssh"

    def __init__(self, host: Host, known_hosts: Path):
        self.host, self.known_hosts = host, known_hosts
        self.client: paramiko.SSHClient | None = None
        self.follower: Follower | None = None
        self.spec: RunSpec | None = None
        self.run_dir = ""
        self.outcome: tuple[str, str] | None = None
        self.log_offset = 0  # where the log's lines handed out so far end: a re-attaching executor goes on there

    def _connect(self) -> paramiko.SSHClient:
        client = open_client(self.host, self.known_hosts)
        client.get_transport().set_keepalive(defaults.SSH_KEEPALIVE_S)
        return client

    def start(self, spec: RunSpec) -> None:
        """Upload the input over SFTP and start the command detached, in its own remote session."""
        self._begin(spec)
        other_engine = spec.engine != remote_files.AF3
        remote_input = posixpath.join(self.run_dir, remote_files.input_name(spec))
        try:
            folders = remote_files.folders(self.run_dir, spec)
            self._exec_checked("mkdir -p " + " ".join(shlex.quote(d) for d in sorted({self.remote_output, *folders})))
            with self.client.open_sftp() as sftp:
                for local, name in remote_files.uploads(spec):  # the command runs in run_dir: relative paths hold
                    sftp.put(str(local), posixpath.join(self.run_dir, name))
        except (OSError, paramiko.SSHException) as exc:
            self._raise_if_dropped(exc)
            raise ExecutorError(f"{self.host.name}: cannot upload the input: {exc}") from None
        template = spec.command if other_engine else (self.host.af3_command or spec.command)
        cmd = render_command(template, remote_input, self.remote_output,
                             spec.model_dir, spec.db_dir, spec.stage)
        # The marker in every process's environment lets a reaper find this attempt after its worker died.
        tag = f"{JOB_ENV}={remote_tag(self.host, spec.job_id, spec.attempt)}"
        try:
            pid = self._exec_checked(launch_script(self.run_dir, cmd, tag)).strip()
        except (OSError, paramiko.SSHException) as exc:
            self._raise_if_dropped(exc)
            raise ExecutorError(f"{self.host.name}: cannot start the command: {exc}") from None
        if not pid.isdigit():
            raise ExecutorError(f"{self.host.name}: the command did not start (no process id in {self.run_dir}/pid)")
        self._follow(int(pid), 0)

    def attach(self, spec: RunSpec, offset: int = 0) -> bool:
        """Follow a run a lost worker started, from byte `offset` of its log; False if it never started."""
        self._begin(spec)
        try:
            pid = read_pid(self.client, self.run_dir)
        except (OSError, paramiko.SSHException) as exc:
            self._raise_if_dropped(exc)
            raise ExecutorError(f"{self.host.name}: cannot read {self.run_dir}/pid: {exc}") from None
        if pid is None:
            return False
        self._follow(pid, offset)
        return True

    def _begin(self, spec: RunSpec) -> None:
        self.spec = spec
        self.run_dir = remote_run_dir(self.host, spec.job_id, spec.attempt)
        self.remote_output = posixpath.join(self.run_dir, "output")
        try:
            self.client = self._connect()
        except HostUnreachable as exc:
            raise unavailable(self.host, self.known_hosts, exc) from None

    def _follow(self, pid: int, offset: int) -> None:
        self.remote_pid, self.log_offset = pid, offset
        self.follower = Follower(f"job-{self.spec.job_id}-ssh-follower", self.host.name, self.run_dir, pid,
                                 self._connect, offset)
        self.follower.start()

    def _raise_if_dropped(self, exc: Exception) -> None:
        """Raise HostUnavailable when `exc` came from a lost connection (the host went away mid-setup)."""
        transport = self.client.get_transport() if self.client is not None else None
        if transport is None or not transport.is_active():
            raise HostUnavailable(self.host.name, f"connection lost: {exc or 'closed by the host'}") from None

    def _exec_checked(self, command: str, client: paramiko.SSHClient | None = None) -> str:
        _, out, err = (client or self.client).exec_command(command, timeout=30)
        text, status = out.read().decode(errors="replace"), out.channel.recv_exit_status()
        if status != 0:
            raise OSError(f"`{command}` failed ({status}): {err.read().decode(errors='replace').strip()}")
        return text

    def read_lines(self, timeout: float) -> list[str]:
        """Return output lines available within `timeout` seconds."""
        out: list[str] = []
        if self.follower is None:
            return out
        try:
            while True:
                lines, self.log_offset = self.follower.lines.get(timeout=timeout) if not out and timeout > 0 \
                    else self.follower.lines.get_nowait()
                out += lines
                if len(out) >= 20_000:  # one batch for the job log; the rest waits for the next call
                    return out
        except queue.Empty:
            return out

    def poll(self) -> int | None:
        """Return the remote exit status once the output is drained."""
        f = self.follower
        if f is None or not f.done.is_set() or not f.lines.empty():
            return None
        if f.code is None and f.gave_up and self.outcome is None:
            self.outcome = ("failed", f.gave_up)
        return f.code if f.code is not None else KILLED

    def cancel(self, grace: float = defaults.CANCEL_GRACE_SECONDS) -> None:
        """Kill the remote process group: TERM, then KILL after `grace` seconds; then any process with our marker.

        It connects afresh (the follower's connection may be down and reconnecting), trying for a while.
        """
        if self.spec is None:
            return
        script = ""
        if self.remote_pid is not None:
            group = f"-{self.remote_pid}"
            script = (f"kill -TERM -- {group} 2>/dev/null; i=0; while kill -0 -- {group} 2>/dev/null "
                      f"&& [ $i -lt {int(grace * 10)} ]; do sleep 0.1; i=$((i+1)); done; "
                      f"kill -KILL -- {group} 2>/dev/null; ")
        # The sweep also finds children that left the group (setsid, daemons) and would hold the output open.
        tag = shlex.quote(f"{JOB_ENV}={remote_tag(self.host, self.spec.job_id, self.spec.attempt)}")
        script += _KILL_SCRIPT.format(tag=tag)
        deadline, pause = time.monotonic() + defaults.SSH_CANCEL_TRY_S, defaults.SSH_RECONNECT_MIN_S
        while True:
            try:
                client = self._connect()
                try:
                    self._exec_checked(script, client)
                finally:
                    client.close()
                break
            except DROPPED:
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
                pause = min(pause * 2, defaults.SSH_RECONNECT_MAX_S)
        if self.follower is not None:
            self.follower.done.wait(10)

    def collect(self) -> None:
        """Download the viewer's files from the remote output folder into `spec.output_dir`."""
        try:
            client = self._connect()
        except HostUnreachable as exc:
            raise ExecutorError(f"{self.host.name}: cannot fetch the results: {exc}") from None
        try:
            with client.open_sftp() as sftp:
                self._fetch(sftp, self.remote_output, self.spec.output_dir)
        except (OSError, paramiko.SSHException) as exc:
            raise ExecutorError(f"{self.host.name}: cannot fetch the results: {exc}") from None
        finally:
            client.close()

    def _fetch(self, sftp: paramiko.SFTPClient, remote: str, local: Path) -> None:
        local.mkdir(parents=True, exist_ok=True)
        for entry in sftp.listdir_attr(remote):
            src = posixpath.join(remote, entry.filename)
            if stat.S_ISDIR(entry.st_mode):
                self._fetch(sftp, src, local / entry.filename)
            elif entry.filename.endswith(remote_files.fetch_suffixes(self.spec.engine)):
                sftp.get(src, str(local / entry.filename))

    def close(self) -> None:
        """Stop following and close the connection; a run still going is killed (the attempt was abandoned)."""
        if self.follower is not None and not self.follower.done.is_set():
            self.cancel(grace=0)
            self.follower.stopping.set()
        if self.client is not None:
            self.client.close()
        if self.follower is not None:
            self.follower.join(5)


def unavailable(host: Host, known_hosts: Path, exc: HostUnreachable) -> HostUnavailable:
    """Return `exc` as a HostUnavailable: a short reason, and whether (and how) an admin must fix it."""
    cause = exc.__context__  # open_client raises `from None`; the paramiko or socket error is still here
    known = Path(known_hosts).expanduser()
    if isinstance(cause, paramiko.BadHostKeyException):
        return HostUnavailable(host.name, "host key changed", config=True,
                               fix=f"check the server's new key, then replace its line in {known}")
    if isinstance(cause, paramiko.AuthenticationException):
        return HostUnavailable(host.name, f"authentication refused for user {host.user}", config=True,
                               fix=f"check 'user' and 'key_file' of {host.name} in the hosts file and that the "
                                   f"public key is in {host.user}'s ~/.ssh/authorized_keys on {host.address}")
    if isinstance(cause, paramiko.SSHException) and "not found in known_hosts" in str(cause):
        return HostUnavailable(host.name, f"host key not in {known}", config=True,
                               fix=f"add it with `ssh-keyscan -p {host.port} {host.address} >> {known}` "
                                   "and compare the fingerprint with the server's")
    if isinstance(cause, FileNotFoundError) or "No such file" in str(cause):
        return HostUnavailable(host.name, f"key file {host.key_file} not found", config=True,
                               fix=f"fix 'key_file' of {host.name} in the hosts file")
    if isinstance(cause, paramiko.ssh_exception.NoValidConnectionsError) and cause.errors:
        cause = next(iter(cause.errors.values()))  # paramiko wraps the socket's own error per address tried
    if isinstance(cause, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return HostUnavailable(host.name, "timed out")
    if isinstance(cause, OSError):
        return HostUnavailable(host.name, (cause.strerror or str(cause)).lower())
    return HostUnavailable(host.name, str(cause or exc).rstrip(".") or "SSH error")


def remote_run_dir(host: Host, job_id: int, attempt: int) -> str:
    """Return the folder on `host` that holds one attempt's input and output."""
    return posixpath.join(host.work_dir or "folddeck", f"job-{job_id}", f"attempt-{attempt}")


def remote_tag(host: Host, job_id: int, attempt: int) -> str:
    """Return the marker value of one attempt's remote processes (the run dir keeps installs apart)."""
    return f"{job_tag(job_id, attempt)}:{remote_run_dir(host, job_id, attempt)}"


# Every process of the remote user whose environment holds the marker, over a few rounds (a shell
# caught mid-fork spawns one more child). Marker-checked, so a reused pid never hits another program.
_KILL_SCRIPT = """tag={tag}; killed=0
for round in 1 2 3 4 5; do
  found=0
  for p in $(ps -u "$(id -u)" -o pid=); do
    [ "$p" = "$$" ] && continue
    if tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qxF -- "$tag"; then
      kill -KILL "$p" 2>/dev/null && found=$((found+1))
    fi
  done
  [ "$found" -eq 0 ] && break
  killed=$((killed+found)); sleep 0.05
done
echo "$killed"
"""


def kill_remote_leftovers(host: Host, known_hosts: Path, job_id: int, attempt: int,
                          timeout: float | None = None) -> int:
    """SIGKILL what a lost attempt left running on `host`; return how many processes were killed.

    Raises:
        HostUnreachable: the host did not answer within `timeout` seconds (connect or command).
    """
    timeout = defaults.REAP_SSH_TIMEOUT_S if timeout is None else timeout
    client = open_client(host, known_hosts, timeout=timeout)
    try:
        tag = shlex.quote(f"{JOB_ENV}={remote_tag(host, job_id, attempt)}")
        _, out, _ = client.exec_command(_KILL_SCRIPT.format(tag=tag), timeout=timeout)
        text = out.read().decode(errors="replace").strip()
        return int(text.splitlines()[-1]) if text else 0
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise HostUnreachable(f"{host.name}: cannot stop the lost attempt: {exc or 'timed out'}") from None
    finally:
        client.close()


def remove_remote_job(host: Host, known_hosts: Path, job_id: int, timeout: float | None = None) -> None:
    """Remove a deleted job's folder (every attempt) from `host`'s work dir.

    Raises:
        HostUnreachable: the host did not answer within `timeout` seconds, or the removal failed.
    """
    timeout = defaults.REAP_SSH_TIMEOUT_S if timeout is None else timeout
    folder = posixpath.join(host.work_dir or "folddeck", f"job-{int(job_id)}")
    client = open_client(host, known_hosts, timeout=timeout)
    try:
        _, out, err = client.exec_command(f"rm -rf -- {shlex.quote(folder)}", timeout=timeout)
        if out.channel.recv_exit_status() != 0:
            raise HostUnreachable(f"{host.name}: cannot remove {folder}: {err.read().decode(errors='replace')[:200]}")
    except (OSError, paramiko.SSHException) as exc:
        raise HostUnreachable(f"{host.name}: cannot remove {folder}: {exc or 'timed out'}") from None
    finally:
        client.close()
