"""The outbox: messages a finished job left for the sender, claimed with a lease, sent once.

Rows are written by the `jobs_finished_notify` trigger. A sender claims due rows (a lease, so two
senders never send the same row), delivers, then marks each sent or schedules a retry with a
doubling backoff; after a day it gives up and says so in the application log.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from services.platform import defaults
from services.platform.db import transaction

log = logging.getLogger("folddeck.notify")


@dataclass(frozen=True)
class Message:
    id: int
    kind: str  # email, webhook
    user_id: int | None
    job_id: int | None
    event: str  # succeeded, failed, cancelled
    target: str  # address or webhook id
    payload: dict  # the job as it finished
    created_at: float
    attempts: int
    delivery_id: str = ""  # random, set at the first claim: the same on every retry, so a receiver drops replays
    receiver: str = ""  # who answers it: "email" (the one SMTP server) or "webhook:<id>"


# One delivery in flight per receiver: a slow one then holds one sender worker, and the rest go on.
_RECEIVER = "CASE kind WHEN 'email' THEN 'email' ELSE 'webhook:' || target END"


def claim_due(conn: sqlite3.Connection, sender_id: str, now: float | None = None,
              limit: int = defaults.OUTBOX_BATCH, claim_s: float = defaults.OUTBOX_CLAIM_S,
              kinds: tuple[str, ...] = ("email", "webhook"), busy: Iterable[str] = ()) -> list[Message]:
    """Lease due, unsent messages of `kinds` to `sender_id` and return them, oldest first: at most `limit`, the
    oldest one per receiver, none for a receiver in `busy` (this sender is still delivering to it)."""
    now = time.time() if now is None else now
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, kind, user_id, job_id, event, target, payload, created_at, attempts, delivery_id, receiver "
            f"FROM (SELECT *, {_RECEIVER} AS receiver, ROW_NUMBER() OVER (PARTITION BY {_RECEIVER} "
            "ORDER BY next_at, id) AS nth FROM outbox "
            "WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_at <= ? "
            "AND (claim_until IS NULL OR claim_until < ?) AND kind IN (SELECT value FROM json_each(?))) "
            "WHERE nth = 1 AND receiver NOT IN (SELECT value FROM json_each(?)) ORDER BY next_at, id LIMIT ?",
            (now, now, json.dumps(kinds), json.dumps(sorted(busy)), limit)).fetchall()
        messages = [Message(*r[:6], json.loads(r[6]), r[7], r[8], r[9] or uuid.uuid4().hex, r[10]) for r in rows]
        conn.executemany("UPDATE outbox SET claimed_by = ?, claim_until = ?, delivery_id = ? WHERE id = ?",
                         [(sender_id, now + claim_s, m.delivery_id, m.id) for m in messages])
    return messages


def mark_sent(conn: sqlite3.Connection, message: Message, sender_id: str) -> bool:
    """Record that the message was delivered; False if this sender had lost its claim."""
    cur = conn.execute("UPDATE outbox SET sent_at = ?, attempts = attempts + 1, claimed_by = NULL, "
                       "claim_until = NULL, last_error = NULL WHERE id = ? AND claimed_by = ? AND sent_at IS NULL",
                       (time.time(), message.id, sender_id))
    return bool(cur.rowcount)


def backoff(attempts: int, base: float = defaults.OUTBOX_BACKOFF_MIN_S) -> float:
    """Return the wait before try number `attempts + 1`: doubling from `base` up to the cap."""
    return min(defaults.OUTBOX_BACKOFF_MAX_S, base * 2 ** max(0, attempts - 1))


def mark_failed(conn: sqlite3.Connection, message: Message, sender_id: str, error: str, *,
                now: float | None = None, base: float = defaults.OUTBOX_BACKOFF_MIN_S,
                give_up_s: float = defaults.OUTBOX_GIVE_UP_S, permanent: bool = False) -> bool:
    """Schedule a retry after a failed delivery, or give up (a day old, or `permanent`); True if given up."""
    now = time.time() if now is None else now
    attempts = message.attempts + 1
    give_up = permanent or now - message.created_at >= give_up_s
    conn.execute("UPDATE outbox SET attempts = ?, last_error = ?, next_at = ?, gave_up_at = ?, claimed_by = NULL, "
                 "claim_until = NULL WHERE id = ? AND claimed_by = ?",
                 (attempts, error[:1000], now + backoff(attempts, base), now if give_up else None, message.id,
                  sender_id))
    if give_up:
        why = "it cannot be delivered" if permanent else f"it could not be delivered for {give_up_s / 3600:g} h"
        log.error("gave up the %s about job %s to %s after %s tries: %s (%s)", message.kind, message.job_id,
                  _describe_target(message), attempts, why, error,
                  extra={"source": "notify", "username": message.payload.get("owner"), "job_id": message.job_id})
    return give_up


def _describe_target(message: Message) -> str:
    return message.target if message.kind == "email" else f"webhook {message.target}"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    job_id: int | None
    event: str
    target: str
    created_at: float
    attempts: int
    sent_at: float | None
    gave_up_at: float | None
    last_error: str | None


def recent(conn: sqlite3.Connection, user_id: int, limit: int = 20) -> list[OutboxRow]:
    """Return the user's latest outbox messages (the account page shows what was sent)."""
    return [OutboxRow(*r) for r in conn.execute(
        "SELECT id, kind, job_id, event, target, created_at, attempts, sent_at, gave_up_at, last_error FROM outbox "
        "WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))]


def prune(conn: sqlite3.Connection, now: float | None = None, days: int = defaults.NOTIFY_RETENTION_DAYS) -> None:
    """Delete sent / abandoned messages and toasts older than the retention."""
    cutoff = (time.time() if now is None else now) - days * 86_400
    conn.execute("DELETE FROM outbox WHERE created_at < ? AND (sent_at IS NOT NULL OR gave_up_at IS NOT NULL)",
                 (cutoff,))
    conn.execute("DELETE FROM notifications WHERE at < ?", (cutoff,))
