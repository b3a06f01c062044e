"""Two stages per job (issue 16): which slot a queued job needs next, and the hand-over between stages.

A job on a host with CPU slots runs its data pipeline (`--norun_inference`) in a CPU slot, waits with
its `_data.json` for a GPU slot, then runs inference (`--norun_data_pipeline`) there. A job whose
chains the MSA cache covers skips the data pipeline; one whose chain another job is searching right
now waits for that search rather than repeat it ("no chain is searched twice").
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from services.af3.runlog.progress import DATA_DONE
from services.hosts import Host
from services.jobs import joblog
from services.jobs.model import WORKER_LOST, Job, job_event
from services.jobs.rules import wording
from services.msa import msa_cache
from services.platform.db import transaction
from services.platform.settings import Settings

BOTH, DATA, INFERENCE = "", "data", "inference"
PHASE_WORDS = wording.PHASE_WORDS  # the claim's log lines name the phase (services.jobs.claim.leases)


@dataclass(frozen=True)
class Candidate:
    """What the claim needs of a queued job to route it."""

    id: int
    tokens: int
    owner_id: int
    data_json: str | None
    msa_keys: str | None
    msa_reuse: int
    seeds: int = 1
    samples: int = 5
    approval: str | None = None  # services.jobs.rules.approval: "pending" waits for an admin
    not_before: float | None = None  # the start time its owner asked for
    engine: str = "af3"  # only hosts that offer it may take it (issue 29)

    @property
    def gpu_seconds(self) -> float:
        """Return its estimated GPU seconds (services.af3.size.gpu_seconds), which window placement checks."""
        from services.af3.size import gpu_seconds

        return gpu_seconds(self.tokens, self.seeds, self.samples)


@dataclass
class Route:
    """Where a candidate may go now: the phase it would run and the free hosts that may take it."""

    phase: str
    hosts: list[Host]


@dataclass(frozen=True)
class Searching:
    """The chains running data pipelines search now: (owner id, or 0 when reuse is lab-wide, sha) -> job id."""

    lab: bool
    chains: dict[tuple[int, str], int]

    def get(self, owner_id: int, sha: str) -> int | None:
        return self.chains.get((0 if self.lab else owner_id, sha))


def searching(conn: sqlite3.Connection, settings: Settings) -> Searching:
    """Return the chains a running data pipeline searches now, by who may reuse them."""
    lab = msa_cache.scope(conn, settings) == "lab"
    out: dict[tuple[int, str], int] = {}
    for job_id, owner_id, keys in conn.execute("SELECT id, owner_id, msa_keys FROM jobs WHERE state = 'running' "
                                               "AND phase = 'data' AND msa_keys IS NOT NULL"):
        for key in json.loads(keys):
            out.setdefault((0 if lab else owner_id, key.split(":", 1)[1]), job_id)
    return Searching(lab, out)


def route(conn: sqlite3.Connection, settings: Settings, job: Candidate, gpu: list[Host], cpu: list[Host],
          busy: Searching) -> Route | None:
    """Return where `job` may run now, or None if it must wait (no slot of its kind, or its chain is being searched)."""
    if job.data_json:
        return Route(INFERENCE, gpu) if gpu else None
    keys = json.loads(job.msa_keys) if job.msa_keys else None  # None: submitted before issue 16, nothing known
    if job.engine != "af3":  # another engine runs whole on a GPU, after any search of its chains (issue 29)
        waits = keys and job.msa_reuse and msa_cache.enabled(settings) and _waits_for(job, keys, busy) is not None
        return Route(BOTH, gpu) if gpu and not waits else None
    if keys is None:
        return _search(cpu, gpu)
    reuse = bool(job.msa_reuse) and msa_cache.enabled(settings)
    if reuse and _waits_for(job, keys, busy) is not None:
        return None
    covered = set()
    if reuse and keys:  # the global command's search context: a host's own af3_command may differ (it searches then)
        context = msa_cache.search_context(settings, settings.af3_command)
        covered = msa_cache.coverable(conn, settings, job.owner_id, keys, context)
    missing = [k for k in keys if k not in covered]
    if not missing:  # nothing to search: ligands and DNA only, or every chain in the cache
        return Route(INFERENCE if keys else BOTH, gpu) if gpu else None
    return _search(cpu, gpu)


def _search(cpu: list[Host], gpu: list[Host]) -> Route | None:
    """Route a job that needs a search: a CPU slot, else a whole run on a one-stage host (never a GPU of a
    two-stage host: there the GPU must not wait for jackhmmer)."""
    if cpu:
        return Route(DATA, cpu)
    one_stage = [h for h in gpu if not h.two_stage]
    return Route(BOTH, one_stage) if one_stage else None


def _waits_for(job: Candidate, keys: list[str], busy: Searching) -> int | None:
    """Return the job searching one of `job`'s chains now (for the same owner, or anyone's lab-wide), else None."""
    for key in keys:
        other = busy.get(job.owner_id, key.split(":", 1)[1])
        if other is not None and other != job.id and not key.startswith("x:"):
            return other
    return None


def waits_for_in(settings: Settings, job: Job | Candidate, busy: Searching) -> int | None:
    """Return the id of the running job whose MSA search this queued job waits for (`busy`: `searching`)."""
    if not job.msa_keys or job.data_json or not job.msa_reuse or not msa_cache.enabled(settings):
        return None
    cand = Candidate(job.id, job.tokens, job.owner_id, job.data_json, job.msa_keys, job.msa_reuse, engine=job.engine)
    return _waits_for(cand, json.loads(job.msa_keys), busy)


def finish_data_stage(conn: sqlite3.Connection, job: Job, data_json: str, seconds: float,
                      recovered_from: str = "") -> bool:
    """Queue a job whose data pipeline is done for its inference; False if this worker lost the job.

    The finished stage does not count against max_attempts (like a hand-back): only lost or failed
    runs do. The job keeps its place in the fair order (queued_at is unchanged). `recovered_from`:
    the attempt folder whose search had finished before its worker was lost.
    """
    now = time.time()
    text = (f"The MSA search of {recovered_from} had finished before its worker stopped; its _data.json is used, "
            "the search is not repeated. Waiting for a GPU for inference." if recovered_from else
            f"MSA search done in {seconds:.1f} s; waiting for a GPU for inference.")
    with transaction(conn):
        cur = conn.execute("UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires = NULL, pid = NULL, "
                           "remote_pid = NULL, attempts_base = attempts_base + 1, data_json = fd_rel(?, id), "
                           "updated_at = ?, stage = 'MSA done', progress = ?, progress_detail = '' "
                           "WHERE id = ? AND state = 'running' AND worker_id = ? AND attempts = ?",
                           (data_json, now, DATA_DONE, job.id, job.worker_id, job.attempts))
        if not cur.rowcount:
            return False
        joblog.write_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, text, joblog.Level.SUCCESS.value)])
        conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = 'data done', exit_code = 0 "
                     "WHERE job_id = ? AND attempt = ?", (now, job.id, job.attempts))
        conn.execute("UPDATE workers SET current_job = NULL WHERE id = ? AND current_job = ?", (job.worker_id, job.id))
    job_event(logging.INFO, "job %s: data pipeline done on %s; waiting for a GPU", job, job.id, job.host)
    return True


def forget_data_json(conn: sqlite3.Connection, job: Job, why: str) -> None:
    """Drop a saved _data.json that cannot be used (gone, unreadable): the next run searches again."""
    conn.execute("UPDATE jobs SET data_json = NULL WHERE id = ?", (job.id,))
    joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"The saved data pipeline output cannot be used "
                                        f"({why}); this run searches again.", joblog.Level.WARNING.value)])


def finished_data_of_lost_attempt(conn: sqlite3.Connection, jobs_dir: Path, job: Job) -> Path | None:
    """Return the `_data.json` an earlier attempt's data pipeline finished before its worker was lost, or None.

    AF3 writes `<name>_data.json`, then prints "Fold job <name> done, output written to <folder>": that
    line in the log, naming the file's folder, says the file is whole (a worker killed mid-write leaves
    no such line). Only attempts that lost their worker count: a failed one ended for a reason.
    """
    lost = conn.execute("SELECT attempt FROM job_attempts WHERE job_id = ? AND attempt < ? AND outcome = ? "
                        "AND phase IN ('data', '') ORDER BY attempt DESC", (job.id, job.attempts, WORKER_LOST))
    for (attempt,) in lost.fetchall():
        folder = jobs_dir / str(job.id) / f"attempt-{attempt}"
        found = [p for p in folder.glob("*/*_data.json") if p.is_file()]
        for data in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
            # The log shows the folder relative to the job (issue 22); lines from before that, absolute.
            for folder_text in (data.parent.relative_to(jobs_dir / str(job.id)), data.parent):
                done = f"%done, output written to {folder_text}"
                if conn.execute("SELECT 1 FROM job_log WHERE job_id = ? AND text LIKE ? ESCAPE '\\' LIMIT 1",
                                (job.id, _like(done))).fetchone():
                    return data
    return None


def _like(pattern: str) -> str:
    """Escape LIKE's wildcards in all but a leading '%'."""
    head, body = ("%", pattern[1:]) if pattern.startswith("%") else ("", pattern)
    return head + body.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def set_phase(conn: sqlite3.Connection, job: Job, phase: str) -> None:
    """Change what a running attempt does (its slot kind stays: only GPU-slot phases change into each other)."""
    conn.execute("UPDATE jobs SET phase = ? WHERE id = ? AND worker_id = ? AND attempts = ?",
                 (phase, job.id, job.worker_id, job.attempts))
    conn.execute("UPDATE job_attempts SET phase = ? WHERE job_id = ? AND attempt = ?", (phase, job.id, job.attempts))


def record_data_json(conn: sqlite3.Connection, job: Job, data_json: str) -> None:
    """Remember the _data.json an attempt wrote (a later retry starts from it), if the attempt still owns the job."""
    conn.execute("UPDATE jobs SET data_json = fd_rel(?, id) WHERE id = ? AND worker_id = ? AND attempts = ?",
                 (data_json, job.id, job.worker_id, job.attempts))


def record_reuse(conn: sqlite3.Connection, job: Job, reused: list[msa_cache.Reused]) -> None:
    """Store which chains came from the cache and say so in the log, one line per entity."""
    doc = json.dumps([{"chains": r.chains, "job_id": r.job_id} for r in reused], separators=(",", ":"))
    conn.execute("UPDATE jobs SET msa_reused = ? WHERE id = ?", (doc if reused else None, job.id))
    if reused:
        joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, wording.msa_reused_log(r.chains, r.job_id))
                                           for r in reused])
