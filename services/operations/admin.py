"""Admin actions on users and the queue, each checked and recorded in the application log.

Every function takes the acting admin (`actor`, from the server session) and refuses anyone else
with PermissionDenied, so the rule holds even if a page forgets the gate. Each action, and each
refused one, is logged to "folddeck.admin" with source="admin" and the actor's name.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from services import jobs
from services.jobs import Job, JobState, UserLimits
from services.msa import msa_cache
from services.people import cluster_identity, users
from services.people.users import Role, User
from services.platform.errors import FoldDeckError, InvalidInput, PermissionDenied
from services.platform.settings import Settings

log = logging.getLogger("folddeck.admin")


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only admins can do this.")


def _audit(actor: User, level: int, message: str, *args, job_id: int | None = None) -> None:
    log.log(level, message, *args, extra={"source": "admin", "username": actor.username, "job_id": job_id})


class _Audited:
    """Log the action when it succeeds, or the refusal (and re-raise) when it fails."""

    def __init__(self, actor: User, what: str, job_id: int | None = None):
        self.actor, self.what, self.job_id = actor, what, job_id

    def __enter__(self) -> _Audited:
        _require_admin(self.actor)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            _audit(self.actor, logging.INFO, "%s: %s", self.actor.username, self.what, job_id=self.job_id)
        elif isinstance(exc, FoldDeckError):
            _audit(self.actor, logging.WARNING, "%s: %s refused: %s", self.actor.username, self.what, exc,
                   job_id=self.job_id)
        return False


# -- users ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSummary:
    id: int
    username: str
    role: Role
    active: bool
    created_at: float
    last_login_at: float | None
    jobs_run: int  # jobs that started at least once
    gpu_hours: float  # sum of attempt run times (one GPU per job)
    running: int
    queued: int
    limits: UserLimits


def user_summaries(conn: sqlite3.Connection, actor: User) -> list[UserSummary]:
    """Return every user with their usage and limits, by name."""
    _require_admin(actor)
    now = time.time()
    usage = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT j.owner_id, COUNT(DISTINCT a.job_id), SUM(COALESCE(a.finished_at, ?) - a.started_at) / 3600.0 "
        "FROM job_attempts a JOIN jobs j ON j.id = a.job_id GROUP BY j.owner_id", (now,))}
    states = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT owner_id, state, COUNT(*) FROM jobs WHERE state IN ('running', 'queued') GROUP BY owner_id, state")}
    return [UserSummary(u.id, u.username, u.role, u.active, u.created_at, u.last_login_at,
                        usage.get(u.id, (0, 0.0))[0], round(usage.get(u.id, (0, 0.0))[1] or 0.0, 3),
                        states.get((u.id, "running"), 0), states.get((u.id, "queued"), 0),
                        jobs.get_limits(conn, u.id))
            for u in users.list_users(conn)]


def create_user(conn: sqlite3.Connection, actor: User, username: str, password: str,
                role: Role | str = Role.USER) -> User:
    """Create an account.

    Raises:
        UserError: bad name, weak password or the name is taken.
    """
    with _Audited(actor, f"create user {username.strip()!r} ({Role(role).value})"):
        return users.create_user(conn, username, password, role)


def set_active(conn: sqlite3.Connection, actor: User, user_id: int, active: bool) -> User:
    """Enable or disable an account; disabling ends its sessions.

    Raises:
        UserError: it would disable the last active admin.
    """
    target = users.get_user(conn, user_id)
    with _Audited(actor, f"{'enable' if active else 'disable'} user {target.username!r}"
                         + ("" if active else " (ends their sessions)")):
        return users.set_active(conn, user_id, active)


def set_role(conn: sqlite3.Connection, actor: User, user_id: int, role: Role | str) -> User:
    """Change an account's role.

    Raises:
        UserError: it would demote the last active admin.
    """
    target = users.get_user(conn, user_id)
    with _Audited(actor, f"change the role of {target.username!r} to {Role(role).value}"):
        return users.set_role(conn, user_id, role)


def reset_password(conn: sqlite3.Connection, actor: User, user_id: int, password: str) -> User:
    """Set a new password for an account and end its sessions.

    Raises:
        UserError: the password is too weak.
    """
    target = users.get_user(conn, user_id)
    with _Audited(actor, f"reset the password of {target.username!r} (ends their sessions)"):
        users.set_password(conn, user_id, password)
        return users.get_user(conn, user_id)


def parse_limit(label: str, raw: object) -> int | None:
    """Return a limit from a form value: empty means none of the user's own (unlimited or the default).

    Raises:
        InvalidInput: not a whole number of 0 or more.
    """
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidInput(f"{label} must be a whole number (leave it empty for none of their own).") from None
    if value < 0:
        raise InvalidInput(f"{label} must be 0 or more (leave it empty for none of their own).")
    return value


def set_limits(conn: sqlite3.Connection, actor: User, user_id: int, limits: UserLimits) -> UserLimits:
    """Replace an account's limits (None: unlimited running, the default otherwise); submissions obey them.

    Raises:
        InvalidInput: a negative limit.
    """
    target = users.get_user(conn, user_id)
    shown = ", ".join(f"{k.replace('_', ' ')} {empty if v is None else v}"
                      for k, v, empty in (("max_running", limits.max_running, "unlimited"),
                                          ("max_queued", limits.max_queued, "default"),
                                          ("max_tokens", limits.max_tokens, "default")))
    with _Audited(actor, f"set the limits of {target.username!r}: {shown}"):
        return jobs.set_limits(conn, user_id, limits)


def set_cluster_identity(conn: sqlite3.Connection, actor: User, user_id: int, *, cluster_user: str = "",
                         account: str = "", key_file: str = "") -> cluster_identity.ClusterIdentity:
    """Map a person to their cluster user, Slurm account and SSH key (all empty: unmapped); new Slurm jobs use it.

    Raises:
        InvalidInput: a field cannot be used (nothing is saved).
    """
    target = users.get_user(conn, user_id)
    with _Audited(actor, f"set the cluster identity of {target.username!r}: user {cluster_user or '-'}, "
                         f"account {account or '-'}, key {key_file or '-'}"):
        return cluster_identity.set_identity(conn, user_id, cluster_user=cluster_user, account=account,
                                             key_file=key_file, by=actor.username)


def set_default_limits(conn: sqlite3.Connection, actor: User, limits: jobs.SubmitLimits) -> jobs.SubmitLimits:
    """Change the limits every user has unless their own are set; the next submission obeys them.

    Raises:
        InvalidInput: a limit is not a whole number from 1 to 10,000,000.
    """
    shown = (f"{limits.jobs_per_submit} jobs per submission, {limits.tokens_per_job} tokens per job, "
             f"{limits.queued_per_user} queued jobs per user, {limits.seeds_per_job} seeds per job, "
             f"{limits.gpu_hours_per_job} GPU hours per job")
    with _Audited(actor, f"set the default limits: {shown}"):
        return jobs.set_default_limits(conn, limits, actor.username)


# -- queue ---------------------------------------------------------------------------------------


def pause_queue(conn: sqlite3.Connection, actor: User) -> None:
    """Stop workers starting new jobs; running ones continue."""
    with _Audited(actor, "pause the queue (running jobs continue)"):
        jobs.pause_queue(conn, actor)


def resume_queue(conn: sqlite3.Connection, actor: User) -> None:
    """Let workers start queued jobs again."""
    with _Audited(actor, "resume the queue"):
        jobs.resume_queue(conn, actor)


def cancel_job(conn: sqlite3.Connection, actor: User, job_id: int) -> Job:
    """Cancel any user's job.

    Raises:
        JobNotFound: no such job.
        JobStateError: it already finished.
    """
    with _Audited(actor, f"cancel job {job_id}", job_id=job_id):
        return jobs.cancel_job(conn, actor, job_id)


# -- MSA cache (issue 16) --------------------------------------------------------------------------


def msa_cache_stats(conn: sqlite3.Connection, settings: Settings, actor: User) -> msa_cache.CacheStats:
    """Return the MSA cache's entries, size, owners, hits, size limit and scope (`msa_cache.CacheStats`)."""
    _require_admin(actor)
    return msa_cache.stats(conn, settings)


