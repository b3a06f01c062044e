"""The worker registry: queue control, registered workers, heartbeats and host slots."""
from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from services.hosts import load_hosts
from services.jobs.model import log
from services.people.users import User
from services.platform.db import transaction
from services.platform.settings import Settings

# -- queue control and workers ----------------------------------------------------------------


def pause_queue(conn: sqlite3.Connection, by_user: User) -> None:
    """Stop workers from starting new jobs (running ones continue)."""
    conn.execute("UPDATE queue_control SET paused = 1, changed_by = ?, changed_at = ? WHERE id = 1",
                 (by_user.username, time.time()))
    # DEBUG: services/operations/admin.py writes the one audit line (with the acting admin) for this action.
    log.debug("queue paused by %s", by_user.username, extra={"source": "jobs", "username": by_user.username})


def resume_queue(conn: sqlite3.Connection, by_user: User) -> None:
    """Let workers start queued jobs again."""
    conn.execute("UPDATE queue_control SET paused = 0, changed_by = ?, changed_at = ? WHERE id = 1",
                 (by_user.username, time.time()))
    log.debug("queue resumed by %s", by_user.username, extra={"source": "jobs", "username": by_user.username})


def queue_paused(conn: sqlite3.Connection) -> bool:
    """Return True while the queue is paused."""
    return bool(conn.execute("SELECT paused FROM queue_control WHERE id = 1").fetchone()[0])


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host_name: str
    pid: int
    started_at: float
    heartbeat_at: float
    current_job: int | None
    stopped_at: float | None
    running_jobs: tuple[int, ...]


def list_workers(conn: sqlite3.Connection, include_stopped: bool = False) -> list[WorkerInfo]:
    """Return the workers (live ones unless include_stopped), newest first."""
    running: dict[str, list[int]] = defaultdict(list)
    for wid, jid in conn.execute("SELECT worker_id, id FROM jobs WHERE state = 'running' ORDER BY id"):
        running[wid].append(jid)
    where = "" if include_stopped else " WHERE stopped_at IS NULL"
    rows = conn.execute("SELECT id, host_name, pid, started_at, heartbeat_at, current_job, stopped_at FROM workers"
                        + where + " ORDER BY started_at DESC").fetchall()
    return [WorkerInfo(*r, running_jobs=tuple(running.get(r[0], ()))) for r in rows]


@dataclass(frozen=True)
class HostSlots:
    name: str
    slots: int  # GPU slots
    running: int  # attempts holding a GPU slot (inference, or both stages in one run)
    cpu_slots: int = 0  # data-pipeline slots (issue 16)
    searching: int = 0  # data pipelines running there

    @property
    def free(self) -> int:
        return max(0, self.slots - self.running)


def slot_use(conn: sqlite3.Connection) -> dict[tuple[str, bool], int]:
    """Return (host, is a CPU slot) -> attempts running there: a data pipeline holds a CPU slot, the rest a GPU slot."""
    return {(h, bool(d)): n for h, d, n in conn.execute(
        "SELECT host, phase = 'data', COUNT(*) FROM jobs WHERE state = 'running' GROUP BY host, phase = 'data'")}


def slots_per_host(settings: Settings, conn: sqlite3.Connection) -> dict[str, HostSlots]:
    """Return, per host that runs jobs, its GPU and CPU slots and how many of each are in use now."""
    used = slot_use(conn)
    return {h.name: HostSlots(h.name, h.slots, used.get((h.name, False), 0), h.cpu_slots, used.get((h.name, True), 0))
            for h in load_hosts(settings) if h.run_jobs}


# -- worker side ------------------------------------------------------------------------------


def register_worker(conn: sqlite3.Connection, worker_id: str, host_name: str, pid: int) -> None:
    """Record a worker as started."""
    now = time.time()
    conn.execute("INSERT OR REPLACE INTO workers (id, host_name, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
                 (worker_id, host_name, pid, now, now))


def stop_worker(conn: sqlite3.Connection, worker_id: str) -> None:
    """Record a worker as stopped."""
    conn.execute("UPDATE workers SET stopped_at = ?, current_job = NULL WHERE id = ?", (time.time(), worker_id))


def heartbeat(conn: sqlite3.Connection, worker_id: str, lease_seconds: float,
              job_ids: Iterable[int] | None = None) -> None:
    """Renew the leases of this worker's running jobs (only `job_ids`, when given) and its own heartbeat.

    A worker passes the jobs its slots are running: a job it lost track of (a slot that died, a
    failed final write) then expires and is reaped instead of being renewed forever.
    """
    now = time.time()
    with transaction(conn):
        if job_ids is None:
            conn.execute("UPDATE jobs SET lease_expires = ? WHERE worker_id = ? AND state = 'running'",
                         (now + lease_seconds, worker_id))
        else:
            ids = list(job_ids)
            conn.execute(f"UPDATE jobs SET lease_expires = ? WHERE worker_id = ? AND state = 'running' "
                         f"AND id IN ({','.join('?' * len(ids))})", (now + lease_seconds, worker_id, *ids))
        conn.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (now, worker_id))
