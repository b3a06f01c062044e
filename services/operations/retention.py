"""Retention: purge the outputs of old unpinned finished jobs, warn a week before, measure disk use.

Runs in the sampler (`Sampler._maintain`), never in a callback. Every function takes `now`, so tests
move the clock instead of sleeping. A purged job keeps its row, input and log; only its attempt
folders (the AF3 outputs) go, and `purged_at` says when.
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass

from services.jobs.manage import delete_rows, hosts_with_files, remove_folder
from services.jobs.rules.quota import folder_bytes
from services.msa import msa_cache
from services.people.users import User
from services.platform import applog, defaults
from services.platform.db import transaction
from services.platform.settings import Settings
from services.running.executors.cleanup import remove_elsewhere

log = logging.getLogger("folddeck.retention")
DAY_S = 86_400


@dataclass(frozen=True)
class Expiring:
    job_id: int
    name: str
    purge_at: float  # when the outputs go


def purge_due(settings: Settings, finished_at: float | None) -> float | None:
    """Return when a job finished at `finished_at` loses its outputs; None when retention is off."""
    if not settings.retention_days or finished_at is None:
        return None
    return finished_at + settings.retention_days * DAY_S


def purge_expired(conn: sqlite3.Connection, settings: Settings, now: float | None = None) -> list[int]:
    """Remove the outputs of unpinned finished jobs older than FOLDDECK_RETENTION_DAYS; return their ids."""
    if not settings.retention_days:
        return []
    now = time.time() if now is None else now
    cutoff = now - settings.retention_days * DAY_S
    rows = conn.execute("SELECT j.id, j.name, u.username FROM jobs j JOIN users u ON u.id = j.owner_id "
                        "WHERE j.state IN ('succeeded', 'failed', 'cancelled') AND j.pinned = 0 "
                        "AND j.purged_at IS NULL AND j.finished_at < ?", (cutoff,)).fetchall()
    for job_id, _name, owner in rows:
        for attempt in (settings.jobs_dir / str(job_id)).glob("attempt-*"):
            shutil.rmtree(attempt, ignore_errors=True)
        remove_elsewhere(settings, job_id, hosts_with_files(conn, job_id))  # and its copies on SSH / Slurm hosts
        conn.execute("UPDATE jobs SET purged_at = ?, output_path = NULL WHERE id = ?", (now, job_id))
        log.info("job %s outputs purged after %s days (retention)", job_id, settings.retention_days,
                 extra={"source": "jobs", "username": owner, "job_id": job_id})
        notify_purged(conn, job_id)
    return [r[0] for r in rows]


def notify_purged(conn: sqlite3.Connection, job_id: int) -> None:
    """Hook point for the notifications outbox: a job's outputs were purged (nothing sent yet)."""


def notify_expiring(conn: sqlite3.Connection, job_id: int, purge_at: float) -> None:
    """Queue the owner's mail (if they gave an address) and a toast: the job's outputs go at `purge_at`.

    Written into the notifications outbox, so the sender delivers it with the same retries as job mail.
    """
    now = time.time()
    when = time.strftime("%Y-%m-%d", time.localtime(purge_at))
    conn.execute("INSERT INTO outbox (kind, user_id, job_id, event, target, payload, created_at, next_at) "
                 "SELECT 'email', j.owner_id, j.id, 'expiring', p.email, "
                 "json_object('job_id', j.id, 'name', j.name, 'state', 'expiring', 'purge_at', ?, "
                 "'owner', u.username, 'finished_at', j.finished_at), ?, ? "
                 "FROM jobs j JOIN users u ON u.id = j.owner_id JOIN notify_prefs p ON p.user_id = j.owner_id "
                 "WHERE j.id = ? AND p.email != ''", (purge_at, now, now, job_id))
    conn.execute("INSERT INTO notifications (user_id, for_admins, level, text, job_id, at) "
                 "SELECT owner_id, 0, 'warning', 'Job ' || id || ' (' || name || '): its outputs will be deleted on ' "
                 "|| ? || '; pin it to keep them.', id, ? FROM jobs WHERE id = ?", (when, now, job_id))


def warn_expiring(conn: sqlite3.Connection, settings: Settings, now: float | None = None) -> list[int]:
    """Tell owners once, a week ahead, which outputs retention will delete; return those job ids.

    Each job is warned once (`retention_warned_at`): an application-log line and `notify_expiring`.
    """
    if not settings.retention_days:
        return []
    now = time.time() if now is None else now
    lo = now - settings.retention_days * DAY_S
    rows = conn.execute("SELECT j.id, j.finished_at, u.username FROM jobs j JOIN users u ON u.id = j.owner_id "
                        "WHERE j.state IN ('succeeded', 'failed', 'cancelled') AND j.pinned = 0 "
                        "AND j.purged_at IS NULL AND j.retention_warned_at IS NULL AND j.finished_at < ?",
                        (lo + defaults.RETENTION_WARN_DAYS * DAY_S,)).fetchall()
    for job_id, finished_at, owner in rows:
        purge_at = finished_at + settings.retention_days * DAY_S
        conn.execute("UPDATE jobs SET retention_warned_at = ? WHERE id = ?", (now, job_id))
        log.info("job %s outputs will be deleted on %s (retention); pin it to keep them", job_id,
                 time.strftime("%Y-%m-%d", time.localtime(purge_at)),
                 extra={"source": "jobs", "username": owner, "job_id": job_id})
        notify_expiring(conn, job_id, purge_at)
    return [r[0] for r in rows]


