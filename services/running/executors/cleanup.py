"""What a job leaves on the hosts it ran on, cleaned up from the executors' side (the queue knows no host).

Two moments: the queue reaps an attempt whose worker stopped answering (`reap_lost_attempts` then kills
what that attempt left running, marker-checked), and a deleted job's folders stay on the SSH and Slurm
hosts it ran on (`remove_elsewhere`). A host that cannot be reached is named in the application log.
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
import threading

from services.hosts import Host, install_tag, load_hosts
from services.jobs import joblog
from services.jobs.claim.leases import reap_expired
from services.jobs.model import Job, job_event, log
from services.platform.errors import HostUnreachable, SettingsError
from services.platform.settings import Settings
from services.running.executors.base import ExecutorError
from services.running.executors.local import kill_leftovers
from services.running.executors.slurm_cluster import cluster
from services.running.executors.ssh import kill_remote_leftovers, remove_remote_job


def reap_lost_attempts(conn: sqlite3.Connection, settings: Settings, now: float | None = None,
                       hosts: list[Host] | None = None) -> list[Job]:
    """Reap the running jobs whose lease expired (services.jobs.reap_expired), then kill what their attempts
    left running; return the reaped jobs.

    Leftovers are killed locally by process group, on an SSH host over a short-timeout connection
    (`hosts`, else the hosts file, says how to reach it). A host that does not answer gets a warning
    in the application log and is not tried again in this call.
    """
    reaped = reap_expired(conn, settings, now)
    down: set[str] = set()
    for job in reaped:
        _kill_leftovers(conn, settings, job, hosts, down)
    return reaped


def _kill_leftovers(conn: sqlite3.Connection, settings: Settings, job: Job, hosts: list[Host] | None,
                    down: set[str]) -> None:
    """Kill what a dead worker's attempt left running, here or on its SSH host (marker-checked)."""
    if job.executor == "local":
        if job.pid:
            kill_leftovers(job.pid, job.id, job.attempts)
        return
    if job.executor != "ssh" or not job.host:
        return
    host = _find_host(settings, job.host, hosts)
    if host is None or host.name in down:
        why = "it is not in the hosts file any more" if host is None else "it did not answer earlier"
        job_event(logging.WARNING, "job %s: attempt %s may still run on %s: %s", job, job.id, job.attempts, job.host,
                  why)
        return
    try:
        killed = kill_remote_leftovers(host, settings.known_hosts, job.id, job.attempts)
    except HostUnreachable as exc:
        down.add(host.name)
        job_event(logging.WARNING, "job %s: could not stop attempt %s on %s: %s", job, job.id, job.attempts, host.name,
                  exc)
        joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Could not reach {host.name} to stop "
                                            f"attempt {job.attempts}; it may still be running there.", "warning")])
        return
    if killed:
        joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Stopped {killed} processes attempt "
                                            f"{job.attempts} left running on {host.name}.")])


def _find_host(settings: Settings, name: str, hosts: list[Host] | None) -> Host | None:
    """Return the host called `name` from `hosts`, else from the hosts file (None if neither has it)."""
    for host in hosts or ():
        if host.name == name:
            return host
    try:
        return next((h for h in load_hosts(settings) if h.name == name), None)
    except SettingsError:
        return None


def remove_elsewhere(settings: Settings, job_id: int, host_names: list[str], wait: bool = False) -> None:
    """Remove a deleted job's folders on the hosts it ran on, in the background (a host may be slow or down).

    What cannot be removed is named in the application log, with the folder, for an admin to remove.
    """
    if not host_names:
        return
    thread = threading.Thread(target=_remove_elsewhere, args=(settings, job_id, host_names),
                              name=f"remove-job-{job_id}", daemon=True)
    thread.start()
    if wait:
        thread.join()


def _remove_elsewhere(settings: Settings, job_id: int, host_names: list[str]) -> None:
    """Remove the job's folder on each host: over SSH, or in a Slurm host's shared work dir."""
    extra = {"source": "jobs", "username": None, "job_id": job_id}
    try:
        hosts = {h.name: h for h in load_hosts(settings)}
    except SettingsError as exc:
        log.warning("job %s: its folders on %s were not removed: %s", job_id, ", ".join(host_names), exc, extra=extra)
        return
    for name in host_names:
        host = hosts.get(name)
        try:
            if host is None:
                raise HostUnreachable(f"{name} is not in the hosts file any more")
            folder = f"{host.work_dir}/{install_tag(settings)}/{int(job_id)}"
            if host.is_slurm and host.slurm.shared_storage:
                shutil.rmtree(folder, ignore_errors=True)
            elif host.is_slurm:  # on the cluster's own storage, through its login node (issue 25)
                cluster(host, settings).run("rm", "-rf", "--", folder)
            else:
                remove_remote_job(host, settings.known_hosts, job_id)
        except (HostUnreachable, ExecutorError) as exc:
            log.warning("job %s was deleted, but its folder on %s stays: %s", job_id, name, exc, extra=extra)
