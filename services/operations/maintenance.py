"""Maintenance windows per host as an admin schedules them (issue 18).

What a window means for the queue (no job starts that would run into one) is the queue's rule:
services.jobs.rules.placement, which also reads the windows.
"""
from __future__ import annotations

import logging
import sqlite3
import time

from services.jobs.rules.placement import Window
from services.people.users import User
from services.platform.errors import InvalidInput, PermissionDenied

log = logging.getLogger("folddeck.admin")


def add_window(conn: sqlite3.Connection, admin: User, host: str, starts_at: float, ends_at: float,
               note: str = "") -> Window:
    """Schedule a maintenance window on a host.

    Raises:
        PermissionDenied: the caller is not an admin.
        InvalidInput: no host, or the window ends before it starts.
    """
    if not admin.is_admin:
        raise PermissionDenied("Only an admin schedules maintenance.")
    if not (host or "").strip():
        raise InvalidInput("Choose the host that goes into maintenance.")
    if ends_at <= starts_at:
        raise InvalidInput("A maintenance window must end after it starts.")
    cur = conn.execute("INSERT INTO maintenance_windows (host, starts_at, ends_at, note, created_by, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (host.strip(), starts_at, ends_at, (note or "").strip(),
                                                     admin.username, time.time()))
    log.info("maintenance of %s scheduled from %s to %s by %s", host, _hm(starts_at), _hm(ends_at),
             admin.username, extra={"source": "admin", "username": admin.username})
    return get_window(conn, cur.lastrowid)


def delete_window(conn: sqlite3.Connection, admin: User, window_id: int) -> None:
    """Remove a maintenance window (PermissionDenied for non-admins)."""
    if not admin.is_admin:
        raise PermissionDenied("Only an admin schedules maintenance.")
    conn.execute("DELETE FROM maintenance_windows WHERE id = ?", (window_id,))


def get_window(conn: sqlite3.Connection, window_id: int) -> Window:
    row = conn.execute("SELECT id, host, starts_at, ends_at, note, created_by FROM maintenance_windows WHERE id = ?",
                       (window_id,)).fetchone()
    if row is None:
        raise InvalidInput(f"Maintenance window {window_id} does not exist.")
    return Window(*row)


def windows(conn: sqlite3.Connection, start: float, end: float) -> list[Window]:
    """Return the windows overlapping [start, end), by start."""
    rows = conn.execute("SELECT id, host, starts_at, ends_at, note, created_by FROM maintenance_windows "
                        "WHERE ends_at > ? AND starts_at < ? ORDER BY starts_at, host", (start, end))
    return [Window(*r) for r in rows]


def _hm(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
