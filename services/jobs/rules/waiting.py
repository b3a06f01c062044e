"""Why a queued job waits (issue 18): approval, paused queue, "not before", per-user limit, maintenance,
preflight, or simply no free slot. One sentence per job for the job page and the admin queue."""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from services.hosts import Host, load_hosts
from services.jobs.model import Job, JobState
from services.jobs.rules import placement, wording
from services.jobs.workers import queue_paused, slot_use
from services.platform.errors import SettingsError
from services.platform.settings import Settings

NO_SLOT = wording.NO_SLOT
PAUSED = wording.PAUSED_WHY


def reasons(conn: sqlite3.Connection, settings: Settings, jobs: Iterable[Job], now: float | None = None,
            hosts: list[Host] | None = None) -> dict[int, str]:
    """Return job id -> why it waits, for the queued jobs among `jobs` (shared facts read once)."""
    queued = [j for j in jobs if j.state is JobState.QUEUED]
    if not queued:
        return {}
    now = time.time() if now is None else now
    if hosts is None:
        try:
            hosts = load_hosts(settings)
        except SettingsError:
            hosts = []
    hosts = [h for h in hosts if h.run_jobs]
    paused = queue_paused(conn)
    running = dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY owner_id"))
    limits = dict(conn.execute("SELECT user_id, max_running FROM user_limits WHERE max_running IS NOT NULL"))
    slots = _Slots(conn, settings, hosts)
    return {j.id: _reason(conn, settings, j, now, hosts, paused, running, limits, slots) for j in queued}


class _Slots:
    """What the running stages hold (issue 16), read once per call and only if some job needs it."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings, hosts: list[Host]):
        self.conn, self.settings, self.two_stage = conn, settings, [h for h in hosts if h.two_stage]
        self._busy: dict | None = None
        self._cpu_full: bool | None = None

    def searching(self) -> dict:
        from services.jobs import stages

        if self._busy is None:
            self._busy = stages.searching(self.conn, self.settings)
        return self._busy

    def cpu_full(self) -> bool:
        if self._cpu_full is None:
            used = slot_use(self.conn)
            self._cpu_full = all(used.get((h.name, True), 0) >= h.cpu_slots for h in self.two_stage)
        return self._cpu_full


def _reason(conn, settings, job: Job, now: float, hosts: list[Host], paused: bool, running: dict,
            limits: dict, slots: _Slots) -> str:
    if job.approval == "pending":
        return wording.awaiting_approval()
    if paused:
        return PAUSED
    if job.not_before and job.not_before > now:
        return wording.not_before(job.not_before)
    limit = limits.get(job.owner_id)
    if limit is not None and running.get(job.owner_id, 0) >= limit:
        return wording.per_user_limit(running.get(job.owner_id, 0), limit)
    if not hosts:
        return wording.NO_HOST
    hosts = [h for h in hosts if h.offers(job.engine)]  # the claim's own rule (services.jobs.leases, issue 29)
    if not hosts:
        return wording.no_engine_host(job.engine)
    blocked = []
    for host in hosts:
        text = placement.refusal(conn, settings, host, job.gpu_seconds, now)  # the claim's own rule
        if not text:
            return _slot_text(settings, job, slots)  # some host could take it: it waits for a slot there
        blocked.append(text)
    return wording.waiting(*blocked)


def _slot_text(settings: Settings, job: Job, slots: _Slots) -> str:
    """Say which kind of slot a job waits for (issue 16): a GPU for inference, a CPU slot for its MSA search,
    or another job's search of the same chain."""
    from services.jobs import stages

    if job.data_json:
        return wording.GPU_ONLY
    other = stages.waits_for_in(settings, job, slots.searching())
    if other is not None:
        return wording.waits_for_search(other)
    if slots.two_stage and (job.msa_keys or "[]") != "[]" and slots.cpu_full():
        return wording.NO_CPU_SLOT
    return NO_SLOT


def reason(conn: sqlite3.Connection, settings: Settings, job: Job, now: float | None = None) -> str:
    """Return why one queued job waits ("" when it is not queued)."""
    return reasons(conn, settings, [job], now).get(job.id, "")
