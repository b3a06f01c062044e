"""A user's e-mail address and which job endings they want mail about."""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from services.platform.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


@dataclass(frozen=True)
class NotifyPrefs:
    email: str = ""
    on_succeeded: bool = True
    on_failed: bool = True
    on_cancelled: bool = True  # cancelled by someone else (an admin)


def get_prefs(conn: sqlite3.Connection, user_id: int) -> NotifyPrefs:
    """Return a user's notification choices (defaults: no address, every ending)."""
    row = conn.execute("SELECT email, on_succeeded, on_failed, on_cancelled FROM notify_prefs WHERE user_id = ?",
                       (user_id,)).fetchone()
    if row is None:
        return NotifyPrefs()
    return NotifyPrefs(row[0], bool(row[1]), bool(row[2]), bool(row[3]))


def check_email(email: str) -> str:
    """Return the address stripped, or "" for none.

    Raises:
        InvalidInput: not an address mail can go to.
    """
    email = (email or "").strip()
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        raise InvalidInput(f"{email!r} is not an e-mail address (like name@lab.example).")
    return email


def set_prefs(conn: sqlite3.Connection, user_id: int, prefs: NotifyPrefs) -> NotifyPrefs:
    """Store a user's notification choices.

    Raises:
        InvalidInput: the e-mail address is not valid.
    """
    email = check_email(prefs.email)
    conn.execute("INSERT INTO notify_prefs (user_id, email, on_succeeded, on_failed, on_cancelled) "
                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, "
                 "on_succeeded = excluded.on_succeeded, on_failed = excluded.on_failed, "
                 "on_cancelled = excluded.on_cancelled",
                 (user_id, email, int(prefs.on_succeeded), int(prefs.on_failed), int(prefs.on_cancelled)))
    return get_prefs(conn, user_id)
