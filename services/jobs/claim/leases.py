"""Attempts and leases: claiming in fair order, recording, finishing, handing back and reaping."""
from __future__ import annotations

import logging
import sqlite3
import time

from services.af3.runlog.progress import Tracker
from services.hosts import Host
from services.jobs import joblog
from services.jobs.claim import stages
from services.jobs.claim.backoff import HOST_UNREACHABLE
from services.jobs.model import SELECT_JOB, WORKER_LOST, Job, JobState, job_event, load_job, to_job
from services.jobs.rules import approval, waiting
from services.platform import defaults
from services.platform.db import transaction
from services.platform.settings import Settings

# Candidates in fair order (fewest running first, then oldest). The filters only keep the candidate window
# for jobs that can start: `waiting.decide` applies every rule again, so a filter here cannot decide alone.
_FAIR_NEXT = """
WITH r AS (SELECT owner_id, COUNT(*) AS n FROM jobs WHERE state = 'running' GROUP BY owner_id)
SELECT j.id, j.tokens, j.owner_id, j.data_json, j.msa_keys, j.msa_reuse, j.seeds, j.samples, j.approval,
       j.not_before, j.engine FROM jobs j
LEFT JOIN r ON r.owner_id = j.owner_id
LEFT JOIN user_limits l ON l.user_id = j.owner_id
WHERE j.state = 'queued' AND {claimable} AND (j.not_before IS NULL OR j.not_before <= ?)
  AND (l.max_running IS NULL OR COALESCE(r.n, 0) < l.max_running)
ORDER BY COALESCE(r.n, 0), j.queued_at, j.id
LIMIT {candidates}
""".format(claimable=approval.claimable_sql("j"), candidates=defaults.CLAIM_CANDIDATES)


def claim_job(conn: sqlite3.Connection, settings: Settings, worker_id: str, hosts: list[Host]) -> Job | None:
    """Atomically take the next job in fair order for a host with a free slot of the kind it needs; None if
    nothing to do. The job's `phase` says what this attempt runs (issue 16: data pipeline, inference, or both)."""
    with transaction(conn):
        now = time.time()
        row, host, phase = _place(waiting.floor(conn, settings, hosts, now))
        if host is None:
            return None
        executor = "slurm" if host.is_slurm else "local" if host.is_local else "ssh"
        # A job's second stage keeps the start of its first: run time spans both stages.
        conn.execute("UPDATE jobs SET state = 'running', worker_id = ?, host = ?, executor = ?, phase = ?, "
                     "attempts = attempts + 1, started_at = CASE WHEN ? = 'inference' AND data_json IS NOT NULL "
                     "THEN COALESCE(started_at, ?) ELSE ? END, lease_expires = ?, updated_at = ?, stage = 'starting', "
                     "pid = NULL, remote_pid = NULL WHERE id = ?",
                     (worker_id, host.name, executor, phase, phase, now, now, now + settings.lease_seconds, now,
                      row[0]))
        job = load_job(conn, row[0])
        conn.execute("INSERT INTO job_attempts (job_id, attempt, worker_id, host, executor, started_at, phase) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (job.id, job.attempts, worker_id, host.name, executor, now, phase))
        conn.execute("UPDATE workers SET current_job = ? WHERE id = ?", (job.id, worker_id))
    job_event(logging.INFO, "job %s started on %s by worker %s (attempt %s%s)", job, job.id, host.name, worker_id,
              job.attempts, f", {stages.PHASE_WORDS[phase]}" if phase else "")
    return job


def _place(fl: waiting.Floor):
    """Return (job row, host, phase) for the first job in fair order that `waiting.decide` starts now, or Nones."""
    if fl.paused or (not fl.free(False) and not fl.free(True)):  # nothing can start: skip the candidates' query
        return None, None, None
    for row in fl.conn.execute(_FAIR_NEXT, (fl.now,)).fetchall():
        verdict = waiting.decide(fl, stages.Candidate(*row))
        if verdict.host is not None:
            return row, verdict.host, verdict.phase
    return None, None, None


def hand_back(conn: sqlite3.Connection, job: Job, reason: str, log_line: str) -> bool:
    """Queue a claimed job again because its host could not be reached; False if this worker lost it.

    The attempt is recorded as "host unreachable: <reason>" and does not count against
    max_attempts; the job keeps its place in the queue (its queued_at is unchanged).
    """
    now, outcome = time.time(), f"{HOST_UNREACHABLE}: {reason}"
    with transaction(conn):
        if _owns(conn, job.id, job.worker_id, job.attempts) is None:
            return False
        joblog.write_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, log_line, joblog.Level.WARNING.value)])
        conn.execute("UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires = NULL, pid = NULL, "
                     "remote_pid = NULL, started_at = NULL, attempts_base = attempts_base + 1, updated_at = ?, "
                     "stage = '' WHERE id = ?", (now, job.id))
        conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = ?, error = ? WHERE job_id = ? AND attempt = ?",
                     (now, outcome, outcome, job.id, job.attempts))
        conn.execute("UPDATE workers SET current_job = NULL WHERE id = ? AND current_job = ?", (job.worker_id, job.id))
    job_event(logging.WARNING, "job %s handed back to the queue: %s cannot be reached (%s)", job, job.id, job.host,
              reason)
    return True