def expiring(conn: sqlite3.Connection, settings: Settings, caller: User, now: float | None = None,
             job_id: int | None = None) -> list[Expiring]:
    """Return the caller's unpinned finished jobs whose outputs go within RETENTION_WARN_DAYS."""
    if not settings.retention_days:
        return []
    now = time.time() if now is None else now
    lo = now - settings.retention_days * DAY_S
    hi = lo + defaults.RETENTION_WARN_DAYS * DAY_S
    sql = ("SELECT id, name, finished_at FROM jobs WHERE owner_id = ? AND pinned = 0 AND purged_at IS NULL "
           "AND state IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?")
    args: list = [caller.id, hi]
    if job_id is not None:
        sql, args = sql + " AND id = ?", args + [job_id]
    rows = conn.execute(sql + " ORDER BY finished_at", args).fetchall()
    return [Expiring(r[0], r[1], r[2] + settings.retention_days * DAY_S) for r in rows]


def warning_text(items: list[Expiring], now: float | None = None) -> str:
    """Return one banner line for expiring jobs ("" when none)."""
    if not items:
        return ""
    now = time.time() if now is None else now
    days = max(0, int((items[0].purge_at - now) // DAY_S))
    first = f"job {items[0].job_id} ({items[0].name})" if len(items) == 1 else f"{len(items)} jobs"
    return (f"The outputs of {first} will be deleted in {days} day{'s' if days != 1 else ''} or less "
            "(retention). Pin a job or download its results to keep them.")


def measure_disk(conn: sqlite3.Connection, settings: Settings, now: float | None = None) -> dict[int, int]:
    """Store and return bytes per user under their job folders (the sampler calls this)."""
    now = time.time() if now is None else now
    per_user: dict[int, int] = {}
    for job_id, owner_id in conn.execute("SELECT id, owner_id FROM jobs").fetchall():
        per_user[owner_id] = per_user.get(owner_id, 0) + folder_bytes(settings.jobs_dir / str(job_id))
    with transaction(conn):
        conn.execute("DELETE FROM user_disk_use")
        conn.executemany("INSERT INTO user_disk_use (user_id, bytes, measured_at) VALUES (?, ?, ?)",
                         [(u, b, now) for u, b in per_user.items()])
    return per_user


def disk_use(conn: sqlite3.Connection) -> dict[int, int]:
    """Return the last measured bytes per user id."""
    return dict(conn.execute("SELECT user_id, bytes FROM user_disk_use"))


def erase_user_data(conn: sqlite3.Connection, settings: Settings, caller: User, typed_name: str) -> int:
    """Delete all of the caller's jobs and their account ("delete my data"); return how many jobs went.

    Admins keep only an anonymised count (table erased_accounts). A running or queued job is
    cancelled by removal: its worker loses the lease and stops.

    Raises:
        InvalidInput: `typed_name` is not the caller's user name, or the caller is the last admin.
    """
    from services.platform.errors import InvalidInput

    if typed_name.strip() != caller.username:
        raise InvalidInput("Type your user name exactly to confirm deleting all your data.")
    applog.flush()  # their records still queued must be in the table before it is rewritten
    with transaction(conn):
        if caller.is_admin and conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 "
                                            "AND id != ?", (caller.id,)).fetchone()[0] == 0:
            raise InvalidInput("You are the last active admin; make someone else admin first.")
        names = dict(conn.execute("SELECT id, name FROM jobs WHERE owner_id = ?", (caller.id,)).fetchall())
        ids = list(names)
        elsewhere = {job_id: hosts_with_files(conn, job_id) for job_id in ids}
        for job_id in ids:
            delete_rows(conn, job_id)
        for table in ("user_limits", "user_disk_use"):
            conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (caller.id,))
        conn.execute("DELETE FROM change_counters WHERE scope = ?", (caller.id,))
        for table in ("outbox", "notifications"):  # sent mails' snapshots name their jobs and scores too
            conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (caller.id,))
        conn.execute("DELETE FROM users WHERE id = ?", (caller.id,))
        erased = conn.execute("INSERT INTO erased_accounts (erased_at, jobs) VALUES (?, ?)",
                              (time.time(), len(ids))).lastrowid
        applog.pseudonymise(conn, caller.username, names, f"erased-user-{erased}")  # the log is kept 90 days
    for job_id in ids:
        remove_folder(settings, job_id)
        remove_elsewhere(settings, job_id, elsewhere[job_id])
    msa_cache.clear(conn, settings, caller.id)  # their cache rows went by ON DELETE CASCADE; this removes the files
    log.warning("an account erased itself with %s jobs (delete my data)", len(ids), extra={"source": "users"})
    return len(ids)


def count_jobs(conn: sqlite3.Connection, user_id: int) -> int:
    """Return how many jobs a user owns."""
    return conn.execute("SELECT COUNT(*) FROM jobs WHERE owner_id = ?", (user_id,)).fetchone()[0]


def erased_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """Return (accounts erased, their jobs) for admins."""
    row = conn.execute("SELECT COUNT(*), COALESCE(SUM(jobs), 0) FROM erased_accounts").fetchone()
    return row[0], row[1]
