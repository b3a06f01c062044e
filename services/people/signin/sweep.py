"""Between sign-ins: lock out the people the directory no longer lets in, without waiting for their next
sign-in (their API tokens would keep working until then). Reads each LDAP-linked, active account's groups
with the service account; someone gone from the directory or out of the sign-in group is disabled as a
sign-in would do it (sessions end, tokens revoked). Run it from cron or a systemd timer:

    python -m services.people.signin.sweep
"""
from __future__ import annotations

import json
import logging
import sqlite3
import sys
import time

from services.people import users
from services.people.signin import directory
from services.people.signin.admission import Identity, in_group
from services.people.signin.config import SignInConfig
from services.platform.errors import UserError

log = logging.getLogger("folddeck.signin")


def _lock_out(conn: sqlite3.Connection, user: users.User, subject: str, why: str) -> bool:
    try:
        users.set_active(conn, user.id, False)
    except UserError as exc:  # the last active admin stays, as at a sign-in
        log.error("%s %s but stays enabled: %s", user.username, why, exc, extra={"source": "auth"})
        return False
    conn.execute("UPDATE user_identities SET disabled_by_provider = 1, checked_at = ? "
                 "WHERE provider = ? AND subject = ?", (time.time(), directory.PROVIDER, subject))
    log.warning("%s %s: account disabled, sessions ended, API tokens revoked", user.username, why,
                extra={"source": "auth", "username": user.username})
    return True


def sweep_ldap(conn: sqlite3.Connection, cfg: SignInConfig) -> list[str]:
    """Disable the LDAP-linked active accounts the directory no longer lets in; return their usernames.

    Raises:
        SignInUnavailable: no service account, or the directory cannot be used (nobody is changed then).
    """
    if cfg.ldap is None:
        return []
    rows = conn.execute("SELECT i.subject, i.user_id FROM user_identities i JOIN users u ON u.id = i.user_id "
                        "WHERE i.provider = ? AND u.active = 1", (directory.PROVIDER,)).fetchall()
    locked = []
    for row in rows:
        user = users.get_user(conn, row["user_id"])
        groups = directory.current_groups(cfg.ldap, row["subject"], user.username)
        if groups is None:
            why = "is gone from the directory"
        elif cfg.policy.login_group and not in_group(Identity("", "", "", "", groups), cfg.policy.login_group):
            why = f"is no longer in group {cfg.policy.login_group}"
        else:
            conn.execute("UPDATE user_identities SET groups = ?, checked_at = ? WHERE provider = ? AND subject = ?",
                         (json.dumps(sorted(groups)), time.time(), directory.PROVIDER, row["subject"]))
            continue
        if _lock_out(conn, user, row["subject"], why):
            locked.append(user.username)
    return locked


def main() -> int:
    from services.people.signin.config import signin_config
    from services.platform.db import connect, migrate
    from services.platform.errors import FoldDeckError
    from services.platform.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        settings = load_settings()
        migrate(settings.db_path)
        locked = sweep_ldap(connect(settings.db_path), signin_config(settings))
    except FoldDeckError as exc:
        print(f"error: {getattr(exc, 'detail', '') or exc}", file=sys.stderr)
        return 1
    print(f"locked out: {', '.join(locked)}" if locked else "nobody to lock out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
