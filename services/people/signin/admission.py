"""What a sign-in through the institution lets a person do, decided at every sign-in.

`admit()` takes who the provider says signed in and the policy (sign-in group, admin group, whether accounts
are made on first sign-in) and returns the FoldDeck user, or refuses. Someone who left the sign-in group is
disabled there and then, which ends their sessions and revokes their API tokens (users.set_active); back in
the group, their next sign-in enables them again, unless an admin disabled them. The admin group decides the
role each time. A person is found by their provider identity once linked, else by username (the chosen claim).
"""
from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass

from services.people import users
from services.people.signin.config import Policy
from services.platform.errors import SignInRefused, UserError

log = logging.getLogger("folddeck.signin")


@dataclass(frozen=True)
class Identity:
    """A person as the provider vouches for them."""

    provider: str  # "oidc" or "ldap"
    subject: str  # stable at the provider: the OIDC sub, the LDAP DN
    username: str
    email: str
    groups: frozenset[str]


def in_group(identity: Identity, group: str) -> bool:
    """True if the identity is in `group`, named as a plain name, a Keycloak path (/lab/admins) or an LDAP DN."""
    want = group.strip().lower()
    return any(want in _names(g) for g in identity.groups)


def _names(group: str) -> set[str]:
    """Return every way to name a group: as given, its last path part (Keycloak), its first RDN's value (LDAP)."""
    g = group.strip().lower()
    names = {g, g.rstrip("/").rsplit("/", 1)[-1]}
    first = g.split(",", 1)[0]
    if "=" in first:
        names.add(first.split("=", 1)[1].strip())
    return names


def _link_of(conn: sqlite3.Connection, identity: Identity) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM user_identities WHERE provider = ? AND subject = ?",
                        (identity.provider, identity.subject)).fetchone()


def _find(conn: sqlite3.Connection, identity: Identity) -> tuple[users.User | None, sqlite3.Row | None]:
    """Return (the FoldDeck user of this identity or of its username, the identity's link row)."""
    link = _link_of(conn, identity)
    if link is not None:
        return users.get_user(conn, link["user_id"]), link
    try:
        user = users.get_by_name(conn, identity.username)
    except users.UserNotFound:
        return None, None
    other = conn.execute("SELECT subject FROM user_identities WHERE provider = ? AND user_id = ?",
                         (identity.provider, user.id)).fetchone()
    if other is not None:  # the name was reused at the provider: a new person must not inherit the jobs
        log.warning("sign-in refused: %s account %s is linked to %s, not to %s", identity.provider, user.username,
                    other["subject"], identity.subject, extra={"source": "auth", "username": user.username})
        raise SignInRefused(f"The FoldDeck account {user.username!r} belongs to another person at your "
                            "institution. Ask an administrator.")
    if user.role is users.Role.ADMIN:  # a local admin (the first one: the way in when the provider fails) is
        # never handed to whoever the provider names so: as the last admin it would even keep its role
        log.warning("sign-in refused: %s %s would take the local admin account %s; rename one of them",
                    identity.provider, identity.subject, user.username,
                    extra={"source": "auth", "username": user.username})
        raise SignInRefused(f"The FoldDeck account {user.username!r} is a local administrator account and is not "
                            "opened by a sign-in through your institution. Ask an administrator.")
    return user, None


def _save_link(conn: sqlite3.Connection, identity: Identity, user_id: int, disabled: bool, now: float) -> None:
    conn.execute("INSERT INTO user_identities (provider, subject, user_id, groups, disabled_by_provider, linked_at, "
                 "checked_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, subject) DO UPDATE SET "
                 "groups = excluded.groups, disabled_by_provider = excluded.disabled_by_provider, "
                 "checked_at = excluded.checked_at",
                 (identity.provider, identity.subject, user_id, json.dumps(sorted(identity.groups)), int(disabled),
                  now, now))


