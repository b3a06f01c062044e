"""Host back-off: workers stay off a host that could not be reached, for a time that doubles."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from enum import Enum

from services.platform import defaults
from services.platform.db import transaction

# -- unreachable hosts -------------------------------------------------------------------------

HOST_UNREACHABLE = "host unreachable"  # prefix of an attempt's outcome when its host could not be reached


@dataclass(frozen=True)
class HostBackoff:
    host: str
    failures: int  # consecutive failed connects
    until: float  # no claims onto the host before this (epoch seconds)
    reason: str


def mark_host_down(conn: sqlite3.Connection, host: str, reason: str, now: float | None = None) -> HostBackoff:
    """Keep workers off `host` for a backoff that doubles with each failure; return the new state.

    A failure reported while the host is already resting (another slot or worker claimed onto it
    just before) does not double the backoff again: it is the same outage.
    """
    now = time.time() if now is None else now
    with transaction(conn):
        row = conn.execute("SELECT failures, until FROM host_backoff WHERE host = ?", (host,)).fetchone()
        if row is not None and row[1] > now:
            conn.execute("UPDATE host_backoff SET reason = ?, updated_at = ? WHERE host = ?", (reason, now, host))
        else:
            failures = (row[0] if row else 0) + 1
            conn.execute("INSERT OR REPLACE INTO host_backoff (host, failures, until, reason, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", (host, failures, now + backoff_seconds(failures), reason, now))
            if failures == 1:  # the first failed connect of an outage is the news; later ones are the same outage
                host_event(conn, host, HostEvent.DOWN, reason, source="worker", at=now)
        return HostBackoff(host, *conn.execute("SELECT failures, until, reason FROM host_backoff WHERE host = ?",
                                               (host,)).fetchone())


def backoff_seconds(failures: int) -> float:
    """Return how long a host rests after its `failures`-th consecutive failed connect."""
    return min(defaults.HOST_BACKOFF_MAX_S, defaults.HOST_BACKOFF_MIN_S * 2 ** max(0, failures - 1))


def mark_host_up(conn: sqlite3.Connection, host: str) -> None:
    """Forget a host's failures once a worker connected to it (an outage that ends is an 'up' event)."""
    with transaction(conn):
        if conn.execute("DELETE FROM host_backoff WHERE host = ?", (host,)).rowcount:
            host_event(conn, host, HostEvent.UP, source="worker")


class HostEvent(str, Enum):
    DOWN = "down"
    UP = "up"


def host_event(conn: sqlite3.Connection, host: str, event: HostEvent, reason: str = "", *, source: str,
               at: float | None = None) -> None:
    """Record that `host` went down or came back, as `source` ("worker" or "metrics") saw it.

    The admins' toast comes from this row (migration 0022), not from the words of any log line: call it
    in the transaction that decides the host's state, once per transition.
    """
    conn.execute("INSERT INTO host_events (host, event, reason, source, at) VALUES (?, ?, ?, ?, ?)",
                 (host, HostEvent(event).value, reason, source, time.time() if at is None else at))


def host_backoffs(conn: sqlite3.Connection, now: float | None = None) -> dict[str, HostBackoff]:
    """Return host name -> backoff for the hosts workers stay off now (for pages and tests)."""
    now = time.time() if now is None else now
    return {r[0]: HostBackoff(*r) for r in conn.execute(
        "SELECT host, failures, until, reason FROM host_backoff WHERE until > ?", (now,))}
