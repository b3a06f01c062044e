"""Toasts: short notices for the browser, written by triggers, read with a cursor by a slow poll."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from services.people.users import User
from services.platform import defaults


@dataclass(frozen=True)
class Toast:
    id: int
    level: str  # success, danger, warning, info
    text: str
    job_id: int | None
    at: float


def latest_id(conn: sqlite3.Connection) -> int:
    """Return the newest toast id (a page starts its cursor here: older news is not shown again)."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM notifications").fetchone()[0]


def toasts_since(conn: sqlite3.Connection, user: User, cursor: int,
                 limit: int = defaults.TOAST_MAX) -> tuple[list[Toast], int, int]:
    """Return up to `limit` toasts for `user` after `cursor`, how many more there were, and the new cursor.

    A user sees their own; an admin also sees the lab-wide ones (hosts going down). Two index
    range reads, so a tick with nothing new costs well under a millisecond.
    """
    sql = "SELECT id, level, text, job_id, at FROM notifications WHERE id > ? AND user_id = ?"
    args: list = [cursor, user.id]
    if user.is_admin:
        sql += " UNION ALL SELECT id, level, text, job_id, at FROM notifications WHERE id > ? AND for_admins = 1"
        args.append(cursor)
    rows = conn.execute(f"SELECT * FROM ({sql}) ORDER BY id", args).fetchall()
    if not rows:
        return [], 0, cursor
    found = [Toast(*r) for r in rows]
    return found[-limit:], max(0, len(found) - limit), found[-1].id
