"""What a user does to an existing job: cancel, retry, clone."""
from __future__ import annotations

import json
import logging
import sqlite3
import time

from services.jobs import joblog
from services.jobs.model import Job, JobState, job_event, load_job
from services.jobs.queries import get_job
from services.jobs.rules import approval
from services.jobs.rules.limits import _check_limits
from services.jobs.submission import input_file, job_files, submit
from services.people.users import User
from services.platform.db import transaction
from services.platform.errors import JobStateError
from services.platform.settings import Settings

# -- user actions -----------------------------------------------------------------------------


def cancel_job(conn: sqlite3.Connection, caller: User, job_id: int) -> Job:
    """Cancel a job: a queued one at once, a running one once its worker has stopped it.

    Raises:
        JobNotFound: not visible to the caller.
        JobStateError: the job already finished.
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        now = time.time()
        if job.state is JobState.QUEUED:
            # cancelled_by in the same UPDATE: the finish trigger (migration 0011) mails only others' cancels
            conn.execute("UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ?, stage = 'cancelled', "
                         "cancelled_by = ? WHERE id = ?", (now, now, caller.id, job.id))
        elif job.state is JobState.RUNNING:
            conn.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ?, cancelled_by = ? WHERE id = ?",
                         (now, caller.id, job.id))
        else:
            raise JobStateError(f"Job {job.id} already {job.state.value}; there is nothing to cancel.")
    joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Cancel requested by {caller.username}.")])
    job_event(logging.INFO, "job %s cancel requested by %s (was %s)", job, job.id, caller.username, job.state.value)
    return load_job(conn, job.id)


def retry_job(conn: sqlite3.Connection, caller: User, job_id: int, settings: Settings | None = None) -> Job:
    """Queue a failed or cancelled job again as a new attempt; earlier attempts stay in its history.

    It passes the approval rule again (`approval.gate`, as at submission): a rejected job, or one
    whose owner must have jobs approved, waits under "Awaiting approval" rather than run. Pass
    `settings` so the size thresholds apply too; without them a job that waited keeps waiting.

    Raises:
        JobNotFound: not visible to the caller.
        JobStateError: the job is not failed or cancelled.
        LimitExceeded: the owner's per-job or queued-jobs limits refuse it.
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        if job.state not in (JobState.FAILED, JobState.CANCELLED):
            raise JobStateError(f"Job {job.id} is {job.state.value}; only failed or cancelled jobs can be retried.")
        _check_limits(conn, job.owner_id, job.tokens, job.seeds, job.samples)
        now = time.time()
        conn.execute("UPDATE jobs SET state = 'queued', queued_at = ?, updated_at = ?, started_at = NULL, "
                     "finished_at = NULL, cancel_requested = 0, exit_code = NULL, error = NULL, worker_id = NULL, "
                     "lease_expires = NULL, pid = NULL, remote_pid = NULL, stage = '', progress = 0, "
                     "progress_detail = '', progress_state = '{}', attempts_base = attempts WHERE id = ?",
                     (now, now, job.id))
        waits = approval.gate(conn, settings, job.owner_id, [(job.id, job.tokens, job.gpu_seconds, job.approval)])
    joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Retry requested by {caller.username}.")])
    job_event(logging.INFO, "job %s retried by %s%s", job, job.id, caller.username,
              ", awaiting approval" if waits else "")
    return load_job(conn, job.id)


def clone_job(conn: sqlite3.Connection, settings: Settings, caller: User, job_id: int,
              idempotency_key: str | None = None) -> Job:
    """Submit a new job, owned by the caller, from the same input as a visible job.

    Raises:
        JobNotFound: not visible to the caller.
        LimitExceeded: the caller's limits refuse it.
    """
    job = get_job(conn, caller, job_id)
    return submit(conn, settings, caller, json.loads(input_file(settings, job).read_text()), name=job.name,
                  cloned_from=job.id, idempotency_key=idempotency_key, via="clone", files=job_files(settings, job))
