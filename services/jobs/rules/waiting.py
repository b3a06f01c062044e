"""Whether a queued job may start now, and if not, why: one predicate for the claim and the sentence.

`decide(floor, job)` goes through every blocker in order — approval, a paused queue, "not before", the
per-user limit, no host, then each host: backoff after a failed connect, maintenance, preflight, and the
free GPU or CPU slot (or another job's MSA search of the same chain) — and returns either the host and
phase to run on or the words that say why not. `services.jobs.claim.leases.claim_job` starts what it places;
the job page, the admin queue, the API and the CLI show its `why`. The claim's SQL only picks candidates
in fair order; every rule it applies is decided again here, so the two cannot drift (issue 23: a host in
backoff made the claim return nothing while the job said "waiting for a free GPU").
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.hosts import Host, load_hosts
from services.jobs.claim import stages
from services.jobs.model import Job, JobState
from services.jobs.rules import placement, wording
from services.jobs.workers import queue_paused, slot_use
from services.platform import defaults
from services.platform.errors import SettingsError
from services.platform.settings import Settings

NO_SLOT = wording.NO_SLOT
PAUSED = wording.PAUSED_WHY


@dataclass
class Floor:
    """The facts one claim or one round of explanations reads once: queue state, users' limits, each host's
    slots and backoff (hosts that run jobs, in the order they are listed)."""

    conn: sqlite3.Connection
    settings: Settings
    now: float
    hosts: list[Host]
    paused: bool
    running: dict[int, int]  # owner id -> running jobs
    limits: dict[int, int]  # owner id -> most running jobs allowed
    used: dict[tuple[str, bool], int]  # (host, CPU slot?) -> attempts holding one
    resting: dict[str, tuple[float, str]]  # host -> (backoff until, why)
    worker_alive: bool | None = None  # explanations only: False when no worker beats (a claim is a worker's)
    _busy: stages.Searching | None = field(default=None, repr=False)
    _free: dict[bool, list[Host]] = field(default_factory=dict, repr=False)

    def free(self, cpu: bool) -> list[Host]:
        """Return the hosts with a free slot of the kind (most free first, first listed on a tie), none resting."""
        if cpu not in self._free:
            room = [((h.cpu_slots if cpu else h.slots) - self.used.get((h.name, cpu), 0), -i, h)
                    for i, h in enumerate(self.hosts) if h.name not in self.resting]
            self._free[cpu] = [r[2] for r in sorted((r for r in room if r[0] > 0), key=lambda r: r[:2], reverse=True)]
        return self._free[cpu]

    def searching(self) -> stages.Searching:
        """Return the chains running data pipelines search now (read on first use)."""
        if self._busy is None:
            self._busy = stages.searching(self.conn, self.settings)
        return self._busy


def floor(conn: sqlite3.Connection, settings: Settings, hosts: list[Host], now: float | None = None) -> Floor:
    """Read the facts `decide` needs, once."""
    now = time.time() if now is None else now
    return Floor(
        conn, settings, now, [h for h in hosts if h.run_jobs], queue_paused(conn),
        dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY owner_id")),
        dict(conn.execute("SELECT user_id, max_running FROM user_limits WHERE max_running IS NOT NULL")),
        slot_use(conn),
        {r[0]: (r[1], r[2]) for r in conn.execute("SELECT host, until, reason FROM host_backoff WHERE until > ?",
                                                   (now,))})


@dataclass(frozen=True)
class Verdict:
    """A queued job's fate now: a host and phase to start on, or why it waits."""

    host: Host | None = None
    phase: str | None = None
    why: str = ""


def decide(fl: Floor, job: Job | stages.Candidate) -> Verdict:
    """Return where `job` may start now, or why it may not (the claim's rule and the page's sentence)."""
    if job.approval not in (None, "approved"):
        return Verdict(why=wording.awaiting_approval())
    if fl.paused:
        return Verdict(why=PAUSED)
    if job.not_before and job.not_before > fl.now:
        return Verdict(why=wording.not_before(job.not_before))
    limit, running = fl.limits.get(job.owner_id), fl.running.get(job.owner_id, 0)
    if limit is not None and running >= limit:
        return Verdict(why=wording.per_user_limit(running, limit))
    if not fl.hosts:
        return Verdict(why=wording.NO_HOST)
    hosts = [h for h in fl.hosts if h.offers(job.engine)]  # an engine runs only where it is offered (issue 29)
    if not hosts:
        return Verdict(why=wording.no_engine_host(job.engine))
    blocked = [_host_refusal(fl, host, job) for host in hosts]
    if all(blocked):  # every host is resting, in or before maintenance, or not ready: no slot would help
        return Verdict(why=wording.waiting(*blocked))
    if fl.worker_alive is False:
        return Verdict(why=wording.NO_WORKER)
    gpu, cpu = fl.free(False), fl.free(True)
    where = stages.route(fl.conn, fl.settings, job, gpu, cpu, fl.searching()) if gpu or cpu else None
    if where is not None:
        refused = {h.name for h, why in zip(hosts, blocked, strict=True) if why}
        host = next((h for h in where.hosts if h.name not in refused and h.offers(job.engine)), None)  # best free
        if host is not None:
            return Verdict(host, where.phase)
    return Verdict(why=_slot_text(fl, job))  # some host could take it: it waits for a slot there


def _host_refusal(fl: Floor, host: Host, job: Job | stages.Candidate) -> str:
    """Return why `host` may not take `job` now whatever its slots ("" when it may)."""
    if host.name in fl.resting:
        return wording.host_resting(host.name, *fl.resting[host.name])
    return placement.refusal(fl.conn, fl.settings, host, job.gpu_seconds, fl.now)


def _slot_text(fl: Floor, job: Job | stages.Candidate) -> str:
    """Say which kind of slot a job waits for (issue 16): a GPU for inference, a CPU slot for its MSA search,
    or another job's search of the same chain."""
    if job.data_json:
        return wording.GPU_ONLY
    if (other := stages.waits_for_in(fl.settings, job, fl.searching())) is not None:
        return wording.waits_for_search(other)
    two_stage = [h for h in fl.hosts if h.two_stage]
    if two_stage and (job.msa_keys or "[]") != "[]" and all(
            fl.used.get((h.name, True), 0) >= h.cpu_slots for h in two_stage):
        return wording.NO_CPU_SLOT
    return NO_SLOT


def reasons(conn: sqlite3.Connection, settings: Settings, jobs: Iterable[Job], now: float | None = None,
            hosts: list[Host] | None = None) -> dict[int, str]:
    """Return job id -> why it waits, for the queued jobs among `jobs` (the facts read once)."""
    queued = [j for j in jobs if j.state is JobState.QUEUED]
    if not queued:
        return {}
    if hosts is None:
        try:
            hosts = load_hosts(settings)
        except SettingsError:
            hosts = []
    fl = floor(conn, settings, hosts, now)
    fl.worker_alive = conn.execute("SELECT 1 FROM workers WHERE stopped_at IS NULL AND heartbeat_at > ? LIMIT 1",
                                   (fl.now - defaults.LEASE_SECONDS,)).fetchone() is not None
    return {j.id: decide(fl, j).why or wording.STARTING for j in queued}


def reason(conn: sqlite3.Connection, settings: Settings, job: Job, now: float | None = None) -> str:
    """Return why one queued job waits ("" when it is not queued)."""
    return reasons(conn, settings, [job], now).get(job.id, "")
