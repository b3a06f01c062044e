"""What a provider sign-in lets a person do (services.people.signin.admission), without a provider: the
decisions that need no server — group names in their several spellings, a username reused at the provider,
the last admin leaving the admin group, a username FoldDeck cannot take."""
from __future__ import annotations

import logging

import pytest

from services.people import users
from services.people.signin.admission import Identity, admit, in_group
from services.people.signin.config import Policy
from services.platform.errors import SignInRefused

POLICY = Policy(login_group="folddeck-users", admin_group="folddeck-admins")


def person(subject: str, username: str, *groups: str) -> Identity:
    return Identity("oidc", subject, username, f"{username}@uni.example", frozenset(groups))


@pytest.mark.parametrize("group", ["folddeck-users", "/lab/folddeck-users", "cn=folddeck-users,ou=groups,dc=lab",
                                   "CN=FoldDeck-Users,OU=Groups,DC=lab,DC=example"])
def test_a_group_is_found_by_name_path_or_dn(group):
    assert in_group(person("s", "x", group), "folddeck-users")
    assert not in_group(person("s", "x", group), "folddeck")  # no prefix match


def test_a_username_reused_at_the_provider_does_not_open_the_first_persons_account(conn):
    first = admit(conn, person("sub-1", "kim", "folddeck-users"), POLICY)
    with pytest.raises(SignInRefused, match="belongs to another person"):
        admit(conn, person("sub-2", "kim", "folddeck-users"), POLICY)
    assert admit(conn, person("sub-1", "kim", "folddeck-users"), POLICY).id == first.id


def test_a_provider_user_named_like_the_local_admin_does_not_get_that_account(conn, caplog):
    with caplog.at_level(logging.WARNING, logger="folddeck.signin"), \
            pytest.raises(SignInRefused, match="local administrator account"):
        admit(conn, person("sub-9", "admin", "folddeck-users"), POLICY)  # not even in the admin group
    assert "would take the local admin account admin" in caplog.text
    assert users.get_by_name(conn, "admin").role is users.Role.ADMIN
    assert conn.execute("SELECT COUNT(*) FROM user_identities").fetchone()[0] == 0
    # an ordinary local account is linked by its name at the first sign-in, as the README says
    assert admit(conn, person("sub-3", "alice", "folddeck-users"), POLICY).id == users.get_by_name(conn, "alice").id


def test_renamed_at_the_provider_keeps_the_same_account(conn):
    first = admit(conn, person("sub-1", "kim", "folddeck-users"), POLICY)
    assert admit(conn, person("sub-1", "kim.lee", "folddeck-users"), POLICY).id == first.id


def test_the_last_admin_leaving_the_admin_group_stays_admin_and_the_log_says_why(conn, caplog):
    boss = admit(conn, person("sub-b", "boss", "folddeck-users", "folddeck-admins"), POLICY)
    users.set_active(conn, users.get_by_name(conn, "admin").id, False)  # boss is now the only active admin
    with caplog.at_level(logging.ERROR, logger="folddeck.signin"):
        again = admit(conn, person("sub-b", "boss", "folddeck-users"), POLICY)
    assert again.id == boss.id and again.is_admin
    assert any("stays admin" in r.getMessage() and "last active admin" in r.getMessage() for r in caplog.records)


def test_a_username_folddeck_cannot_take_is_refused_plainly(conn):
    with pytest.raises(SignInRefused, match="cannot make an account named"):
        admit(conn, person("sub-x", "Jane Doe", "folddeck-users"), POLICY)
