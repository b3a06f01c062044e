"""Collect an SSH host with one persistent paramiko connection and one remote command per tick.

The command reads /proc/stat, /proc/meminfo, /proc/loadavg, statfs of the configured mounts and
nvidia-smi's CSV (GPUs and compute apps); `parse_output` turns that into the same `HostSnapshot`
the local collector returns. A host that is down or refuses auth is reported down with the reason
and retried with exponential backoff; `HostPoller` runs each host in its own thread so a slow or
dead host never delays the others.
"""
from __future__ import annotations

import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from services.hosts import Host
from services.hosts.ssh import open_client
from services.metrics.model import Disk, Gpu, GpuProcess, HostSnapshot, down
from services.platform import defaults
from services.platform.errors import HostUnreachable

GPU_FIELDS = "index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit"
APP_FIELDS = "pid,used_memory,gpu_uuid,process_name"


def remote_command(mounts: tuple[str, ...]) -> str:
    """Return the POSIX shell script run on the host each tick (sections start with @@)."""
    disks = " ".join(shlex.quote(m) for m in mounts)
    return f"""export LC_ALL=C
echo @@STAT; grep '^cpu' /proc/stat
echo @@MEM; cat /proc/meminfo
echo @@LOAD; cat /proc/loadavg
echo @@DISK; for m in {disks}; do printf '%s\\t%s\\n' "$m" "$(stat -f -c '%S %b %f %a' "$m" 2>/dev/null)"; done
if command -v nvidia-smi >/dev/null 2>&1; then
  echo @@GPU; nvidia-smi --query-gpu={GPU_FIELDS} --format=csv,noheader,nounits 2>&1; echo "@@GPURC $?"
  apps=$(nvidia-smi --query-compute-apps={APP_FIELDS} --format=csv,noheader,nounits 2>/dev/null)
  echo @@APPS; [ -n "$apps" ] && printf '%s\\n' "$apps"
  if [ -n "$apps" ]; then echo @@PS; ps -eo pid=,ppid=,pgid=; fi
else
  echo @@NOSMI
fi
echo @@END
"""


