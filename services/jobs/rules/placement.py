"""Where a claimed job may go (issue 18): maintenance windows and preflight, one rule for the claim and
for the sentence that says why a job waits.

A host takes no job whose time estimate (services.af3.size.gpu_seconds: tokens x seeds x samples, the
size badge's) says it would not finish before that host's next maintenance window; a host inside a
window takes nothing; running jobs are left alone. No real-AF3 job goes to a host whose last
preflight failed (services.hosts.preflight; the simulator needs none). Admins schedule the windows
(services.operations.maintenance); the queue only reads them.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from services.hosts import Host, preflight
from services.jobs.rules import wording
from services.platform.settings import Settings


@dataclass(frozen=True)
class Window:
    id: int
    host: str
    starts_at: float
    ends_at: float
    note: str
    created_by: str


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


def maintenance_text(conn: sqlite3.Connection, host: str, now: float) -> str:
    """Return "gpu1 in maintenance until 14:00" (or "")."""
    w = current(conn, host, now)
    return f"{host} in maintenance until {wording.clock(w.ends_at)}" if w else ""


def refusal(conn: sqlite3.Connection, settings: Settings, host: Host, seconds: float, now: float) -> str:
    """Return why `host` may not take a job estimated at `seconds` of GPU time now ("" when it may)."""
    text = maintenance_text(conn, host.name, now)
    if text:
        return text
    nxt = next_start(conn, host.name, now)
    if nxt is not None and now + seconds > nxt:
        return wording.maintenance_before_end(host.name, nxt)
    if preflight.runs_real_af3(settings, host) and not preflight.is_ready(conn, host.name):
        return wording.not_ready(host.name)
    return ""

