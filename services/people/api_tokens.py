"""Per-user API tokens: named, shown once, stored as a SHA-256 hash, read-only or read-write, revocable,
expiring after 30, 90 or 365 days (or never, when chosen). A password change or reset and disabling
the account revoke all of a user's tokens (services.people.users).

A token is `fdk_` + 43 URL-safe characters (256 random bits). Random secrets that long need no
slow password hash: SHA-256 makes the stored value useless to a database thief, and lookup by
hash stays one indexed read per API request.
"""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum

from services.people import users
from services.platform.errors import InvalidInput, TokenExpired, UserNotFound

TOKEN_PREFIX = "fdk_"
NAME_MAX = 60
MAX_TOKENS_PER_USER = 50  # more is a leak waiting to happen, not a workflow
EXPIRY_DAYS = (30, 90, 365, None)  # the lifetimes offered; None: never (a forgotten token stays open)
DEFAULT_EXPIRY_DAYS = 90  # long enough for a project's scripts, short enough that a lost token dies
DAY_S = 86400


class Scope(str, Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    scope: Scope
    created_at: float
    last_used_at: float | None
    revoked_at: float | None
    expires_at: float | None = None  # None: never

    @property
    def can_write(self) -> bool:
        return self.scope is Scope.WRITE

    def expired(self, now: float | None = None) -> bool:
        """True if the token is past its expiry date."""
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(row: sqlite3.Row) -> ApiToken:
    return ApiToken(row["id"], row["user_id"], row["name"], row["prefix"], Scope(row["scope"]), row["created_at"],
                    row["last_used_at"], row["revoked_at"], row["expires_at"])


def create_token(conn: sqlite3.Connection, user_id: int, name: str, scope: Scope | str,
                 expires_days: int | None = DEFAULT_EXPIRY_DAYS) -> tuple[ApiToken, str]:
    """Create a token for a user; return it and its secret (the only time the secret exists in clear).

    Args:
        expires_days: one of EXPIRY_DAYS; None makes a token that never expires.

    Raises:
        InvalidInput: empty or over-long name, unknown scope or lifetime, or too many tokens.
    """
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"Give the token a name of 1 to {NAME_MAX} characters (e.g. the script that uses it).")
    try:
        scope = Scope(scope)
    except ValueError:
        raise InvalidInput("A token is either read (look only) or write (also submit, cancel, retry).") from None
    if expires_days not in EXPIRY_DAYS:
        raise InvalidInput("A token lasts " + ", ".join(f"{d} days" for d in EXPIRY_DAYS if d) + " or never expires.")
    now = time.time()
    active = conn.execute("SELECT COUNT(*) FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL "
                          "AND (expires_at IS NULL OR expires_at > ?)", (user_id, now)).fetchone()[0]
    if active >= MAX_TOKENS_PER_USER:
        raise InvalidInput(f"You already have {active} tokens; revoke some before creating more.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = None if expires_days is None else now + expires_days * DAY_S
    token_id = conn.execute("INSERT INTO api_tokens (user_id, name, prefix, token_hash, scope, created_at, "
                            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (user_id, name, secret[:8], _hash(secret), scope.value, now, expires_at)).lastrowid
    return get_token(conn, user_id, token_id), secret


def get_token(conn: sqlite3.Connection, user_id: int, token_id: int) -> ApiToken:
    """Return one of the user's tokens.

    Raises:
        InvalidInput: no such token for this user.
    """
    row = conn.execute("SELECT * FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id)).fetchone()
    if row is None:
        raise InvalidInput(f"Token {token_id} was not found.")
    return _row(row)


def list_tokens(conn: sqlite3.Connection, user_id: int) -> list[ApiToken]:
    """Return the user's tokens that are not revoked (expired ones too, to show), newest first."""
    return [_row(r) for r in conn.execute("SELECT * FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL "
                                          "ORDER BY created_at DESC, id DESC", (user_id,))]


def revoke_token(conn: sqlite3.Connection, user_id: int, token_id: int) -> None:
    """Revoke one of the user's tokens at once (the next request with it gets 401).

    Raises:
        InvalidInput: no such token for this user.
    """
    cur = conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                       (time.time(), token_id, user_id))
    if not cur.rowcount:
        raise InvalidInput(f"Token {token_id} was not found.")


def authenticate(conn: sqlite3.Connection, secret: str) -> tuple[users.User, ApiToken] | None:
    """Return the active user and token a secret belongs to, or None (unknown, revoked, disabled user).

    Raises:
        TokenExpired: the token is right but past its expiry date (checked after the account, so a
            disabled user's token says nothing more than a wrong one).
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = conn.execute("SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                       (_hash(secret),)).fetchone()
    if row is None:
        return None
    token = _row(row)
    try:
        user = users.get_user(conn, token.user_id)
    except UserNotFound:
        return None
    if not user.active:
        return None
    now = time.time()
    if token.expired(now):
        day = time.strftime("%Y-%m-%d", time.localtime(token.expires_at))
        raise TokenExpired(f"token expired: the API token {token.name!r} expired on {day}; "
                           "create a new one on your account page.")
    if token.last_used_at is None or now - token.last_used_at > 60:  # at most one write a minute per token
        _touch(conn, token.id, now)
    return user, token


def _touch(conn: sqlite3.Connection, token_id: int, now: float) -> None:
    """Record the token's use; on a full disk skip it, so scripts can still read while writes fail."""
    try:
        conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
            raise
