"""The login form's username and password: the directory (LDAP) first where one is configured, then FoldDeck's
own accounts where they are on. Both pass the same throttle (users.check_door), so a directory is not a
faster way to guess. A directory that is down does not lock out the local admin: their password still works.
"""
from __future__ import annotations

import logging
import sqlite3
import time

from services.people import users
from services.people.signin import admission, directory
from services.people.signin.config import SignInConfig
from services.platform.errors import SignInUnavailable

log = logging.getLogger("folddeck.signin")


def sign_in(conn: sqlite3.Connection, cfg: SignInConfig, username: str, password: str, address: str,
            now: float | None = None) -> users.User | None:
    """Return the user these credentials sign in, or None (wrong, unknown, disabled).

    Raises:
        LoginThrottled: too many recent failures for this account or address.
        SignInRefused: the directory knows them but FoldDeck does not let them in (not in the group...).
        SignInUnavailable: the directory cannot be used, and no local account took the password instead.
    """
    now = time.time() if now is None else now
    if cfg.ldap is None:
        return users.authenticate(conn, username, password, address, now) if cfg.local_login else None
    name = (username or "").strip()
    door = users.check_door(conn, name, address, now)
    try:
        identity = directory.authenticate(cfg.ldap, name, password)
    except SignInUnavailable as exc:
        log.error("%s", exc.detail, extra={"source": "auth", "username": name, "address": address})
        if cfg.local_login and users.authenticate(conn, name, password, address, now) is not None:
            return users.get_by_name(conn, name)
        raise
    if identity is not None:
        users.forget_failures(conn, name, address)
        return admission.admit(conn, identity, cfg.policy, now)
    if cfg.local_login:
        return users.authenticate(conn, name, password, address, now)
    users.note_failure(conn, name, address, now, "wrong password or unknown user (LDAP)", door)
    return None
