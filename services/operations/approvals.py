"""Approval as an admin does it: the jobs awaiting approval, approve, reject, flag a user.

The rule that decides which jobs wait is the queue's (services.jobs.rules.approval: `gate`, `claimable_sql`).
A rejection cancels the job with the admin's note as its error, so the owner reads it on the job page
and the dashboard.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from services.jobs.model import SELECT_JOB, Job, job_event, load_job, to_jobs
from services.people.users import User
from services.platform.db import transaction
from services.platform.errors import JobStateError, PermissionDenied

log = logging.getLogger("folddeck.jobs")
RECENT_DAYS = 30  # "recent usage" an admin weighs a request against


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
