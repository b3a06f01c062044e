"""Approval of large jobs: above FOLDDECK_APPROVAL_GPU_HOURS or FOLDDECK_APPROVAL_TOKENS (or from a flagged
user) a job waits.

A job that needs approval is queued with `approval = 'pending'`; the claim skips it
(`claimable_sql`) until an admin approves it. A rejection cancels the job with the admin's note
as its error, so the owner reads it on the job page and the dashboard. Every way a job becomes
runnable (submit, clone, import, API, retry) goes through `gate`, the one rule (issue 22).
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.db import transaction
from services.errors import JobStateError, PermissionDenied
from services.settings import Settings
from services.users import User

if TYPE_CHECKING:  # the jobs package imports this module while it loads: its names are taken at call time
    from services.jobs.model import Job

log = logging.getLogger("folddeck.jobs")
AWAITING = "awaiting approval"
RECENT_DAYS = 30  # "recent usage" an admin weighs a request against


def claimable_sql(alias: str = "j") -> str:
    """Return the SQL condition a claim adds: no approval needed, or approved."""
    return f"({alias}.approval IS NULL OR {alias}.approval = 'approved')"


def rule(conn: sqlite3.Connection, settings: Settings | None, owner_id: int, tokens: int, gpu_seconds: float,
         before: str | None = None) -> str | None:
    """Return the approval a job about to become runnable gets: "pending", "approved" or None (not needed).

    Args:
        settings: the thresholds; None (a caller without them) keeps a job that waited waiting.
        gpu_seconds: the estimate (services.af3.size.gpu_seconds), compared to FOLDDECK_APPROVAL_GPU_HOURS.
        before: the job's approval so far (a retry): a rejection is asked again, never undone by
            retrying; an approval stands, unless the owner has since been flagged.
    """
    row = conn.execute("SELECT needs_approval FROM users WHERE id = ?", (owner_id,)).fetchone()
    if (row and row[0]) or before == "rejected":
        return "pending"
    if before == "approved":
        return "approved"
    if settings is None:  # the thresholds are unknown here: a job that waited keeps waiting
        return "pending" if before == "pending" else None
    over_tokens = settings.approval_tokens and tokens > settings.approval_tokens
    over_hours = settings.approval_gpu_hours and gpu_seconds > settings.approval_gpu_hours * 3600
    return "pending" if over_tokens or over_hours else None


def gate(conn: sqlite3.Connection, settings: Settings | None, owner_id: int,
         jobs: list[tuple[int, int, float, str | None]]) -> list[int]:
    """Decide and record approval for jobs that become runnable (inside the caller's transaction).

    `jobs`: (job id, tokens, estimated GPU seconds, approval so far). Returns the ids that now wait
    for an admin; they show under "Awaiting approval" with that stage.
    """
    pending, rows = [], []
    for job_id, tokens, seconds, before in jobs:
        state = rule(conn, settings, owner_id, tokens, seconds, before)
        if state == "pending":
            pending.append(job_id)
        if state != before or state == "pending":  # a plain submit writes nothing more (one insert per job)
            rows.append((state, state == "pending", AWAITING, job_id))
    conn.executemany("UPDATE jobs SET approval = ?, stage = CASE WHEN ? THEN ? ELSE stage END WHERE id = ?", rows)
    return pending


def set_needs_approval(conn: sqlite3.Connection, user_id: int, flag: bool) -> None:
    """Flag (or unflag) a user so that every job of theirs waits for an admin."""
    conn.execute("UPDATE users SET needs_approval = ? WHERE id = ?", (int(flag), user_id))


def flag_user(conn: sqlite3.Connection, admin: User, user_id: int, flag: bool) -> bool:
    """Flag or unflag a user as an admin; return the new flag.

    Raises:
        PermissionDenied: the caller is not an admin.
    """
    if not admin.is_admin:
        raise PermissionDenied("Only an admin flags users for approval.")
    set_needs_approval(conn, user_id, flag)
    log.info("user %s %s by %s", user_id, "must have every job approved" if flag else "no longer needs approval",
             admin.username, extra={"source": "admin", "username": admin.username})
    return flag


def flagged_users(conn: sqlite3.Connection) -> set[int]:
    """Return the ids of users whose every job waits for an admin."""
    return {r[0] for r in conn.execute("SELECT id FROM users WHERE needs_approval = 1")}


def _decide(conn: sqlite3.Connection, admin: User, job_id: int) -> Job:
    from services.jobs.model import load_job

    if not admin.is_admin:
        raise PermissionDenied("Only an admin approves or rejects jobs.")
    job = load_job(conn, job_id)
    if job.approval != "pending" or job.state.value != "queued":
        raise JobStateError(f"Job {job.id} is not awaiting approval.")
    return job


def approve(conn: sqlite3.Connection, admin: User, job_id: int, note: str = "") -> Job:
    """Let a pending job be claimed; its place in the queue is kept.

    Raises:
        PermissionDenied: the caller is not an admin.
        JobNotFound / JobStateError: no such job, or it is not awaiting approval.
    """
    from services.jobs.model import job_event, load_job

    with transaction(conn):
        job = _decide(conn, admin, job_id)
        conn.execute("UPDATE jobs SET approval = 'approved', approval_note = ?, stage = '', updated_at = ? "
                     "WHERE id = ?", (note.strip() or None, time.time(), job.id))
    job_event(logging.INFO, "job %s approved by %s", job, job.id, admin.username)
    return load_job(conn, job.id)


def reject(conn: sqlite3.Connection, admin: User, job_id: int, note: str) -> Job:
    """Cancel a pending job with a note its owner sees.

    Raises:
        PermissionDenied: the caller is not an admin.
        JobNotFound / JobStateError: no such job, or it is not awaiting approval.
    """
    from services.jobs.model import job_event, load_job

    note = note.strip() or "no reason given"
    with transaction(conn):
        job = _decide(conn, admin, job_id)
        now = time.time()
        # cancelled_by: the owner gets the mail and toast an admin's cancel brings (migration 0011's trigger)
        conn.execute("UPDATE jobs SET approval = 'rejected', approval_note = ?, state = 'cancelled', "
                     "finished_at = ?, updated_at = ?, stage = 'rejected', error = ?, cancelled_by = ? WHERE id = ?",
                     (note, now, now, f"Rejected by an admin: {note}", admin.id, job.id))
    job_event(logging.INFO, "job %s rejected by %s: %s", job, job.id, admin.username, note)
    return load_job(conn, job.id)


@dataclass(frozen=True)
class PendingJob:
    job: Job
    gpu_hours: float  # the estimate (services.af3.size.gpu_seconds: tokens x seeds x samples)
    recent_jobs: int  # the owner's jobs in the last RECENT_DAYS
    recent_gpu_hours: float  # their finished jobs' run time in that period


def pending(conn: sqlite3.Connection, now: float | None = None) -> list[PendingJob]:
    """Return jobs awaiting approval, oldest first, with what an admin needs to decide."""
    from services.jobs.model import SELECT_JOB, to_jobs

    now = time.time() if now is None else now
    since = now - RECENT_DAYS * 86_400
    out = []
    for job in to_jobs(conn.execute(SELECT_JOB + " WHERE j.approval = 'pending' AND j.state = 'queued' "
                                     "ORDER BY j.queued_at, j.id")):
        n, secs = conn.execute("SELECT COUNT(*), COALESCE(SUM(finished_at - started_at), 0) FROM jobs "
                               "WHERE owner_id = ? AND submitted_at >= ? AND id != ?",
                               (job.owner_id, since, job.id)).fetchone()
        out.append(PendingJob(job, job.gpu_seconds / 3600, n, secs / 3600))
    return out
