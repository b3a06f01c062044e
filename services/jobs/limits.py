"""Submission limits: per-user and default limits, and the refusal messages that name them."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from services import defaults
from services.errors import InvalidInput, LimitExceeded

# -- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserLimits:
    max_running: int | None = None  # None = unlimited
    max_queued: int | None = None  # None = the default (SubmitLimits.queued_per_user)
    max_tokens: int | None = None  # None = the default (SubmitLimits.tokens_per_job)


@dataclass(frozen=True)
class SubmitLimits:
    """What one submission may hold. Global defaults live in the database (admins change them)."""

    jobs_per_submit: int = defaults.MAX_JOBS_PER_SUBMIT
    tokens_per_job: int = defaults.MAX_TOKENS_PER_JOB
    queued_per_user: int = defaults.MAX_QUEUED_PER_USER


LIMIT_RANGE = (1, 10_000_000)  # a limit of 0 would refuse everything; use pause for that


def get_limits(conn: sqlite3.Connection, user_id: int) -> UserLimits:
    """Return a user's own limits (all None when none are set)."""
    row = conn.execute("SELECT max_running, max_queued, max_tokens FROM user_limits WHERE user_id = ?",
                       (user_id,)).fetchone()
    return UserLimits(*row) if row else UserLimits()


def set_limits(conn: sqlite3.Connection, user_id: int, limits: UserLimits) -> UserLimits:
    """Replace a user's limits; None means unlimited running jobs, and the default for the others.

    Raises:
        InvalidInput: a limit is negative.
    """
    for name in ("max_running", "max_queued", "max_tokens"):
        value = getattr(limits, name)
        if value is not None and value < 0:
            raise InvalidInput(f"{name.replace('_', ' ')} must be 0 or more (leave it empty for the default).")
    conn.execute("INSERT INTO user_limits (user_id, max_running, max_queued, max_tokens) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (user_id) DO UPDATE SET max_running = excluded.max_running, "
                 "max_queued = excluded.max_queued, max_tokens = excluded.max_tokens",
                 (user_id, limits.max_running, limits.max_queued, limits.max_tokens))
    return get_limits(conn, user_id)


def default_limits(conn: sqlite3.Connection) -> SubmitLimits:
    """Return the limits every user has unless an admin set their own (NULL columns: defaults.py)."""
    row = conn.execute("SELECT jobs_per_submit, tokens_per_job, queued_per_user FROM submit_limits "
                       "WHERE id = 1").fetchone()
    base = SubmitLimits()
    if row is None:
        return base
    return SubmitLimits(*(v if v is not None else d for v, d in zip(row, (base.jobs_per_submit, base.tokens_per_job,
                                                                         base.queued_per_user), strict=True)))


def set_default_limits(conn: sqlite3.Connection, limits: SubmitLimits, by: str) -> SubmitLimits:
    """Store new default limits (services.admin checks the caller is an admin and logs it).

    Raises:
        InvalidInput: a limit is not a whole number from 1 to 10,000,000.
    """
    lo, hi = LIMIT_RANGE
    for label, value in (("Jobs per submission", limits.jobs_per_submit), ("Tokens per job", limits.tokens_per_job),
                         ("Queued jobs per user", limits.queued_per_user)):
        if not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidInput(f"{label} must be a whole number from {lo:,} to {hi:,}.")
    conn.execute("INSERT INTO submit_limits (id, jobs_per_submit, tokens_per_job, queued_per_user, changed_by, "
                 "changed_at) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                 "jobs_per_submit = excluded.jobs_per_submit, tokens_per_job = excluded.tokens_per_job, "
                 "queued_per_user = excluded.queued_per_user, changed_by = excluded.changed_by, "
                 "changed_at = excluded.changed_at",
                 (limits.jobs_per_submit, limits.tokens_per_job, limits.queued_per_user, by, time.time()))
    return default_limits(conn)


def effective_limits(conn: sqlite3.Connection, user_id: int) -> SubmitLimits:
    """Return the limits that apply to one user: their own where set, else the defaults."""
    base, own = default_limits(conn), get_limits(conn, user_id)
    return SubmitLimits(base.jobs_per_submit,
                        base.tokens_per_job if own.max_tokens is None else own.max_tokens,
                        base.queued_per_user if own.max_queued is None else own.max_queued)


_ASK = "ask an admin if you need more"


def _queued_count(conn: sqlite3.Connection, owner_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM jobs WHERE owner_id = ? AND state = 'queued'", (owner_id,)).fetchone()[0]


def check_job_count(count: int, limits: SubmitLimits, what: str = "This submission") -> None:
    """Refuse more jobs in one submission than the limit allows (before validating them one by one).

    Raises:
        LimitExceeded: naming the count, the limit and what to do.
    """
    if count > limits.jobs_per_submit:
        raise LimitExceeded(too_many_jobs(count, limits.jobs_per_submit, what))


def too_many_jobs(count: int, limit: int, what: str = "This submission") -> str:
    """Say that `what` holds more jobs than one submission may, and what to do."""
    return (f"{what} has {count:,} jobs; the limit is {limit:,} per submission. Nothing was submitted: split it "
            f"into smaller files, or {_ASK}.")


def too_many_tokens(tokens: int, limit: int) -> str:
    """Say that a job is over the tokens-per-job limit, and what to do."""
    return _tokens_refusal(tokens, limit)


def _tokens_refusal(tokens: int, limit: int) -> str:
    return (f"This job has {tokens:,} tokens; your limit is {limit:,} tokens per job (AlphaFold 3 fits about "
            f"5,000 on one 80 GB GPU); {_ASK}.")


def _queued_refusal(queued: int, limit: int) -> str:
    noun = "job" if queued == 1 else "jobs"
    return f"You already have {queued:,} queued {noun}; the limit is {limit:,}. Wait for some to run, or {_ASK}."


def _check_limits(conn: sqlite3.Connection, owner_id: int, tokens: int, extra_queued: int = 1) -> None:
    limits = effective_limits(conn, owner_id)
    if tokens > limits.tokens_per_job:
        raise LimitExceeded(_tokens_refusal(tokens, limits.tokens_per_job))
    queued = _queued_count(conn, owner_id)
    if queued + extra_queued > limits.queued_per_user:
        raise LimitExceeded(_queued_refusal(queued, limits.queued_per_user))
