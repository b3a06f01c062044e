"""Executors run one AF3 command for one job attempt: locally, on an SSH host or through Slurm.

`base` holds the interface and knows no executor; this package chooses one per host kind, so
`local` and `ssh` import `base` without an import circle. `cleanup` removes what a job leaves on
its hosts (a lost attempt's processes, a deleted job's folders): the queue below knows no host.
"""
from __future__ import annotations

from services.hosts import Host
from services.platform.settings import Settings
from services.running.executors.base import Executor, ExecutorError, HostUnavailable, RunSpec

__all__ = ["Executor", "ExecutorError", "HostUnavailable", "RunSpec", "make_executor"]


def make_executor(host: Host, settings: Settings) -> Executor:
    """Return the executor for a host."""
    if host.is_slurm:
        from services.running.executors.slurm import SlurmExecutor

        return SlurmExecutor(host, settings)
    if host.is_local:
        from services.running.executors.local import LocalExecutor

        return LocalExecutor()
    from services.running.executors.ssh import SSHExecutor

    return SSHExecutor(host, settings.known_hosts)
