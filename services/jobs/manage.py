"""What an owner (or an admin) does to keep their job list tidy: rename, pin, hold back; and the queue's part
of deleting a job (its rows and its folder here; services.operations.job_removal deletes a job as a whole)."""
from __future__ import annotations

import logging
import shutil
import sqlite3
import time

from services.jobs.model import Job, job_event, load_job
from services.jobs.queries import get_job
from services.people.users import User
from services.platform.db import transaction
from services.platform.errors import InvalidInput, JobStateError
from services.platform.settings import Settings

NAME_MAX = 200  # a job name is one line in a table; longer ones are typing accidents


def delete_rows(conn: sqlite3.Connection, job_id: int) -> None:
    """Delete a job's rows (inside the caller's transaction); attempts go by ON DELETE CASCADE."""
    conn.execute("DELETE FROM job_log WHERE job_id = ?", (job_id,))
    conn.execute("DELETE FROM job_log_levels WHERE job_id = ?", (job_id,))
    # mails/webhooks not yet sent and toasts about it: they would name a job that no longer exists
    conn.execute("DELETE FROM outbox WHERE job_id = ? AND sent_at IS NULL", (job_id,))
    conn.execute("DELETE FROM notifications WHERE job_id = ?", (job_id,))
    conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def remove_folder(settings: Settings, job_id: int) -> None:
    """Remove `<data dir>/jobs/<id>/`; a folder already gone is fine."""
    folder = settings.jobs_dir / str(int(job_id))
    shutil.rmtree(folder, ignore_errors=True)


def hosts_with_files(conn: sqlite3.Connection, job_id: int) -> list[str]:
    """Return the SSH and Slurm hosts the job's attempts ran on: each keeps a folder of the job there."""
    return [r[0] for r in conn.execute("SELECT DISTINCT host FROM job_attempts WHERE job_id = ? "
                                       "AND executor IN ('ssh', 'slurm') ORDER BY host", (job_id,))]


def rename_job(conn: sqlite3.Connection, caller: User, job_id: int, name: str) -> Job:
    """Give a visible job a new name (any state).

    Raises:
        JobNotFound: not visible to the caller.
        InvalidInput: the name is empty or longer than NAME_MAX.
    """
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"A job name needs 1 to {NAME_MAX} characters.")
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        conn.execute("UPDATE jobs SET name = ?, updated_at = ? WHERE id = ?", (name, time.time(), job.id))
    job_event(logging.INFO, "job %s renamed from %r to %r by %s", job, job.id, job.name, name, caller.username)
    return load_job(conn, job.id)


def pin_job(conn: sqlite3.Connection, caller: User, job_id: int, pinned: bool) -> Job:
    """Pin a job (retention keeps its outputs) or unpin it.

    Raises:
        JobNotFound: not visible to the caller.
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        conn.execute("UPDATE jobs SET pinned = ?, updated_at = ? WHERE id = ?", (int(pinned), time.time(), job.id))
    job_event(logging.INFO, "job %s %s by %s", job, job.id, "pinned" if pinned else "unpinned", caller.username)
    return load_job(conn, job.id)


def set_not_before(conn: sqlite3.Connection, caller: User, job_id: int, not_before: float | None) -> Job:
    """Ask that a queued job not start before `not_before` (None: as soon as possible).

    Raises:
        JobNotFound: not visible to the caller.
        JobStateError: the job is no longer queued.
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        if job.state.value != "queued":
            raise JobStateError(f"Job {job.id} is {job.state.value}; only a queued job can be held back.")
        conn.execute("UPDATE jobs SET not_before = ?, updated_at = ? WHERE id = ?", (not_before, time.time(), job.id))
    return load_job(conn, job.id)
