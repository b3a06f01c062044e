"""Limits that follow the institution's groups, applied at each sign-in through a provider: members of
FOLDDECK_SSO_APPROVAL_GROUP have every job wait for an admin (the same flag an admin sets on /admin/users,
services.operations.approvals), and FOLDDECK_SSO_QUOTA_GROUPS gives members of each group its disk quota.
The groups are the ones the sign-in just read (services.people.signin)."""
from __future__ import annotations

import json
import logging
import sqlite3

from services.jobs.rules.quota import own_quota_mb, store_quota_mb
from services.operations.approvals import set_needs_approval
from services.people.signin.admission import Identity, in_group

log = logging.getLogger("folddeck.signin")


def latest_groups(conn: sqlite3.Connection, user_id: int) -> frozenset[str] | None:
    """Return the groups the user's last provider sign-in read, or None for a local-only account."""
    row = conn.execute("SELECT provider, subject, groups FROM user_identities WHERE user_id = ? "
                       "ORDER BY checked_at DESC LIMIT 1", (user_id,)).fetchone()
    return frozenset(json.loads(row["groups"])) if row else None


def group_quota_mb(groups: frozenset[str], quota_groups: tuple[tuple[str, int], ...]) -> int | None:
    """Return the quota the groups give: the most generous of the matching groups (0, none, beats any
    number), or None (the default) when no group matches."""
    person = Identity("", "", "", "", groups)
    found = [mb for group, mb in quota_groups if in_group(person, group)]
    if not found:
        return None
    return 0 if 0 in found else max(found)


def apply_group_limits(conn: sqlite3.Connection, user_id: int, approval_group: str,
                       quota_groups: tuple[tuple[str, int], ...] = ()) -> bool | None:
    """Set the user's needs-approval flag and quota from their groups; return the flag (None: not applied)."""
    groups = latest_groups(conn, user_id)
    if groups is None:
        return None
    if quota_groups:  # the groups decide the quota at every sign-in, as they decide the role
        mb = group_quota_mb(groups, quota_groups)
        if own_quota_mb(conn, user_id) != mb:
            store_quota_mb(conn, user_id, mb)
            log.info("disk quota of user %s set to %s by their groups", user_id,
                     "the default" if mb is None else "none" if mb == 0 else f"{mb} MB", extra={"source": "auth"})
    if not approval_group:
        return None
    flag = in_group(Identity("", "", "", "", groups), approval_group)
    set_needs_approval(conn, user_id, flag)
    return flag
