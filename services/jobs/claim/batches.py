"""Batches (issue 26): further inference-ready jobs of one token bucket claimed beside a job that holds a
GPU slot, so one AF3 process folds them all (model start-up once, compilation once per bucket).

The queue decides which jobs may join (`companions_sql`, the one rule); who runs them (services.running
.batching) is not its business. A companion is claimed like any job: its own attempt, lease and log.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

from services.af3.names import sanitised_name
from services.af3.size import bucket_for
from services.hosts import Host
from services.jobs.claim import stages
from services.jobs.model import Job, job_event, load_job
from services.jobs.rules import approval
from services.jobs.workers import queue_paused
from services.platform.db import transaction
from services.platform.settings import Settings

# Queued, approved, not held back, of the same samples per seed (one compiled model); whether its searches are
# done (a _data.json, or every chain in the MSA cache) is the claim's own routing rule (stages.route).
_CANDIDATES = """
SELECT j.id, j.tokens, j.owner_id, fd_abs(j.data_json), j.msa_keys, j.msa_reuse, j.seeds, j.samples,
       fd_abs(j.input_path), l.max_running,
       (SELECT COUNT(*) FROM jobs r WHERE r.owner_id = j.owner_id AND r.state = 'running') AS running
FROM jobs j LEFT JOIN user_limits l ON l.user_id = j.owner_id
WHERE j.state = 'queued' AND {claimable} AND (j.not_before IS NULL OR j.not_before <= ?)
  AND j.samples = ? AND (? OR j.owner_id = ?) AND j.id != ?
ORDER BY j.queued_at, j.id LIMIT 500
""".format(claimable=approval.claimable_sql("j"))


def _name_of(input_path: str) -> str:
    """Return the folder name AF3 gives a fold job (its sanitised name), '' when the file is unreadable."""
    try:
        return sanitised_name(json.loads(Path(input_path).read_text()).get("name") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def claim_companions(conn: sqlite3.Connection, settings: Settings, lead: Job, host: Host, cap: int,
                     mixed_users: bool) -> list[Job]:
    """Claim up to `cap - 1` inference-ready jobs of `lead`'s bucket for its host and worker; return them.

    Only jobs of the lead's owner join unless `mixed_users` (the admin's FOLDDECK_BATCH_MIXED_USERS). A
    user's max_running limit holds, and jobs whose AF3 folder names would collide in one output folder
    wait for a later batch. Each companion gets its own attempt, as a claim gives it.
    """
    if cap <= 1 or lead.phase != "inference":
        return []
    bucket, names = bucket_for(lead.tokens), {_name_of(lead.input_path)}
    with transaction(conn):
        if queue_paused(conn):
            return []
        now = time.time()
        rows = conn.execute(_CANDIDATES, (now, lead.samples, int(mixed_users), lead.owner_id, lead.id)).fetchall()
        picked, extra, searching = [], {}, stages.searching(conn, settings)
        for row in rows:
            cand, input_path, max_running, running = stages.Candidate(*row[:8]), row[8], row[9], row[10]
            if bucket_for(cand.tokens) != bucket:
                continue
            route = stages.route(conn, settings, cand, [host], [], searching)
            name = _name_of(input_path) if route is not None and route.phase == stages.INFERENCE else ""
            owner = cand.owner_id
            busy = running + extra.get(owner, 0) + (owner == lead.owner_id)
            if not name or name in names or (max_running is not None and busy >= max_running):
                continue
            names.add(name)
            extra[owner] = extra.get(owner, 0) + 1
            picked.append(cand.id)
            if len(picked) >= cap - 1:
                break
        for job_id in picked:
            conn.execute("UPDATE jobs SET state = 'running', worker_id = ?, host = ?, executor = ?, "
                         "phase = 'inference', attempts = attempts + 1, started_at = COALESCE(started_at, ?), "
                         "lease_expires = ?, updated_at = ?, stage = 'starting', pid = NULL, remote_pid = NULL "
                         "WHERE id = ?",
                         (lead.worker_id, lead.host, lead.executor, now, now + settings.lease_seconds, now, job_id))
            conn.execute("INSERT INTO job_attempts (job_id, attempt, worker_id, host, executor, started_at, phase) "
                         "SELECT id, attempts, worker_id, host, executor, ?, 'inference' FROM jobs WHERE id = ?",
                         (now, job_id))
    jobs = [load_job(conn, i) for i in picked]
    for job in jobs:
        job_event(logging.INFO, "job %s joins the batch of job %s on %s (attempt %s, bucket %s)", job, job.id,
                  lead.id, job.host, job.attempts, bucket)
    return jobs
