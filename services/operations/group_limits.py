"""Limits that follow the institution's groups, applied at each sign-in through a provider: members of
FOLDDECK_SSO_APPROVAL_GROUP have every job wait for an admin (the same flag an admin sets on /admin/users,
services.operations.approvals). The groups are the ones the sign-in just read (services.people.signin)."""
from __future__ import annotations

import json
import logging
import sqlite3

from services.operations.approvals import set_needs_approval
from services.people.signin.admission import Identity, in_group

log = logging.getLogger("folddeck.signin")


def latest_groups(conn: sqlite3.Connection, user_id: int) -> frozenset[str] | None:
    """Return the groups the user's last provider sign-in read, or None for a local-only account."""
    row = conn.execute("SELECT provider, subject, groups FROM user_identities WHERE user_id = ? "
                       "ORDER BY checked_at DESC LIMIT 1", (user_id,)).fetchone()
    return frozenset(json.loads(row["groups"])) if row else None


def apply_group_limits(conn: sqlite3.Connection, user_id: int, approval_group: str) -> bool | None:
    """Set the user's needs-approval flag from the approval group; return it (None: nothing to apply)."""
    groups = latest_groups(conn, user_id)
    if not approval_group or groups is None:
        return None
    flag = in_group(Identity("", "", "", "", groups), approval_group)
    set_needs_approval(conn, user_id, flag)
    return flag