def _shut_out(conn: sqlite3.Connection, user: users.User | None, link: sqlite3.Row | None, identity: Identity,
              group: str, now: float) -> SignInRefused:
    """Disable a known user who left the sign-in group (sessions end, tokens revoked); return the refusal."""
    if user is not None and user.active:
        try:
            users.set_active(conn, user.id, False)
            _save_link(conn, identity, user.id, True, now)
            log.warning("%s is no longer in group %s: account disabled, sessions ended, API tokens revoked",
                        user.username, group, extra={"source": "auth", "username": user.username})
        except UserError as exc:  # the last active admin: keep the door open rather than lock everyone out
            log.error("%s left group %s but stays enabled: %s", user.username, group, exc,
                      extra={"source": "auth", "username": user.username})
    elif user is not None and link is not None:
        _save_link(conn, identity, user.id, bool(link["disabled_by_provider"]), now)
    return SignInRefused(f"Your account at your institution is not in the group allowed to use FoldDeck "
                         f"({group}). Ask your administrator if you need access.")


def _create(conn: sqlite3.Connection, identity: Identity) -> users.User:
    """Create the FoldDeck account of a first sign-in (a random password nobody knows: they sign in outside)."""
    try:
        name = users.check_username(identity.username)
        user = users.create_user(conn, name, secrets.token_urlsafe(32), users.Role.USER)
    except UserError as exc:
        log.error("cannot create the FoldDeck account for %s (%s): %s", identity.username, identity.provider, exc,
                  extra={"source": "auth"})
        raise SignInRefused(f"FoldDeck cannot make an account named {identity.username!r}: {exc} "
                            "Ask your administrator.") from None
    log.info("created %s at first sign-in through %s", user.username, identity.provider,
             extra={"source": "auth", "username": user.username})
    return user


def _set_role(conn: sqlite3.Connection, user: users.User, identity: Identity, policy: Policy) -> users.User:
    """Make the role follow the admin group (when one is set)."""
    if not policy.admin_group:
        return user
    want = users.Role.ADMIN if in_group(identity, policy.admin_group) else users.Role.USER
    if user.role is want:
        return user
    try:
        user = users.set_role(conn, user.id, want)
    except UserError as exc:
        log.error("%s left admin group %s but stays admin: %s", user.username, policy.admin_group, exc,
                  extra={"source": "auth", "username": user.username})
        return user
    log.warning("%s is now %s (admin group %s)", user.username, want.value, policy.admin_group,
                extra={"source": "auth", "username": user.username})
    return user


def admit(conn: sqlite3.Connection, identity: Identity, policy: Policy, now: float | None = None) -> users.User:
    """Return the FoldDeck user this sign-in opens: found or created, enabled or refused, role from the groups.

    Raises:
        SignInRefused: not in the sign-in group, no account (and none made on first sign-in), the name
            belongs to another identity, or an admin disabled the account.
    """
    now = time.time() if now is None else now
    user, link = _find(conn, identity)
    if policy.login_group and not in_group(identity, policy.login_group):
        raise _shut_out(conn, user, link, identity, policy.login_group, now)
    if user is None:
        if not policy.create_users:
            raise SignInRefused(f"There is no FoldDeck account for {identity.username!r} yet. "
                                "Ask your administrator to create one.")
        user = _create(conn, identity)
    if not user.active:
        if link is None or not link["disabled_by_provider"]:
            raise SignInRefused("This account has been disabled by an administrator. Ask them if you think "
                                "this is a mistake.")
        user = users.set_active(conn, user.id, True)  # back in the sign-in group
        log.warning("%s is back in the sign-in group: account enabled", user.username,
                    extra={"source": "auth", "username": user.username})
    _save_link(conn, identity, user.id, False, now)
    user = _set_role(conn, user, identity, policy)
    conn.execute("UPDATE users SET last_login_at = ? WHERE id = ?", (now, user.id))
    log.info("sign-in through %s for %s", identity.provider, user.username,
             extra={"source": "auth", "username": user.username})
    return users.get_user(conn, user.id)