def set_msa_cache_scope(conn: sqlite3.Connection, settings: Settings, actor: User, lab_wide: bool) -> str:
    """Let every user reuse anyone's identical chain (`lab_wide`), or only their own; return the new scope.

    Kept in the database, it wins over FOLDDECK_MSA_CACHE_SCOPE from the next claim on.
    """
    value = "lab" if lab_wide else "user"
    with _Audited(actor, f"MSA cache reuse set to {'lab-wide' if lab_wide else 'per user'}"):
        msa_cache.set_scope(conn, value, actor.username)
    return value


def clear_msa_cache(conn: sqlite3.Connection, settings: Settings, actor: User) -> int:
    """Empty the MSA cache (every owner's entries and files); later jobs search their chains again.

    Returns:
        The number of entries removed.
    """
    with _Audited(actor, "clear the MSA cache") as audited:
        removed = msa_cache.clear(conn, settings)
        audited.what = f"clear the MSA cache ({removed} entr{'y' if removed == 1 else 'ies'} removed)"
        return removed


@dataclass(frozen=True)
class QueueOverview:
    paused: bool
    changed_by: str | None
    changed_at: float | None
    jobs: list[Job]
    total: int
    counts: dict[str, int]
    workers: list[jobs.WorkerInfo]
    slots: dict[str, jobs.HostSlots]


def queue_overview(conn: sqlite3.Connection, settings: Settings, actor: User, *, state: str | None = None,
                   limit: int = 200) -> QueueOverview:
    """Return the queue as an admin sees it: control state, all users' jobs, workers and host slots."""
    _require_admin(actor)
    paused, by, at = conn.execute("SELECT paused, changed_by, changed_at FROM queue_control WHERE id = 1").fetchone()
    states = [state] if state else [JobState.QUEUED.value, JobState.RUNNING.value]
    page, total = jobs.list_jobs(conn, actor, state=states, all_users=True, limit=limit, sort="submitted_asc")
    return QueueOverview(bool(paused), by, at, page, total, jobs.state_counts(conn, actor, all_users=True),
                         jobs.list_workers(conn), jobs.slots_per_host(settings, conn))
