"""Process heartbeats: each background process (worker, sampler, sender) beats while it runs, and
`health()` says which of them is alive — the one answer `/healthz`, `/metrics` and the admin page give.

A process that stops cleanly marks its row stopped; one that dies (SIGKILL, out of memory, a crash
before its handlers ran) simply stops beating and is reported dead `PROCESS_STALE_S` later.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from services.platform import db, defaults
from services.platform.processes import BACKGROUND


class Heartbeat:
    """A daemon thread that writes this process's heartbeat every `interval` seconds."""

    def __init__(self, db_path: Path, role: str, interval: float = defaults.PROCESS_BEAT_S):
        self.db_path, self.role, self.interval = db_path, role, interval
        self.started_at = time.time()
        self.id = f"{role}@{socket.gethostname()}:{os.getpid()}:{self.started_at:.3f}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        """Record this process as started and keep beating until `stop()`."""
        conn = db.connect(self.db_path)
        conn.execute("DELETE FROM process_heartbeats WHERE beat_at < ?",
                     (self.started_at - defaults.PROCESS_ROWS_KEEP_S,))
        conn.execute(
            "INSERT INTO process_heartbeats (id, role, hostname, pid, started_at, beat_at) VALUES (?, ?, ?, ?, ?, ?)",
            (self.id, self.role, socket.gethostname(), os.getpid(), self.started_at, self.started_at))
        self._thread = threading.Thread(target=self._run, name=f"{self.role}-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                db.connect(self.db_path).execute("UPDATE process_heartbeats SET beat_at = ? WHERE id = ?",
                                                 (time.time(), self.id))
            except sqlite3.Error:
                pass  # a busy or full database: the next beat tries again; a stale row is the honest answer

    def stop(self) -> None:
        """Stop beating and record a clean stop (a stopped process is not a dead one)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval)
        try:
            db.connect(self.db_path).execute("UPDATE process_heartbeats SET stopped_at = ? WHERE id = ?",
                                             (time.time(), self.id))
        except sqlite3.Error:
            pass


@dataclass(frozen=True)
class ProcessHealth:
    """What one background role looks like now."""

    role: str
    down_means: str  # what happens while it is down, for people
    alive: int  # processes of this role beating now
    age_s: float | None  # seconds since the newest beat of any process of this role; None: never started
    stopped: bool  # the newest process of this role stopped cleanly

    @property
    def ok(self) -> bool:
        return self.alive > 0

    @property
    def words(self) -> str:
        """Return one sentence for an operator."""
        if self.ok:
            return f"{self.role}: running ({self.alive}), last heartbeat {self.age_s:.0f} s ago"
        if self.age_s is None:
            return f"{self.role}: not running (never started): {self.down_means}"
        how = "stopped" if self.stopped else "no heartbeat for"
        return f"{self.role}: DOWN ({how} {self.age_s:.0f} s ago): {self.down_means}"


def health(conn: sqlite3.Connection, now: float | None = None,
           stale_s: float = defaults.PROCESS_STALE_S) -> list[ProcessHealth]:
    """Return the health of each background process, in the order of `processes.BACKGROUND`."""
    now = time.time() if now is None else now
    out = []
    for process in BACKGROUND:
        alive, newest = conn.execute(
            "SELECT SUM(stopped_at IS NULL AND beat_at >= ?), MAX(beat_at) FROM process_heartbeats WHERE role = ?",
            (now - stale_s, process.name)).fetchone()
        stopped = newest is not None and conn.execute(
            "SELECT stopped_at IS NOT NULL FROM process_heartbeats WHERE role = ? ORDER BY beat_at DESC LIMIT 1",
            (process.name,)).fetchone()[0] == 1
        out.append(ProcessHealth(process.name, process.down_means, int(alive or 0),
                                 None if newest is None else max(0.0, now - newest), bool(stopped)))
    return out
