"""Queue and process figures for `/metrics` (issue 23): what a Prometheus alert on FoldDeck watches.

Jobs by state and host, jobs pending in Slurm, the oldest queued job's age, each background process's
heartbeat age, each worker's, the outbox's backlog and failures, MSA cache reuse. Read from the
database at scrape time: a handful of aggregate queries on indexed tables.
"""
from __future__ import annotations

import sqlite3
import time

from services.platform import heartbeat

# name -> help; every family is a gauge
FAMILIES = {
    "folddeck_jobs": "Jobs by state and host (host is empty for jobs that never ran).",
    "folddeck_slurm_jobs_pending": "FoldDeck's running jobs that Slurm still holds as PENDING.",
    "folddeck_oldest_queued_job_age_seconds": "Age of the oldest queued job (0 when none waits).",
    "folddeck_process_up": "1 while the background process beats (worker, sampler, sender).",
    "folddeck_process_heartbeat_age_seconds": "Seconds since the background process's last heartbeat.",
    "folddeck_worker_heartbeat_age_seconds": "Seconds since each registered worker's last heartbeat.",
    "folddeck_outbox_pending": "E-mails and webhooks not yet delivered (still being tried).",
    "folddeck_outbox_retrying": "Undelivered messages that already failed at least once.",
    "folddeck_outbox_given_up": "Messages given up on after every retry.",
    "folddeck_msa_cache_entries": "Chains in the MSA cache.",
    "folddeck_msa_cache_hits": "Times a cached MSA was reused instead of searched.",
}

Sample = tuple[str, dict[str, str], float]


def samples(conn: sqlite3.Connection, now: float | None = None) -> list[Sample]:
    """Return (family, labels, value) for the queue, the processes, the outbox and the MSA cache."""
    now = time.time() if now is None else now
    out: list[Sample] = [("folddeck_jobs", {"state": s, "host": h or ""}, n) for s, h, n in conn.execute(
        "SELECT state, COALESCE(host, ''), COUNT(*) FROM jobs GROUP BY state, COALESCE(host, '')")]
    out += [("folddeck_slurm_jobs_pending", {"host": h}, n) for h, n in conn.execute(
        "SELECT s.host, COUNT(*) FROM slurm_jobs s JOIN jobs j ON j.id = s.job_id AND j.attempts = s.attempt "
        "WHERE j.state = 'running' AND s.state = 'PENDING' GROUP BY s.host")]
    oldest = conn.execute("SELECT MIN(queued_at) FROM jobs WHERE state = 'queued'").fetchone()[0]
    out.append(("folddeck_oldest_queued_job_age_seconds", {}, max(0.0, now - oldest) if oldest else 0.0))
    for p in heartbeat.health(conn, now):
        out.append(("folddeck_process_up", {"process": p.role}, 1.0 if p.ok else 0.0))
        if p.age_s is not None:
            out.append(("folddeck_process_heartbeat_age_seconds", {"process": p.role}, round(p.age_s, 3)))
    out += [("folddeck_worker_heartbeat_age_seconds", {"worker": w, "host": h}, round(max(0.0, now - beat), 3))
            for w, h, beat in conn.execute("SELECT id, host_name, heartbeat_at FROM workers WHERE stopped_at IS NULL")]
    for kind in ("email", "webhook"):
        pending, retrying, given_up = conn.execute(
            "SELECT COALESCE(SUM(sent_at IS NULL AND gave_up_at IS NULL), 0), "
            "COALESCE(SUM(sent_at IS NULL AND gave_up_at IS NULL AND attempts > 0), 0), "
            "COALESCE(SUM(gave_up_at IS NOT NULL), 0) FROM outbox WHERE kind = ?", (kind,)).fetchone()
        out += [("folddeck_outbox_pending", {"kind": kind}, pending),
                ("folddeck_outbox_retrying", {"kind": kind}, retrying),
                ("folddeck_outbox_given_up", {"kind": kind}, given_up)]
    entries, hits = conn.execute("SELECT COUNT(*), COALESCE(SUM(hits), 0) FROM msa_cache").fetchone()
    out += [("folddeck_msa_cache_entries", {}, entries), ("folddeck_msa_cache_hits", {}, hits)]
    return out
