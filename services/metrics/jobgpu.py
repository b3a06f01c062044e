"""Attribute GPU processes to running jobs and keep each job's peak GPU memory and mean utilisation."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.metrics.model import GpuProcess, HostSnapshot


@dataclass
class JobUse:
    peak_mem_mib: float = 0.0
    util_sum: float = 0.0
    ticks: int = 0  # ticks on which the job held a GPU (the CPU-only data pipeline does not count)

    @property
    def mean_util(self) -> float:
        """Return the mean GPU utilisation over the ticks the job used a GPU."""
        return round(self.util_sum / self.ticks, 1) if self.ticks else 0.0


def owns(target: int | None, proc: GpuProcess) -> bool:
    """Return True when `proc` is the job's process, in its process group, or below it in the tree."""
    if not target:
        return False
    return proc.pid == target or proc.pgid == target or target in proc.ancestors


def job_target(job: Any) -> int | None:
    """Return the pid / process group a job runs under: the remote one for SSH jobs."""
    return getattr(job, "remote_pid", None) or getattr(job, "pid", None)


class JobGpuTracker:
    """Keeps per-job GPU use across sampler ticks (in memory; the job row holds the result)."""

    def __init__(self) -> None:
        self._uses: dict[int, JobUse] = {}

    def _resume(self, job: Any) -> JobUse:
        """Start tracking a job, carrying over what a previous sampler run recorded on its row.

        The earlier mean counts as one tick: the row does not keep the tick count, and a restart
        should neither forget the peak nor let a few new ticks erase the job's history.
        """
        peak, mean = getattr(job, "peak_mem_mib", None), getattr(job, "mean_util", None)
        use = JobUse(peak_mem_mib=peak or 0.0, util_sum=mean or 0.0, ticks=1 if mean else 0)
        self._uses[job.id] = use
        return use

    def update(self, jobs: Iterable[Any], snaps: list[HostSnapshot]) -> dict[int, JobUse]:
        """Fold one tick into the running jobs' use; return the jobs that held a GPU so far."""
        by_host = {s.host: s for s in snaps if s.up}
        running = set()
        for job in jobs:
            running.add(job.id)
            snap = by_host.get(getattr(job, "host", None) or "local")
            if snap is None:
                continue
            target = job_target(job)
            procs = [p for p in snap.gpu_processes if owns(target, p)]
            if not procs:
                continue
            uuids = {p.gpu_uuid for p in procs}
            utils = [g.util for g in snap.gpus if g.uuid in uuids and g.util is not None]
            use = self._uses.get(job.id) or self._resume(job)
            use.peak_mem_mib = max(use.peak_mem_mib, sum(p.used_mib or 0.0 for p in procs))
            if utils:
                use.util_sum += sum(utils) / len(utils)
                use.ticks += 1
        for gone in set(self._uses) - running:  # finished jobs keep what was last recorded
            del self._uses[gone]
        return dict(self._uses)
