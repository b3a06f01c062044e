"""Collect the local machine: psutil for CPU, load, memory, swap and disks; NVML for GPUs."""
from __future__ import annotations

import os
import time

import psutil

from services.metrics import nvml
from services.metrics.model import Disk, GpuProcess, HostSnapshot


class LocalCollector:
    """Collects the machine the sampler runs on; keep one instance (psutil CPU % is a delta)."""

    def __init__(self, name: str = "local", mounts: tuple[str, ...] = ("/",), nv=None):
        self.name = name
        self.mounts = mounts
        self._nv = nv
        # Prime the CPU counters so the first real tick reports the load since now, not since boot.
        psutil.cpu_percent(percpu=True)

    def collect(self) -> HostSnapshot:
        """Return a snapshot of this machine."""
        t0 = time.perf_counter()
        per_cpu = psutil.cpu_percent(percpu=True)
        mem, swap = psutil.virtual_memory(), psutil.swap_memory()
        snap = HostSnapshot(host=self.name, ts=time.time(),
                            cpu_percent=round(sum(per_cpu) / len(per_cpu), 1) if per_cpu else None,
                            per_cpu=per_cpu, load=os.getloadavg(),
                            mem_used_bytes=mem.total - mem.available, mem_total_bytes=mem.total,
                            swap_used_bytes=swap.used, swap_total_bytes=swap.total, disks=self._disks())
        reading = nvml.read_gpus(self._nv)
        snap.gpus, snap.gpu_note = reading.gpus, reading.note
        snap.gpu_processes = [_with_pgid(p) for p in reading.processes]
        snap.collect_ms = round((time.perf_counter() - t0) * 1000, 2)
        return snap

    def _disks(self) -> list[Disk]:
        """Return usage of the configured mounts that exist."""
        out = []
        for mount in self.mounts:
            try:
                du = psutil.disk_usage(mount)
            except OSError:  # an unmounted or missing path is not worth a crash
                continue
            out.append(Disk(mount=mount, used_bytes=du.used, total_bytes=du.used + du.free))
        return out


def _with_pgid(proc: GpuProcess) -> GpuProcess:
    """Fill the process group and parent chain, which attribute a GPU process to a job."""
    try:
        proc.pgid = os.getpgid(proc.pid)
        proc.ancestors = [p.pid for p in psutil.Process(proc.pid).parents()]
        proc.name = proc.name or psutil.Process(proc.pid).name()
    except (ProcessLookupError, psutil.Error):  # exited between NVML and now, or another namespace
        pass
    return proc
