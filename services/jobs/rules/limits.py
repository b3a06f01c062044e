"""Submission limits: per-user and default limits, and the refusal messages that name them."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from services.platform import defaults
from services.platform.errors import InvalidInput, LimitExceeded

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
    seeds_per_job: int = defaults.MAX_SEEDS_PER_JOB
    gpu_hours_per_job: float = defaults.MAX_GPU_HOURS_PER_JOB  # estimated (services.af3.size.gpu_seconds)


LIMIT_RANGE = (1, 10_000_000)  # a limit of 0 would refuse everything; use pause for that
GPU_HOURS_RANGE = (0.01, 1_000_000.0)  # a 100-token, 1-seed job is ~0.002 h; 0 would refuse everything
_COLUMNS = ("jobs_per_submit", "tokens_per_job", "queued_per_user", "seeds_per_job", "gpu_hours_per_job")


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
    row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM submit_limits WHERE id = 1").fetchone()
    base = SubmitLimits()
    if row is None:
        return base
    return SubmitLimits(*(v if v is not None else getattr(base, name) for v, name in zip(row, _COLUMNS, strict=True)))


def set_default_limits(conn: sqlite3.Connection, limits: SubmitLimits, by: str) -> SubmitLimits:
    """Store new default limits (services.operations.admin checks the caller is an admin and logs it).

    Raises:
        InvalidInput: a count is not a whole number from 1 to 10,000,000, or GPU hours not from 0.01 to 1,000,000.
    """
    lo, hi = LIMIT_RANGE
    for label, value in (("Jobs per submission", limits.jobs_per_submit), ("Tokens per job", limits.tokens_per_job),
                         ("Queued jobs per user", limits.queued_per_user), ("Seeds per job", limits.seeds_per_job)):
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise InvalidInput(f"{label} must be a whole number from {lo:,} to {hi:,}.")
    glo, ghi = GPU_HOURS_RANGE
    hours = limits.gpu_hours_per_job
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not glo <= hours <= ghi:
        raise InvalidInput(f"GPU hours per job must be a number from {glo:,} to {ghi:,.0f}.")
    values = [getattr(limits, name) for name in _COLUMNS]
    values[-1] = float(hours)
    conn.execute(f"INSERT INTO submit_limits (id, {', '.join(_COLUMNS)}, changed_by, changed_at) "
                 f"VALUES (1, {', '.join('?' * len(_COLUMNS))}, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                 + ", ".join(f"{c} = excluded.{c}" for c in (*_COLUMNS, "changed_by", "changed_at")),
                 (*values, by, time.time()))
    return default_limits(conn)


def effective_limits(conn: sqlite3.Connection, user_id: int) -> SubmitLimits:
    """Return the limits that apply to one user: their own where set, else the defaults."""
    base, own = default_limits(conn), get_limits(conn, user_id)
    return SubmitLimits(base.jobs_per_submit,
                        base.tokens_per_job if own.max_tokens is None else own.max_tokens,
                        base.queued_per_user if own.max_queued is None else own.max_queued,
                        base.seeds_per_job, base.gpu_hours_per_job)


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


def job_refusal(limits: SubmitLimits, tokens: int, seeds: int, samples: int) -> str:
    """Return why one job is over its owner's per-job limits (tokens, seeds, estimated GPU hours), or "".

    The GPU hours are `services.af3.size.gpu_seconds`, the estimate the size badge shows.
    """
    from services.af3.size import gpu_seconds

    if tokens > limits.tokens_per_job:
        return _tokens_refusal(tokens, limits.tokens_per_job)
    if seeds > limits.seeds_per_job:
        return (f"This job has {seeds:,} seeds; the limit is {limits.seeds_per_job:,} seeds per job (AlphaFold 3 "
                f"usually runs 5); {_ASK}.")
    hours = gpu_seconds(tokens, seeds, samples) / 3600
    if hours > limits.gpu_hours_per_job:
        return (f"This job needs about {hours:,.1f} GPU hours ({tokens:,} tokens x {seeds:,} seeds x {samples} "
                f"samples); the limit is {limits.gpu_hours_per_job:,g} GPU hours per job. Use fewer seeds, or {_ASK}.")
    return ""


def _tokens_refusal(tokens: int, limit: int) -> str:
    return (f"This job has {tokens:,} tokens; your limit is {limit:,} tokens per job (AlphaFold 3 fits about "
            f"5,000 on one 80 GB GPU); {_ASK}.")


def _queued_refusal(queued: int, limit: int) -> str:
    noun = "job" if queued == 1 else "jobs"
    return f"You already have {queued:,} queued {noun}; the limit is {limit:,}. Wait for some to run, or {_ASK}."


def _check_limits(conn: sqlite3.Connection, owner_id: int, tokens: int, seeds: int, samples: int,
                  extra_queued: int = 1) -> None:
    limits = effective_limits(conn, owner_id)
    why = job_refusal(limits, tokens, seeds, samples)
    if why:
        raise LimitExceeded(why)
    queued = _queued_count(conn, owner_id)
    if queued + extra_queued > limits.queued_per_user:
        raise LimitExceeded(_queued_refusal(queued, limits.queued_per_user))
