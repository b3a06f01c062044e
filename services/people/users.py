"""User accounts: create, authenticate (with throttling), change role/state/password.

Every function takes an open connection (`services.platform.db.connect(settings.db_path)`).
Passwords are stored as werkzeug hashes and never logged. CLI:

    python -m services.people.users add NAME [--admin] | passwd NAME | list | disable NAME | enable NAME
"""
from __future__ import annotations

import argparse
import getpass
import logging
import secrets
import sqlite3
import sys
import time
from dataclasses import dataclass
from enum import Enum

from werkzeug.security import check_password_hash, generate_password_hash

from services.platform import defaults
from services.platform.db import transaction
from services.platform.errors import LoginThrottled, UserError, UserNotFound

log = logging.getLogger("folddeck.users")
MIN_PASSWORD_LENGTH = 8
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
# Checked against when the username is unknown, so a miss costs as long as a hit (no user probing).
_DUMMY_HASH = generate_password_hash("folddeck-timing-equaliser")


class Role(str, Enum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    active: bool
    session_token: str
    created_at: float
    last_login_at: float | None
    accepted_terms_at: float | None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def _row_to_user(row: sqlite3.Row) -> User:
    return User(id=row["id"], username=row["username"], role=Role(row["role"]), active=bool(row["active"]),
                session_token=row["session_token"], created_at=row["created_at"],
                last_login_at=row["last_login_at"], accepted_terms_at=row["accepted_terms_at"])


def check_username(username: str) -> str:
    """Return the username stripped, or raise UserError saying what is wrong with it."""
    name = (username or "").strip()
    if not 1 <= len(name) <= 64:
        raise UserError("A username needs 1 to 64 characters.")
    bad = sorted(set(name) - _NAME_OK)
    if bad:
        raise UserError(f"A username may use letters, digits and . _ - @ only; found {''.join(bad)!r}.")
    return name


def check_password(password: str) -> None:
    """Raise UserError if the password is too weak to accept."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")


def create_user(conn: sqlite3.Connection, username: str, password: str, role: Role | str = Role.USER) -> User:
    """Create and return a user.

    Raises:
        UserError: bad name, weak password, or the name is taken.
    """
    name = check_username(username)
    check_password(password)
    try:
        cur = conn.execute(
            "INSERT INTO users (username, password_hash, role, active, session_token, created_at) "
            "VALUES (?, ?, ?, 1, ?, ?)",
            (name, generate_password_hash(password), Role(role).value, secrets.token_hex(16), time.time()))
    except sqlite3.IntegrityError:
        raise UserError(f"A user named {name!r} already exists.") from None
    return get_user(conn, cur.lastrowid)


def get_user(conn: sqlite3.Connection, user_id: int) -> User:
    """Return the user with this id, or raise UserNotFound."""
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise UserNotFound(f"No user with id {user_id}.")
    return _row_to_user(row)


def get_by_name(conn: sqlite3.Connection, username: str) -> User:
    """Return the user with this name (case-insensitive), or raise UserNotFound."""
    row = conn.execute("SELECT * FROM users WHERE username = ?", ((username or "").strip(),)).fetchone()
    if row is None:
        raise UserNotFound(f"No user named {username!r}.")
    return _row_to_user(row)


def list_users(conn: sqlite3.Connection) -> list[User]:
    """Return all users, by name."""
    return [_row_to_user(r) for r in conn.execute("SELECT * FROM users ORDER BY username COLLATE NOCASE")]


def count_users(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def set_password(conn: sqlite3.Connection, user_id: int, password: str) -> None:
    """Set a new password, end every session of the user and revoke their API tokens.

    Every way a password changes (own change, an admin's reset, the CLI) comes here: a password
    changed because it leaked must not leave a session or a script's token open to whoever has it.
    """
    check_password(password)
    password_hash = generate_password_hash(password)
    with transaction(conn):
        get_user(conn, user_id)
        conn.execute("UPDATE users SET password_hash = ?, session_token = ? WHERE id = ?",
                     (password_hash, secrets.token_hex(16), user_id))
        _end_access(conn, user_id)


def _end_access(conn: sqlite3.Connection, user_id: int) -> None:
    """End every session of the user and revoke every API token of theirs (inside the caller's transaction)."""
    conn.execute("DELETE FROM user_sessions WHERE user_id = ?", (user_id,))
    # api_tokens is the owner of tokens, but it imports this module; the one UPDATE lives here.
    conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                 (time.time(), user_id))


def _other_active_admins(conn: sqlite3.Connection, user_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?",
                        (user_id,)).fetchone()[0]


def set_active(conn: sqlite3.Connection, user_id: int, active: bool) -> User:
    """Enable or disable a user; disabling ends their sessions and revokes their API tokens at once
    (enabling again gives neither back: the user logs in and makes new tokens).

    Raises:
        UserError: it would disable the last active admin.
    """
    with transaction(conn):
        user = get_user(conn, user_id)
        if not active and user.is_admin and user.active and _other_active_admins(conn, user_id) == 0:
            raise UserError(f"{user.username} is the last active admin and cannot be disabled.")
        conn.execute("UPDATE users SET active = ?, session_token = ? WHERE id = ?",
                     (int(active), secrets.token_hex(16) if not active else user.session_token, user_id))
        if not active:
            _end_access(conn, user_id)
    return get_user(conn, user_id)


def set_role(conn: sqlite3.Connection, user_id: int, role: Role | str) -> User:
    """Change a user's role.

    Raises:
        UserError: it would demote the last active admin.
    """
    role = Role(role)
    with transaction(conn):
        user = get_user(conn, user_id)
        if role is Role.USER and user.is_admin and user.active and _other_active_admins(conn, user_id) == 0:
            raise UserError(f"{user.username} is the last active admin and cannot be demoted.")
        conn.execute("UPDATE users SET role = ? WHERE id = ?", (role.value, user_id))
    return get_user(conn, user_id)


def accept_terms(conn: sqlite3.Connection, user_id: int) -> None:
    """Record that the user accepted the AlphaFold 3 model-parameter terms."""
    conn.execute("UPDATE users SET accepted_terms_at = ? WHERE id = ? AND accepted_terms_at IS NULL",
                 (time.time(), user_id))


def start_session(conn: sqlite3.Connection, user_id: int, address: str, max_age_s: float) -> str:
    """Record a new login session of the user; return its id (it goes into the signed cookie).

    The user's sessions older than `max_age_s` (the cookie lifetime: their cookies no longer
    verify) are dropped here, so the table holds only sessions that could still be used.
    """
    now = time.time()
    session_id = secrets.token_urlsafe(24)
    with transaction(conn):
        conn.execute("DELETE FROM user_sessions WHERE user_id = ? AND created_at < ?", (user_id, now - max_age_s))
        conn.execute("INSERT INTO user_sessions (id, user_id, created_at, address) VALUES (?, ?, ?, ?)",
                     (session_id, user_id, now, address or ""))
    return session_id


def end_session(conn: sqlite3.Connection, session_id: str) -> None:
    """End one session (logout): its cookie, even copied elsewhere, no longer logs anyone in."""
    conn.execute("DELETE FROM user_sessions WHERE id = ?", (session_id,))


def session_user(conn: sqlite3.Connection, user_id: int, session_token: str, session_id: str) -> User | None:
    """Return the user of a live session, or None (no such session, token rotated, account disabled).

    One indexed read: every request and poll of a logged-in browser asks this.
    """
    row = conn.execute("SELECT u.* FROM user_sessions s JOIN users u ON u.id = s.user_id "
                       "WHERE s.id = ? AND u.id = ? AND u.session_token = ? AND u.active = 1",
                       (session_id, user_id, session_token)).fetchone()
    return _row_to_user(row) if row else None


def _recent_failures(conn: sqlite3.Connection, where: str, args: tuple, since: float) -> list[float]:
    """Return the times of the failed logins matching `where` after `since`, oldest first."""
    return [r[0] for r in conn.execute(f"SELECT at FROM login_failures WHERE {where} AND at > ? ORDER BY at",
                                       (*args, since))]


def _throttled(times: list[float], limit: int, window: float, now: float, why: str) -> LoginThrottled:
    """Return the error for a door closed by `times` (at least `limit` failures inside `window`)."""
    wait = max(1, int(times[-limit] + window - now) + 1)
    return LoginThrottled(f"Too many failed logins {why}. Please wait {wait} seconds and try again.", wait)


def check_door(conn: sqlite3.Connection, username: str, address: str, now: float) -> tuple[list[float], bool]:
    """Raise LoginThrottled if this account may not try again from this address yet; else return the
    address's recent failures and whether they reached the per-address ceiling (for `note_failure`).

    Failures are counted per (account, address): someone guessing from one address closes the
    door only for that account from that address, never for the admin at their own desk or for
    colleagues behind the same proxy. A slower ceiling per address (all accounts) stops spraying:
    once reached, an account that already failed from there must wait, and a wrong password is
    answered with the wait; a correct one for an account that has not failed from there still
    gets in. Every way to sign in with a password (local accounts, LDAP) passes this door.
    """
    name = (username or "").strip()
    pair = _recent_failures(conn, "username = ? AND address = ?", (name, address),
                            now - defaults.LOGIN_FAILURE_WINDOW_S)
    if len(pair) >= defaults.LOGIN_MAX_FAILURES:
        raise _throttled(pair, defaults.LOGIN_MAX_FAILURES, defaults.LOGIN_FAILURE_WINDOW_S, now,
                         "for this account from your address")
    spread = _recent_failures(conn, "address = ?", (address,), now - defaults.LOGIN_ADDRESS_WINDOW_S)
    ceiling = len(spread) >= defaults.LOGIN_ADDRESS_MAX_FAILURES
    if ceiling and pair:
        raise _throttled(spread, defaults.LOGIN_ADDRESS_MAX_FAILURES, defaults.LOGIN_ADDRESS_WINDOW_S, now,
                         "from your address")
    return spread, ceiling


def note_failure(conn: sqlite3.Connection, username: str, address: str, now: float, reason: str,
                 door: tuple[list[float], bool]) -> None:
    """Count a failed login and log it; raise LoginThrottled if the address has reached its ceiling."""
    name = (username or "").strip()
    conn.execute("INSERT INTO login_failures (username, address, at) VALUES (?, ?, ?)", (name, address, now))
    conn.execute("DELETE FROM login_failures WHERE at < ?", (now - 24 * 3600,))
    log.warning("login failed for %s from %s: %s", name, address, reason,
                extra={"source": "auth", "username": name, "address": address})
    spread, ceiling = door
    if ceiling:
        raise _throttled(spread, defaults.LOGIN_ADDRESS_MAX_FAILURES, defaults.LOGIN_ADDRESS_WINDOW_S, now,
                         "from your address")


def forget_failures(conn: sqlite3.Connection, username: str, address: str) -> None:
    """Clear the account's failed logins from this address (it just signed in there)."""
    conn.execute("DELETE FROM login_failures WHERE username = ? AND address = ?", ((username or "").strip(), address))


def authenticate(conn: sqlite3.Connection, username: str, password: str, address: str,
                 now: float | None = None) -> User | None:
    """Return the user if the credentials are right and the account active, else None (throttled: check_door).

    Raises:
        LoginThrottled: too many recent failures for this account from this address, or from this address.
    """
    now = time.time() if now is None else now
    name = (username or "").strip()
    door = check_door(conn, name, address, now)
    row = conn.execute("SELECT * FROM users WHERE username = ?", (name,)).fetchone()
    ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password or "")
    if not (row and ok and row["active"]):
        reason = "unknown user" if row is None else ("account disabled" if ok else "wrong password")
        note_failure(conn, name, address, now, reason, door)
        return None
    conn.execute("UPDATE users SET last_login_at = ? WHERE id = ?", (now, row["id"]))
    forget_failures(conn, name, address)
    log.info("login succeeded for %s from %s", name, address,
             extra={"source": "auth", "username": name, "address": address})
    return get_user(conn, row["id"])


def ensure_admin(conn: sqlite3.Connection) -> str | None:
    """Create the first `admin` account when there are no users; return its password (else None)."""
    if count_users(conn):
        return None
    password = secrets.token_urlsafe(defaults.ADMIN_PASSWORD_BYTES)
    create_user(conn, "admin", password, Role.ADMIN)
    return password


def first_admin_banner(password: str) -> str:
    """Return the lines that show the first admin's password, the one time it is shown."""
    rule = "=" * 64
    return "\n".join([rule, "  First start: created the admin account.", "    username: admin",
                      f"    password: {password}",
                      "  It is shown only this once; change it with "
                      "`python -m services.people.users passwd admin`.", rule])


# -- CLI --------------------------------------------------------------------------------------------


def _ask_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat it: "):
        raise UserError("The two passwords differ.")
    return first


def main(argv: list[str] | None = None) -> int:
    from services.platform import boot
    from services.platform.db import connect
    from services.platform.errors import SettingsError

    parser = argparse.ArgumentParser(prog="python -m services.people.users", description="Manage FoldDeck users.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="create a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="give the admin role")
    pw = sub.add_parser("passwd", help="set a user's password")
    pw.add_argument("name")
    for p in (add, pw):
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("list", help="list users")
    for verb in ("disable", "enable"):
        sub.add_parser(verb, help=f"{verb} a user").add_argument("name")
    args = parser.parse_args(argv)

    try:
        settings = boot.boot("users")
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    conn = connect(settings.db_path)
    try:
        if args.cmd == "add":
            user = create_user(conn, args.name, _ask_password(args), Role.ADMIN if args.admin else Role.USER)
            print(f"created {user.username} ({user.role.value})")
        elif args.cmd == "passwd":
            user = get_by_name(conn, args.name)
            set_password(conn, user.id, _ask_password(args))
            print(f"password changed for {user.username}")
        elif args.cmd == "list":
            print(f"{'USERNAME':<24} {'ROLE':<6} {'STATE':<9} LAST LOGIN")
            for u in list_users(conn):
                last = time.strftime("%Y-%m-%d %H:%M", time.localtime(u.last_login_at)) if u.last_login_at else "never"
                print(f"{u.username:<24} {u.role.value:<6} {'active' if u.active else 'disabled':<9} {last}")
        else:
            user = set_active(conn, get_by_name(conn, args.name).id, args.cmd == "enable")
            print(f"{user.username} is now {'active' if user.active else 'disabled'}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
