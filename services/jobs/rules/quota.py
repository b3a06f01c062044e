"""Per-user storage quota (issue 22): the bytes under a user's job folders against their quota.

The quota is FOLDDECK_USER_QUOTA_MB unless an admin set one for the user (`user_limits.quota_mb`,
on /admin/users); 0 means none. A submission is refused once the user is at or over it; an import
is refused when its unpacked size would take them over. Jobs already queued may still grow past it.
"""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from services.people.users import User
from services.platform.errors import InvalidInput, LimitExceeded, PermissionDenied
from services.platform.settings import Settings

log = logging.getLogger("folddeck.admin")
MB = 1024 * 1024
QUOTA_RANGE_MB = (0, 1_000_000_000)  # up to a petabyte; 0 is "no quota"
_ASK = "delete jobs you no longer need (download their results first), or ask an admin for a larger quota"


def own_quota_mb(conn: sqlite3.Connection, user_id: int) -> int | None:
    """Return the quota an admin set for the user in MB (0: none), or None when the default applies."""
    row = conn.execute("SELECT quota_mb FROM user_limits WHERE user_id = ?", (user_id,)).fetchone()
    return row[0] if row else None


def quota_bytes(conn: sqlite3.Connection, settings: Settings, user_id: int) -> int | None:
    """Return the user's quota in bytes, or None when they have none."""
    own = own_quota_mb(conn, user_id)
    mb = settings.user_quota_mb if own is None else own
    return mb * MB if mb else None


def set_quota_mb(conn: sqlite3.Connection, actor: User, user_id: int, mb: int | None) -> int | None:
    """Set a user's quota in MB (None: the default, 0: no quota); return what is stored.

    Raises:
        PermissionDenied: `actor` is not an admin.
        InvalidInput: `mb` is negative or absurdly large.
    """
    if not actor.is_admin:
        raise PermissionDenied("Only admins can do this.")
    lo, hi = QUOTA_RANGE_MB
    if mb is not None and not lo <= mb <= hi:
        raise InvalidInput(f"Disk quota must be a whole number of MB from {lo} to {hi:,} (empty: the default).")
    store_quota_mb(conn, user_id, mb)
    log.info("%s: disk quota of user %s set to %s", actor.username, user_id,
             "the default" if mb is None else f"{mb} MB", extra={"source": "admin", "username": actor.username})
    return own_quota_mb(conn, user_id)


def store_quota_mb(conn: sqlite3.Connection, user_id: int, mb: int | None) -> None:
    """Store a user's quota (None: the default, 0: none); the caller decided it may (an admin, a group rule)."""
    conn.execute("INSERT INTO user_limits (user_id, quota_mb) VALUES (?, ?) "
                 "ON CONFLICT (user_id) DO UPDATE SET quota_mb = excluded.quota_mb", (user_id, mb))


def folder_bytes(folder: Path) -> int:
    """Return the bytes of the regular files under `folder` (0 when it is gone)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def used_bytes(conn: sqlite3.Connection, settings: Settings, user_id: int) -> int:
    """Return the bytes under the user's job folders: the sampler's last measurement (the one /admin/users
    shows, `retention.measure_disk`) plus the folders of the jobs made since, so a burst counts at once."""
    row = conn.execute("SELECT bytes, measured_at FROM user_disk_use WHERE user_id = ?", (user_id,)).fetchone()
    if row is not None:
        base, since = row
    else:  # no jobs at the last measurement (or none yet): only folders made after it count
        base, since = 0, conn.execute("SELECT MAX(measured_at) FROM user_disk_use").fetchone()[0]
    ids = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE owner_id = ? AND submitted_at >= ?",
                                      (user_id, since if since is not None else float("-inf")))]
    return base + sum(folder_bytes(settings.jobs_dir / str(job_id)) for job_id in ids)


def size_text(n: int) -> str:
    """Return "1.5 GB" / "800.0 MB" (binary units, as the quota is set)."""
    return f"{n / 1024 ** 3:,.1f} GB" if n >= 1024 ** 3 else f"{n / MB:,.1f} MB"


def check_submit(conn: sqlite3.Connection, settings: Settings, user_id: int) -> None:
    """Refuse a submission from a user at or over their quota.

    Raises:
        LimitExceeded: naming the bytes used, the quota and what to do.
    """
    quota = quota_bytes(conn, settings, user_id)
    if quota is not None and (used := used_bytes(conn, settings, user_id)) >= quota:
        raise LimitExceeded(f"Your jobs use {size_text(used)} of disk; your quota is {size_text(quota)}. "
                            f"Nothing was submitted: {_ASK}.")


def check_import(conn: sqlite3.Connection, settings: Settings, user_id: int, adding: int) -> int | None:
    """Refuse an import of `adding` bytes that would take the user over their quota; return the bytes left.

    Returns:
        The bytes the user may still add (the unpacking stops there), or None without a quota.
    Raises:
        LimitExceeded: naming the import's size, the bytes used and the quota.
    """
    quota = quota_bytes(conn, settings, user_id)
    if quota is None:
        return None
    used = used_bytes(conn, settings, user_id)
    if used + adding > quota:
        raise LimitExceeded(f"This import unpacks to {size_text(adding)}; with the {size_text(used)} your jobs "
                            f"use, that is over your disk quota of {size_text(quota)}. Nothing was imported: "
                            f"{_ASK}.")
    return quota - used