def _sections(text: str) -> dict[str, list[str]]:
    """Split the command output into {marker: lines}."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("@@"):
            key, _, rest = line[2:].partition(" ")
            current = key
            out.setdefault(key, [])
            if rest:
                out[key].append(rest)
        elif current:
            out[current].append(line)
    return out


def _num(raw: str) -> float | None:
    """Return a float from an nvidia-smi field, None for [N/A] / [Not Supported]."""
    try:
        return float(raw.strip())
    except ValueError:
        return None


CpuCounters = dict[str, tuple[int, int]]  # "cpu", "cpu0"... -> (busy, total) jiffies


def _cpu_counters(lines: list[str]) -> CpuCounters:
    """Return busy/total jiffies per /proc/stat cpu line."""
    out: CpuCounters = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 5 or not parts[0].startswith("cpu"):
            continue
        vals = [int(v) for v in parts[1:9]]  # user..steal; guest is already inside user
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        out[parts[0]] = (sum(vals) - idle, sum(vals))
    return out


def _cpu_percent(now: CpuCounters, prev: CpuCounters | None, key: str) -> float | None:
    """Return the busy share of `key` between two readings, None without a previous one."""
    if not prev or key not in prev or key not in now:
        return None
    busy, total = now[key][0] - prev[key][0], now[key][1] - prev[key][1]
    return round(100.0 * busy / total, 1) if total > 0 else 0.0


def _meminfo(lines: list[str]) -> dict[str, int]:
    """Return /proc/meminfo in bytes."""
    out = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return out


def _disks(lines: list[str]) -> list[Disk]:
    """Return disks from `mount<TAB>frsize blocks bfree bavail` lines (psutil's arithmetic)."""
    out = []
    for line in lines:
        mount, _, rest = line.partition("\t")
        parts = rest.split()
        if len(parts) != 4:
            continue  # mount missing on this host
        frsize, blocks, bfree, bavail = (int(p) for p in parts)
        used = (blocks - bfree) * frsize
        out.append(Disk(mount=mount, used_bytes=used, total_bytes=used + bavail * frsize))
    return out


def _gpus(lines: list[str]) -> list[Gpu]:
    """Return GPUs from nvidia-smi --query-gpu CSV lines."""
    out = []
    for line in lines:
        f = [x.strip() for x in line.split(",")]
        if len(f) != 9 or not f[0].isdigit():
            continue
        out.append(Gpu(index=int(f[0]), uuid=f[1], name=f[2], util=_num(f[3]), mem_used_mib=_num(f[4]),
                       mem_total_mib=_num(f[5]), temp_c=_num(f[6]), power_w=_num(f[7]), power_limit_w=_num(f[8])))
    return out


def _processes(app_lines: list[str], ps_lines: list[str]) -> list[GpuProcess]:
    """Return GPU processes with their process group and parent chain from `ps`."""
    table = {}
    for line in ps_lines:
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            table[int(parts[0])] = (int(parts[1]), int(parts[2]))
    out = []
    for line in app_lines:
        f = [x.strip() for x in line.split(",", 3)]
        if len(f) < 3 or not f[0].isdigit():
            continue
        pid = int(f[0])
        ancestors, cur = [], table.get(pid, (0, 0))[0]
        while cur > 1 and cur in table and len(ancestors) < 64:
            ancestors.append(cur)
            cur = table[cur][0]
        out.append(GpuProcess(pid=pid, used_mib=_num(f[1]), gpu_uuid=f[2], name=f[3] if len(f) > 3 else "",
                              pgid=table[pid][1] if pid in table else None, ancestors=ancestors))
    return out


def parse_output(host: str, text: str, prev: CpuCounters | None, ts: float) -> tuple[HostSnapshot, CpuCounters]:
    """Return the snapshot in `text` and the CPU counters to pass as `prev` next tick."""
    sec = _sections(text)
    counters = _cpu_counters(sec.get("STAT", []))
    mem = _meminfo(sec.get("MEM", []))
    load = sec.get("LOAD", [""])[0].split()
    per_cpu = [_cpu_percent(counters, prev, k) for k in sorted((k for k in counters if k != "cpu"),
                                                               key=lambda k: int(k[3:]))]
    snap = HostSnapshot(host=host, ts=ts, cpu_percent=_cpu_percent(counters, prev, "cpu"),
                        per_cpu=[p for p in per_cpu if p is not None],
                        load=tuple(float(x) for x in load[:3]) if len(load) >= 3 else None,
                        mem_total_bytes=mem.get("MemTotal", 0),
                        mem_used_bytes=mem.get("MemTotal", 0) - mem.get("MemAvailable", mem.get("MemFree", 0)),
                        swap_total_bytes=mem.get("SwapTotal", 0),
                        swap_used_bytes=mem.get("SwapTotal", 0) - mem.get("SwapFree", 0),
                        disks=_disks(sec.get("DISK", [])))
    if "NOSMI" in sec:
        snap.gpu_note = "no GPU: nvidia-smi not found"
    elif "GPU" in sec:
        gpu_lines = sec["GPU"]
        rc = sec.get("GPURC", ["0"])[0].strip()
        snap.gpus = _gpus(gpu_lines)
        if rc != "0" or not snap.gpus:
            detail = next((ln.strip() for ln in gpu_lines if ln.strip()), f"exit status {rc}")
            snap.gpu_note = f"no GPU: nvidia-smi failed: {detail[:200]}"
        snap.gpu_processes = _processes(sec.get("APPS", []), sec.get("PS", []))
    return snap, counters


@dataclass
class Backoff:
    """Exponential retry delay: min_s, doubled per failure, capped at max_s."""

    min_s: float = defaults.SSH_RETRY_MIN_S
    max_s: float = defaults.SSH_RETRY_MAX_S
    failures: int = 0

    def next_delay(self) -> float:
        """Record a failure and return the wait before the next try."""
        self.failures += 1
        return min(self.max_s, self.min_s * 2 ** (self.failures - 1))

    def reset(self) -> None:
        """Forget failures after a success."""
        self.failures = 0


class SshCollector:
    """Collects one SSH host over a connection kept open between ticks. Not thread-safe: one per thread."""

    def __init__(self, host: Host, known_hosts: Path, mounts: tuple[str, ...] = ("/",),
                 connect_timeout: float = defaults.SSH_CONNECT_TIMEOUT_S,
                 command_timeout: float = defaults.SSH_COMMAND_TIMEOUT_S, backoff: Backoff | None = None,
                 persistent: bool = True):
        self.host = host
        self.known_hosts = known_hosts
        self.command = remote_command(mounts)
        self.connect_timeout, self.command_timeout = connect_timeout, command_timeout
        self.backoff = backoff or Backoff()
        self.persistent = persistent  # False only for the bench's "new connection per tick" baseline
        self._client: paramiko.SSHClient | None = None
        self._prev: CpuCounters | None = None
        self._retry_at = 0.0
        self._reason = ""

    def collect(self) -> HostSnapshot:
        """Return the host's snapshot, or a down snapshot with the reason; never raises for SSH trouble."""
        t0 = time.perf_counter()
        now = time.monotonic()
        if self._client is None and now < self._retry_at:
            return down(self.host.name, time.time(), f"{self._reason} (next try in {self._retry_at - now:.0f} s)")
        try:
            text = self._run_once()
        except HostUnreachable as exc:
            self._fail(str(exc))
            return down(self.host.name, time.time(), self._reason)
        self.backoff.reset()
        snap, self._prev = parse_output(self.host.name, text, self._prev, time.time())
        snap.collect_ms = round((time.perf_counter() - t0) * 1000, 2)
        if not self.persistent:
            self.close()
        return snap

    def _run_once(self) -> str:
        """Run the command, reconnecting once if a kept connection turned out dead."""
        reused = self._client is not None
        try:
            return self._exec(self._connect())
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            if not reused:
                raise HostUnreachable(f"{self.host.name}: remote command failed: {exc or type(exc).__name__}") from None
        # The kept connection died (sshd restarted, network blip): one fresh try before calling it down.
        try:
            return self._exec(self._connect())
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise HostUnreachable(f"{self.host.name}: remote command failed: {exc or type(exc).__name__}") from None

    def _connect(self) -> paramiko.SSHClient:
        """Return the open client, connecting if needed (HostUnreachable on failure)."""
        if self._client is None:
            self._client = open_client(self.host, self.known_hosts, timeout=self.connect_timeout)
            transport = self._client.get_transport()
            if transport is not None:
                # Keepalives let a dead peer surface as an error instead of a silent hang.
                transport.set_keepalive(int(defaults.SSH_KEEPALIVE_S))
        return self._client

    def _exec(self, client: paramiko.SSHClient) -> str:
        """Run the tick command on `client` and return its stdout."""
        _, stdout, _ = client.exec_command(self.command, timeout=self.command_timeout)
        try:
            text = stdout.read().decode("utf-8", "replace")
        except TimeoutError:
            raise OSError(f"no answer within {self.command_timeout:g} s") from None
        if "@@END" not in text:
            raise EOFError("output cut short")
        return text

    def _fail(self, reason: str) -> None:
        """Record a failure and schedule the next try."""
        self._reason = reason
        self._prev = None
        self._retry_at = time.monotonic() + self.backoff.next_delay()

    def close(self) -> None:
        """Drop the connection (the next collect reconnects)."""
        if self._client is not None:
            self._client.close()
            self._client = None


class HostPoller:
    """Runs one collector in its own thread; the sampler asks for a sample and waits with a deadline."""

    def __init__(self, collector):
        self.collector = collector
        self.name = collector.host.name
        self.latest: HostSnapshot | None = None
        self._cv = threading.Condition()
        self._pending = False
        self._done = 0  # samples finished so far
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name=f"poll-{self.name}", daemon=True)
        self._thread.start()

    def request(self) -> int:
        """Ask for a fresh sample unless one is already under way (no pile-up); return the current count."""
        with self._cv:
            self._pending = True
            self._cv.notify_all()
            return self._done

    def wait(self, since: int, timeout: float) -> bool:
        """Wait until a sample newer than `since` is done; return whether one arrived."""
        with self._cv:
            return self._cv.wait_for(lambda: self._done > since, timeout)

    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._stop)
                if self._stop:
                    return
                self._pending = False
            snap = self.collector.collect()
            with self._cv:
                self.latest = snap
                self._done += 1
                self._cv.notify_all()

    def stop(self, timeout: float = 1.0) -> None:
        """End the thread and close the connection."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)
        close = getattr(self.collector, "close", None)
        if close:
            close()
