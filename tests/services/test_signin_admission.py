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


def test_groups_give_the_disk_quota_at_each_sign_in_and_the_default_when_none_matches(conn, caplog, tmp_path):
    from services.jobs.rules.quota import own_quota_mb
    from services.operations.group_limits import apply_group_limits
    from services.platform.settings import load_settings

    quotas = load_settings(environ={"FOLDDECK_SSO_QUOTA_GROUPS": "lab-students=200000, staff=0"},
                           dotenv=None, data_dir=tmp_path).sso_quota_groups
    assert quotas == (("lab-students", 200000), ("staff", 0))
    kim = admit(conn, person("sub-1", "kim", "folddeck-users", "lab-students"), POLICY)
    assert apply_group_limits(conn, kim.id, "", quotas) is None  # no approval group: no flag to report
    assert own_quota_mb(conn, kim.id) == 200000
    admit(conn, person("sub-1", "kim", "folddeck-users", "lab-students", "cn=staff,ou=groups,dc=lab"), POLICY)
    apply_group_limits(conn, kim.id, "", quotas)
    assert own_quota_mb(conn, kim.id) == 0  # staff: no quota beats any number
    with caplog.at_level(logging.INFO, logger="folddeck.signin"):
        admit(conn, person("sub-1", "kim", "folddeck-users"), POLICY)  # left both groups
        apply_group_limits(conn, kim.id, "", quotas)
    assert own_quota_mb(conn, kim.id) is None and "set to the default by their groups" in caplog.text
    alice = users.get_by_name(conn, "alice")  # a local account: no groups, nothing applied
    assert apply_group_limits(conn, alice.id, "folddeck-users", quotas) is None and own_quota_mb(conn, alice.id) is None


@pytest.mark.parametrize("raw", ["lab-students", "lab=many", "=5"])
def test_a_malformed_quota_group_setting_stops_start_up_naming_it(raw, tmp_path):
    from services.platform.errors import SettingsError
    from services.platform.settings import load_settings

    with pytest.raises(SettingsError, match="FOLDDECK_SSO_QUOTA_GROUPS"):
        load_settings(environ={"FOLDDECK_SSO_QUOTA_GROUPS": raw}, dotenv=None, data_dir=tmp_path)
