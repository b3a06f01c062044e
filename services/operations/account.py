"""What the profile page shows and changes about its own user: limits, usage, password."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from services import jobs
from services.people import users
from services.platform.errors import InvalidInput


@dataclass(frozen=True)
class Usage:
    running: int
    queued: int
    submitted_today: int  # since local midnight
    max_running: int | None  # None: unlimited
    max_queued: int | None
    max_tokens: int | None


def usage(conn: sqlite3.Connection, user_id: int, now: float | None = None) -> Usage:
    """Return the user's running / queued / submitted-today counts and the limits that apply to them."""
    now = time.time() if now is None else now
    lt = time.localtime(now)
    midnight = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))
    running, queued = conn.execute(
        "SELECT COALESCE(SUM(state = 'running'), 0), COALESCE(SUM(state = 'queued'), 0) FROM jobs "
        "WHERE owner_id = ? AND state IN ('running', 'queued')", (user_id,)).fetchone()
    today = conn.execute("SELECT COUNT(*) FROM jobs WHERE owner_id = ? AND submitted_at >= ?",
                         (user_id, midnight)).fetchone()[0]
    own = jobs.get_limits(conn, user_id)
    effective = getattr(jobs, "effective_limits", None)  # defaults for everyone, where the limits change has them
    if effective is not None:
        applied = effective(conn, user_id)
        return Usage(running, queued, today, own.max_running, applied.queued_per_user, applied.tokens_per_job)
    return Usage(running, queued, today, own.max_running, own.max_queued, own.max_tokens)


def change_password(conn: sqlite3.Connection, user: users.User, current: str, new: str, repeat: str,
                    address: str) -> users.User:
    """Change the user's own password after checking the current one; return the account (new session token).

    Wrong current passwords count as failed logins (the same throttle), so this form cannot be
    used to guess. Every other session of the user ends.

    Raises:
        InvalidInput: the current password is wrong, the two new ones differ, or the new one is too short.
        LoginThrottled: too many wrong passwords recently.
    """
    if new != repeat:
        raise InvalidInput("The two new passwords differ; type the same one twice.")
    if users.authenticate(conn, user.username, current, address) is None:
        raise InvalidInput("The current password is wrong.")
    try:
        users.set_password(conn, user.id, new)
    except users.UserError as exc:
        raise InvalidInput(str(exc)) from None
    return users.get_user(conn, user.id)