def _owns(conn: sqlite3.Connection, job_id: int, worker_id: str, attempt: int) -> sqlite3.Row | None:
    return conn.execute("SELECT cancel_requested FROM jobs WHERE id = ? AND state = 'running' AND worker_id = ? "
                        "AND attempts = ?", (job_id, worker_id, attempt)).fetchone()


def check_running(conn: sqlite3.Connection, job: Job) -> str:
    """Return "" to go on, "cancel" when cancelled by a user, "lost" when the lease went to someone else."""
    row = _owns(conn, job.id, job.worker_id, job.attempts)
    if row is None:
        return "lost"
    return "cancel" if row[0] else ""


def record_process(conn: sqlite3.Connection, job: Job, *, pid: int | None = None, remote_pid: int | None = None,
                   output_path: str | None = None, remote_output: str | None = None) -> None:
    """Store where an attempt runs (process group ids, output folders) on the job row."""
    conn.execute("UPDATE jobs SET pid = ?, remote_pid = ?, output_path = fd_rel(?, id), remote_output = ?, "
                 "updated_at = ? WHERE id = ? AND worker_id = ? AND attempts = ?",
                 (pid, remote_pid, output_path, remote_output, time.time(), job.id, job.worker_id, job.attempts))


def start_attempt(conn: sqlite3.Connection, job: Job, tracker_json: str) -> bool:
    """Reset the job's progress for a new attempt; False if this worker no longer holds it.

    The "Attempt N started" line goes with the reset, in one transaction: an attempt that lost the
    job in between writes nothing.
    """
    what = f" ({stages.PHASE_WORDS[job.phase]})" if job.phase else ""
    with transaction(conn):
        # An inference stage starts where its data pipeline ended, not at 0 (the tracker says where).
        cur = conn.execute("UPDATE jobs SET progress_state = ?, progress = ?, progress_detail = '', "
                           "log_in_traceback = 0 WHERE id = ? AND state = 'running' AND worker_id = ? AND attempts = ?",
                           (tracker_json, Tracker.from_json(tracker_json).fraction, job.id, job.worker_id,
                            job.attempts))
        if cur.rowcount:
            joblog.write_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Attempt {job.attempts}{what} started "
                                               f"on {job.host} by worker {job.worker_id}.", joblog.Level.INFO.value)])
    return bool(cur.rowcount)


def finish_attempt(conn: sqlite3.Connection, job: Job, state: JobState, *, exit_code: int | None = None,
                   error: str | None = None, log_lines: list[tuple[str, ...]] | None = None) -> bool:
    """Record the end of the attempt `job` describes; False if this worker no longer held the job.

    `log_lines` (the worker's closing line) are written in the same transaction: the log never says
    "Job succeeded." for a job whose state did not change, and never misses the line for one that did.
    """
    now = time.time()
    stage = {"succeeded": "done", "failed": "failed", "cancelled": "cancelled"}.get(state.value, "")
    with transaction(conn):
        if _owns(conn, job.id, job.worker_id, job.attempts) is None:
            return False
        if log_lines:
            joblog.write_lines(conn, job.id, log_lines)
        if state is JobState.QUEUED:  # handed back at shutdown: does not count against max_attempts
            conn.execute("UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires = NULL, pid = NULL, "
                         "remote_pid = NULL, attempts_base = attempts_base + 1, updated_at = ?, stage = '' "
                         "WHERE id = ?", (now, job.id))
        else:
            conn.execute("UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, exit_code = ?, "
                         "error = fd_hide(?, id), lease_expires = NULL, pid = NULL, remote_pid = NULL, stage = ?, "
                         "progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE progress END WHERE id = ?",
                         (state.value, now, now, exit_code, error, stage, state.value, job.id))
        conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = ?, exit_code = ?, error = fd_hide(?, job_id) "
                     "WHERE job_id = ? AND attempt = ?",
                     (now, "requeued" if state is JobState.QUEUED else state.value, exit_code, error, job.id,
                      job.attempts))
        conn.execute("UPDATE workers SET current_job = NULL WHERE id = ? AND current_job = ?", (job.worker_id, job.id))
    job_event(logging.WARNING if state is JobState.FAILED else logging.INFO, "job %s %s%s", job, job.id, state.value,
              f": {error}" if error else "")
    return True


