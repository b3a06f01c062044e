"""Token-bucket rate limits kept in SQLite, so every gunicorn worker and process shares them.

One UPSERT per check: the bucket refills at `per_minute / 60` tokens a second up to `burst`, and
a request takes one token if there is one. The statement is atomic on its own (no transaction).
"""
from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass

from services.platform.errors import FoldDeckError


class RateLimited(FoldDeckError):
    """Too many requests; `retry_after` whole seconds until the next one is allowed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    per_minute: float  # sustained rate; 0 turns the limit off
    burst: int  # requests allowed at once after a quiet spell


_TAKE = """
INSERT INTO rate_buckets (key, tokens, at, granted) VALUES (:key, :burst - 1, :now, 1)
ON CONFLICT (key) DO UPDATE SET
    granted = MIN(:burst, tokens + (:now - at) * :rate) >= 1,
    tokens = MIN(:burst, tokens + (:now - at) * :rate) - (MIN(:burst, tokens + (:now - at) * :rate) >= 1),
    at = :now
RETURNING granted, tokens
"""


def take(conn: sqlite3.Connection, key: str, limit: Limit, now: float | None = None) -> float:
    """Take one request from the bucket `key`; return 0.0, or the seconds to wait when it is empty."""
    if limit.per_minute <= 0:
        return 0.0
    rate = limit.per_minute / 60.0
    now = time.time() if now is None else now
    granted, tokens = conn.execute(_TAKE, {"key": key, "burst": max(1, limit.burst), "now": now,
                                           "rate": rate}).fetchone()
    return 0.0 if granted else (1.0 - tokens) / rate


def check(conn: sqlite3.Connection, key: str, limit: Limit, what: str, now: float | None = None) -> None:
    """Take one request from `key`.

    Raises:
        RateLimited: the bucket is empty; the message says `what` was refused and when to retry.
    """
    wait = take(conn, key, limit, now)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(f"Too many {what}: the limit is {limit.per_minute:g} a minute. "
                          f"Try again in {seconds} s.", seconds)
