"""Slurm attempts: the row each attempt handed to a Slurm cluster keeps (migration 0012).

The row is written before `sbatch` runs and gets Slurm's job id right after: a restarted worker
re-attaches by that id and never submits the attempt again. Slurm's state, pending reason and
node are copied here as the worker sees them, for the job page.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from services.jobs.model import Job
from services.jobs.queries import get_job
from services.jobs.rules import wording
from services.people.users import User


@dataclass(frozen=True)
class SlurmAttempt:
    job_id: int
    attempt: int
    host: str
    name: str
    slurm_id: int | None
    script: str
    run_dir: str
    state: str
    reason: str
    node: str
    time_limit: str
    log_offset: int
    submitted_at: float
    updated_at: float

    @property
    def pending(self) -> bool:
        return self.state in ("SUBMITTING", "PENDING", "CONFIGURING", "REQUEUED")

    def describe(self) -> str:
        """Return one line for people: "pending in Slurm (Resources)", "running on node7"..."""
        sid = f"Slurm job {self.slurm_id}" if self.slurm_id else "Slurm job (not yet accepted)"
        if self.pending:
            return f"{wording.slurm_pending(self.reason)} · {sid}"
        if self.state in ("RUNNING", "COMPLETING"):
            return f"running in Slurm on {self.node or '?'} · {sid}"
        return f"{self.state.lower()} in Slurm" + (f" on {self.node}" if self.node else "") + f" · {sid}"

    def as_json(self) -> dict:
        """Return Slurm's view of the attempt as the API and the dashboard grid give it."""
        return {"job_id": self.slurm_id, "state": self.state, "reason": self.reason, "node": self.node,
                "pending": self.pending, "text": self.describe()}


_COLS = ("job_id, attempt, host, name, slurm_id, script, run_dir, state, reason, node, time_limit, log_offset, "
         "submitted_at, updated_at")


def record_submission(conn: sqlite3.Connection, job_id: int, attempt: int, host: str, name: str, script: str,
                      run_dir: str) -> bool:
    """Write an attempt's row before its sbatch; False when the attempt already has one (never submit twice)."""
    now = time.time()
    cur = conn.execute("INSERT OR IGNORE INTO slurm_jobs (job_id, attempt, host, name, script, run_dir, submitted_at, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, attempt, host, name, script, run_dir, now, now))
    return bool(cur.rowcount)


def record_slurm_id(conn: sqlite3.Connection, job_id: int, attempt: int, slurm_id: int) -> None:
    """Store the id sbatch answered with."""
    now = time.time()
    conn.execute("UPDATE slurm_jobs SET slurm_id = ?, state = 'PENDING', updated_at = ? WHERE job_id = ? "
                 "AND attempt = ?", (slurm_id, now, job_id, attempt))
    _touch(conn, job_id, now)


def append_script(conn: sqlite3.Connection, job_id: int, attempt: int, text: str) -> None:
    """Add a two-job attempt's second batch script (the inference job's) to the script shown on the job page."""
    conn.execute("UPDATE slurm_jobs SET script = script || ? WHERE job_id = ? AND attempt = ?", (text, job_id, attempt))


def _touch(conn: sqlite3.Connection, job_id: int, now: float) -> None:
    """Move the job's updated_at: the job page redraws its header when it moves."""
    conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (now, job_id))


def record_state(conn: sqlite3.Connection, job_id: int, attempt: int, state: str, reason: str = "", node: str = "",
                 time_limit: str | None = None) -> None:
    """Store what Slurm says of the attempt (a no-op write when nothing changed)."""
    now = time.time()
    cur = conn.execute("UPDATE slurm_jobs SET state = ?, reason = ?, node = CASE WHEN ? = '' THEN node ELSE ? END, "
                       "time_limit = COALESCE(?, time_limit), updated_at = ? WHERE job_id = ? AND attempt = ? AND "
                       "(state IS NOT ? OR reason IS NOT ? OR (? != '' AND node IS NOT ?) OR "
                       "(? IS NOT NULL AND time_limit IS NOT ?))",
                       (state, reason, node, node, time_limit, now, job_id, attempt, state, reason, node, node,
                        time_limit, time_limit))
    if cur.rowcount:
        _touch(conn, job_id, now)


def record_offset(conn: sqlite3.Connection, job_id: int, attempt: int, offset: int) -> None:
    """Store how many bytes of the output file are in the log store."""
    conn.execute("UPDATE slurm_jobs SET log_offset = ? WHERE job_id = ? AND attempt = ?", (offset, job_id, attempt))


def slurm_attempt(conn: sqlite3.Connection, job_id: int, attempt: int) -> SlurmAttempt | None:
    """Return an attempt's Slurm row, or None when it was never handed to Slurm."""
    row = conn.execute(f"SELECT {_COLS} FROM slurm_jobs WHERE job_id = ? AND attempt = ?", (job_id, attempt)).fetchone()
    return SlurmAttempt(*row) if row else None


def current_attempts(conn: sqlite3.Connection, found: list[Job]) -> dict[int, SlurmAttempt]:
    """Return job id -> the Slurm row of its latest attempt, for the jobs run through Slurm (one query).

    The one place the job page, the dashboard grid and the API read "as Slurm sees it" from.
    """
    wanted = [(j.id, j.attempts) for j in found if j.executor == "slurm" and j.attempts]
    if not wanted:
        return {}
    where = " OR ".join(["(job_id = ? AND attempt = ?)"] * len(wanted))
    rows = conn.execute(f"SELECT {_COLS} FROM slurm_jobs WHERE {where}", [v for pair in wanted for v in pair])
    return {r[0]: SlurmAttempt(*r) for r in rows}


def slurm_attempts(conn: sqlite3.Connection, caller: User, job_id: int) -> list[SlurmAttempt]:
    """Return the Slurm rows of a job the caller may see, latest attempt first (for the job page).

    Raises:
        JobNotFound: not visible to the caller.
    """
    get_job(conn, caller, job_id)
    return [SlurmAttempt(*r) for r in conn.execute(
        f"SELECT {_COLS} FROM slurm_jobs WHERE job_id = ? ORDER BY attempt DESC", (job_id,))]


def active_slurm_ids(conn: sqlite3.Connection, host: str) -> set[int]:
    """Return the Slurm ids of the running FoldDeck attempts on `host` (anything else of ours is unknown)."""
    return {r[0] for r in conn.execute(
        "SELECT s.slurm_id FROM slurm_jobs s JOIN jobs j ON j.id = s.job_id AND j.attempts = s.attempt "
        "WHERE s.host = ? AND j.state = 'running' AND s.slurm_id IS NOT NULL", (host,))}


def slurm_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Return host -> {"pending": n, "running": n} for FoldDeck's running attempts in Slurm (status page)."""
    out: dict[str, dict[str, int]] = {}
    for host, state, n in conn.execute(
            "SELECT s.host, s.state, COUNT(*) FROM slurm_jobs s JOIN jobs j ON j.id = s.job_id AND "
            "j.attempts = s.attempt WHERE j.state = 'running' GROUP BY s.host, s.state"):
        key = "running" if state in ("RUNNING", "COMPLETING") else "pending"
        out.setdefault(host, {"pending": 0, "running": 0})[key] += n
    return out
