"""Deleting a job (issue 18): its rows, its folder here and its folders on the hosts it ran on.

An operation over both lower layers: the queue forgets the job (services.jobs.manage), the executors'
side removes what its attempts left on SSH and Slurm hosts (services.running.executors.cleanup).
"""
from __future__ import annotations

import logging
import sqlite3

from services.jobs.manage import delete_rows, hosts_with_files, remove_folder
from services.jobs.model import Job, job_event
from services.jobs.queries import get_job
from services.people.users import User
from services.platform.db import transaction
from services.platform.errors import JobStateError
from services.platform.settings import Settings
from services.running.executors.cleanup import remove_elsewhere


def delete_job(conn: sqlite3.Connection, settings: Settings, caller: User, job_id: int) -> Job:
    """Delete a finished job: its row, attempts, log lines and its folder (input, outputs).

    One audit line stays in the application log. Its folders on SSH and Slurm hosts go in the
    background. Returns the job as it was.

    Raises:
        JobNotFound: not visible to the caller (another user's job reads exactly like a missing one).
        JobStateError: the job is queued or running (cancel it first).
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        if not job.is_finished:
            raise JobStateError(f"Job {job.id} is {job.state.value}; cancel it before deleting it.")
        elsewhere = hosts_with_files(conn, job.id)
        delete_rows(conn, job.id)
    remove_folder(settings, job.id)
    remove_elsewhere(settings, job.id, elsewhere)
    job_event(logging.WARNING, "job %s (%r, %s, owner %s) deleted by %s", job, job.id, job.name, job.state.value,
              job.owner, caller.username)
    return job