def reap_expired(conn: sqlite3.Connection, settings: Settings, now: float | None = None) -> list[Job]:
    """Queue again (or fail after max_attempts, or cancel) running jobs whose lease expired; return them.

    What a lost attempt left running is not the queue's to stop: the worker reaps through
    services.running.executors.cleanup.reap_lost_attempts, which kills it on its host afterwards.
    """
    now = time.time() if now is None else now
    reaped = []
    with transaction(conn):
        rows = conn.execute(SELECT_JOB + " WHERE j.state = 'running' AND j.lease_expires < ? AND NOT "
                            + _IN_SLURM, (now,)).fetchall()
        for job in map(to_job, rows):
            if job.cancel_requested:
                new, error = JobState.CANCELLED, None
            elif job.attempts - job.attempts_base >= settings.max_attempts:
                new, error = JobState.FAILED, WORKER_LOST
            else:
                new, error = JobState.QUEUED, None
            finished = None if new is JobState.QUEUED else now
            conn.execute("UPDATE jobs SET state = ?, error = ?, finished_at = ?, updated_at = ?, worker_id = NULL, "
                         "lease_expires = NULL, pid = NULL, remote_pid = NULL, stage = ? WHERE id = ?",
                         (new.value, error, finished, now, "" if new is JobState.QUEUED else new.value, job.id))
            conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = ? WHERE job_id = ? AND attempt = ?",
                         (now, WORKER_LOST, job.id, job.attempts))
            text = f"Worker {job.worker_id} stopped answering; job {new.value}" + (
                f" after {job.attempts - job.attempts_base} attempts." if new is JobState.FAILED else ".")
            joblog.write_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, text)])  # with the state change
            reaped.append((job, text))
    for job, text in reaped:
        job_event(logging.WARNING, "job %s: %s", job, job.id, text)
    return [job for job, _ in reaped]


# A running attempt already handed to Slurm: it runs on without its worker; the next worker serving
# its host re-attaches to it (adopt_slurm_job) instead of reaping it, so it is never submitted twice.
_IN_SLURM = ("(j.executor = 'slurm' AND EXISTS (SELECT 1 FROM slurm_jobs s WHERE s.job_id = j.id "
             "AND s.attempt = j.attempts))")


def adopt_slurm_job(conn: sqlite3.Connection, settings: Settings, worker_id: str, hosts: list[Host]) -> Job | None:
    """Take over one attempt in Slurm whose worker stopped answering (lease expired); None if there is none.

    The job keeps its attempt number: the new worker follows the same Slurm job by its recorded id.
    """
    names = [h.name for h in hosts if h.is_slurm]
    if not names:
        return None
    now = time.time()
    with transaction(conn):
        row = conn.execute(f"SELECT j.id FROM jobs j WHERE j.state = 'running' AND j.lease_expires < ? AND "
                           f"j.host IN ({','.join('?' * len(names))}) AND {_IN_SLURM} ORDER BY j.id LIMIT 1",
                           (now, *names)).fetchone()
        if row is None:
            return None
        old = load_job(conn, row[0])
        conn.execute("UPDATE jobs SET worker_id = ?, lease_expires = ?, updated_at = ? WHERE id = ?",
                     (worker_id, now + settings.lease_seconds, now, old.id))
        conn.execute("UPDATE job_attempts SET worker_id = ? WHERE job_id = ? AND attempt = ?",
                     (worker_id, old.id, old.attempts))
        conn.execute("UPDATE workers SET current_job = ? WHERE id = ?", (old.id, worker_id))
        joblog.write_lines(conn, old.id, [(joblog.Stream.SYSTEM.value, f"Worker {old.worker_id} stopped answering; "
                                           f"worker {worker_id} re-attached to the attempt in Slurm.")])
        job = load_job(conn, old.id)
    job_event(logging.INFO, "job %s: worker %s re-attached to its Slurm attempt %s", job, job.id, worker_id,
              job.attempts)
    return job


# -- CLI --------------------------------------------------------------------------------------
