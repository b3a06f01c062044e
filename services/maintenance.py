"""Maintenance windows per host and where a claimed job may go (issue 18).

A host takes no job whose time estimate (services.af3.size.gpu_seconds: tokens x seeds x samples, the
size badge's) says it would not finish before that host's next window;
a host inside a window takes nothing; running jobs are left alone. Preflight (services.preflight)
adds: no real-AF3 job goes to a host whose last check failed.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from services.errors import InvalidInput, PermissionDenied
from services.hosts import Host
from services.users import User

log = logging.getLogger("folddeck.admin")


@dataclass(frozen=True)
class Window:
    id: int
    host: str
    starts_at: float
    ends_at: float
    note: str
    created_by: str


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
    log.info("maintenance of %s scheduled from %s to %s by %s", host, _hm(starts_at, True), _hm(ends_at, True),
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


def current(conn: sqlite3.Connection, host: str, now: float) -> Window | None:
    """Return the window the host is in now, if any."""
    row = conn.execute("SELECT id, host, starts_at, ends_at, note, created_by FROM maintenance_windows "
                       "WHERE host = ? AND starts_at <= ? AND ends_at > ? ORDER BY ends_at DESC LIMIT 1",
                       (host, now, now)).fetchone()
    return Window(*row) if row else None


def next_start(conn: sqlite3.Connection, host: str, now: float) -> float | None:
    """Return when the host's next window starts (None: none scheduled)."""
    row = conn.execute("SELECT MIN(starts_at) FROM maintenance_windows WHERE host = ? AND starts_at > ?",
                       (host, now)).fetchone()
    return row[0]


def fits(conn: sqlite3.Connection, host: str, seconds: float, now: float) -> bool:
    """Return True when a job estimated at `seconds` of GPU time may start on `host` now: not in a window,
    done before the next."""
    if current(conn, host, now) is not None:
        return False
    nxt = next_start(conn, host, now)
    return nxt is None or now + seconds <= nxt


def _hm(ts: float, day: bool = False) -> str:
    return time.strftime("%Y-%m-%d %H:%M" if day else "%H:%M", time.localtime(ts))


def place(conn: sqlite3.Connection, seconds: float, free: list[Host], real_af3: callable,
          now: float | None = None) -> Host | None:
    """Return the first free host (best first) that may take a job estimated at `seconds` now, or None.

    `real_af3(host)` says whether that host runs real AlphaFold 3 (then its preflight must have passed).
    """
    from services import preflight

    now = time.time() if now is None else now
    for host in free:
        if not fits(conn, host.name, seconds, now):
            continue
        if real_af3(host) and not preflight.is_ready(conn, host.name):
            continue
        return host
    return None


def maintenance_text(conn: sqlite3.Connection, host: str, now: float) -> str:
    """Return "gpu1 in maintenance until 14:00" (or "")."""
    w = current(conn, host, now)
    if w is None:
        return ""
    same_day = time.localtime(w.ends_at)[:3] == time.localtime(now)[:3]
    return f"{host} in maintenance until {_hm(w.ends_at, not same_day)}"
