"""Signing in with LDAP against a real OpenLDAP server (Debian's slapd) on loopback over LDAPS and StartTLS,
with a test CA made by the test: search-then-bind and direct bind, groups as roles, leaving the group locks the
person and their API tokens out at the next sign-in, and a bad configuration (expired or untrusted certificate,
unreachable directory, refused service account) is a clear message for the admin that lets nobody in."""
from __future__ import annotations

import pytest

from services.people import api_tokens, users
from services.people.signin import directory, password
from services.people.signin.config import signin_config
from services.platform.errors import LoginThrottled, SettingsError, SignInRefused, SignInUnavailable
from tests.conftest import ADMIN_PASSWORD, free_port
from tests.support import ldap_server as ls

pytestmark = [pytest.mark.service, pytest.mark.skipif(not ls.available(), reason="slapd is not installed")]
PW = ls.PASSWORDS


@pytest.fixture
def slapd(tmp_path):
    server = ls.start(tmp_path / "slapd")
    yield server
    server.stop()


def ldap_settings(settings, server, **overrides):
    values = {"ldap_url": server.ldaps_url, "ldap_ca_file": server.ca, "ldap_bind_dn": ls.SERVICE_DN,
              "ldap_bind_password": ls.SERVICE_PW, "ldap_user_base": ls.PEOPLE, "ldap_group_base": ls.GROUPS,
              "sso_login_group": "folddeck-users", "sso_admin_group": "folddeck-admins", **overrides}
    return settings.with_overrides(**values)


def sign_in(conn, s, name, secret, address="10.0.0.7"):
    return password.sign_in(conn, signin_config(s), name, secret, address)


def test_search_then_bind_over_ldaps_makes_accounts_with_roles_from_groups(slapd, settings, conn):
    s = ldap_settings(settings, slapd)
    erik = sign_in(conn, s, "erik", PW["erik"])
    dana = sign_in(conn, s, "dana", PW["dana"])
    assert (erik.username, erik.role, erik.active) == ("erik", users.Role.ADMIN, True)
    assert (dana.username, dana.role) == ("dana", users.Role.USER)
    subject = conn.execute("SELECT subject FROM user_identities WHERE user_id = ?", (dana.id,)).fetchone()[0]
    assert subject == f"uid=dana,{ls.PEOPLE}"


def test_direct_bind_over_starttls(slapd, settings, conn):
    s = ldap_settings(settings, slapd, ldap_url=slapd.ldap_url, ldap_starttls=True, ldap_bind_dn="",
                      ldap_bind_password="", ldap_user_dn=f"uid={{username}},{ls.PEOPLE}")
    assert sign_in(conn, s, "dana", PW["dana"]).username == "dana"
    assert sign_in(conn, s, "dana", "wrong-password") is None


def test_plain_ldap_without_starttls_is_refused_at_start_up(slapd, settings):
    with pytest.raises(SettingsError, match="clear text"):
        signin_config(ldap_settings(settings, slapd, ldap_url=slapd.ldap_url))


def test_wrong_password_and_unknown_user_let_nobody_in_and_are_throttled(slapd, settings, conn):
    s = ldap_settings(settings, slapd, local_login=False)
    assert sign_in(conn, s, "dana", "wrong-password") is None
    assert sign_in(conn, s, "nobody", "whatever-1") is None
    assert sign_in(conn, s, "dana", "") is None  # never an anonymous bind
    with pytest.raises(users.UserNotFound):
        users.get_by_name(conn, "dana")
    for _ in range(3):  # five failures for dana from this address, with the two above
        sign_in(conn, s, "dana", "wrong-password")
    with pytest.raises(LoginThrottled):  # the same door as local accounts: the right password waits too
        sign_in(conn, s, "dana", PW["dana"])


def test_leaving_the_group_locks_out_the_person_and_their_tokens(slapd, settings, conn):
    s = ldap_settings(settings, slapd)
    dana = sign_in(conn, s, "dana", PW["dana"])
    _token, secret = api_tokens.create_token(conn, dana.id, "script", api_tokens.Scope.WRITE)
    session = users.start_session(conn, dana.id, "10.0.0.7", 3600)
    slapd.set_members("folddeck-users", ["erik"])
    with pytest.raises(SignInRefused, match=r"not in the group allowed to use FoldDeck \(folddeck-users\)"):
        sign_in(conn, s, "dana", PW["dana"])
    assert not users.get_by_name(conn, "dana").active
    assert api_tokens.authenticate(conn, secret) is None
    assert users.session_user(conn, dana.id, dana.session_token, session) is None
    slapd.set_members("folddeck-users", ["dana", "erik"])  # back in: enabled again (new tokens needed)
    assert sign_in(conn, s, "dana", PW["dana"]).active
    assert api_tokens.authenticate(conn, secret) is None


def test_an_account_an_admin_disabled_stays_disabled(slapd, settings, conn):
    s = ldap_settings(settings, slapd)
    dana = sign_in(conn, s, "dana", PW["dana"])
    users.set_active(conn, dana.id, False)
    with pytest.raises(SignInRefused, match="disabled by an administrator"):
        sign_in(conn, s, "dana", PW["dana"])


def test_leaving_the_admin_group_makes_an_admin_a_user(slapd, settings, conn):
    s = ldap_settings(settings, slapd)
    assert sign_in(conn, s, "erik", PW["erik"]).is_admin
    slapd.set_members("folddeck-admins", ["dana"])
    assert sign_in(conn, s, "erik", PW["erik"]).role is users.Role.USER


def test_an_expired_certificate_is_named_and_lets_nobody_in(tmp_path, settings, conn, caplog):
    expired = ls.start(tmp_path / "expired", expired_cert=True)
    try:
        s = ldap_settings(settings, expired, local_login=False)
        with pytest.raises(SignInUnavailable) as caught:
            sign_in(conn, s, "dana", PW["dana"])
    finally:
        expired.stop()
    assert "certificate has expired" in caught.value.detail and "FOLDDECK_LDAP_CA_FILE" in caught.value.detail
    assert "not working right now" in str(caught.value) and "certificate" not in str(caught.value)
    assert any("certificate has expired" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    with pytest.raises(users.UserNotFound):
        users.get_by_name(conn, "dana")


@pytest.mark.parametrize("url_kind", ["ldaps", "starttls"])
def test_an_untrusted_certificate_is_refused(slapd, settings, conn, url_kind):
    extra = {"ldap_url": slapd.ldap_url, "ldap_starttls": True} if url_kind == "starttls" else {}
    s = ldap_settings(settings, slapd, ldap_ca_file=None, local_login=False, **extra)
    with pytest.raises(SignInUnavailable) as caught:
        sign_in(conn, s, "dana", PW["dana"])
    assert "certificate verify failed" in caught.value.detail


def test_a_refused_service_account_names_its_settings(slapd, settings, conn):
    s = ldap_settings(settings, slapd, ldap_bind_password="not-it", local_login=False)
    with pytest.raises(SignInUnavailable) as caught:
        sign_in(conn, s, "dana", PW["dana"])
    assert "FOLDDECK_LDAP_BIND_PASSWORD" in caught.value.detail


def test_an_unreachable_directory_still_lets_the_local_admin_in(settings, conn):
    s = ldap_settings(settings, type("Down", (), {"ldaps_url": f"ldaps://127.0.0.1:{free_port()}", "ca": None})())
    assert sign_in(conn, s, "admin", ADMIN_PASSWORD).is_admin  # local accounts are the fallback
    with pytest.raises(SignInUnavailable) as caught:
        sign_in(conn, s, "dana", PW["dana"])
    assert "failed" in caught.value.detail
    with pytest.raises(SignInUnavailable):  # and with local accounts off, nobody at all
        sign_in(conn, s.with_overrides(local_login=False), "admin", ADMIN_PASSWORD)


def test_active_directory_style_memberof_groups(slapd, settings, conn):
    """Without a group base the user's memberOf is read (Active Directory); slapd here has no memberOf
    overlay, so nobody is in a group, and the sign-in group keeps them out."""
    s = ldap_settings(settings, slapd, ldap_group_base="")
    identity = directory.authenticate(signin_config(s).ldap, "erik", PW["erik"])
    assert identity.groups == frozenset()
    with pytest.raises(SignInRefused):
        sign_in(conn, s, "erik", PW["erik"])


def test_the_sweep_locks_out_people_who_left_without_waiting_for_their_next_sign_in(slapd, settings, conn):
    from services.people.signin.sweep import sweep_ldap

    s = ldap_settings(settings, slapd)
    dana = sign_in(conn, s, "dana", PW["dana"])
    sign_in(conn, s, "erik", PW["erik"])
    _token, secret = api_tokens.create_token(conn, dana.id, "script", api_tokens.Scope.READ)
    assert sweep_ldap(conn, signin_config(s)) == []  # everyone still in: nothing changes
    assert api_tokens.authenticate(conn, secret) is not None
    slapd.set_members("folddeck-users", ["erik"])
    assert sweep_ldap(conn, signin_config(s)) == ["dana"]
    assert api_tokens.authenticate(conn, secret) is None and not users.get_by_name(conn, "dana").active
    slapd.set_members("folddeck-users", ["dana", "erik"])  # back in: her next sign-in enables her
    assert sign_in(conn, s, "dana", PW["dana"]).active


def test_the_sweep_needs_a_service_account_and_a_reachable_directory(slapd, settings, conn):
    from services.people.signin.sweep import sweep_ldap

    s = ldap_settings(settings, slapd)
    sign_in(conn, s, "dana", PW["dana"])
    direct = s.with_overrides(ldap_bind_dn="", ldap_user_dn=f"uid={{username}},{ls.PEOPLE}")
    with pytest.raises(SignInUnavailable) as caught:
        sweep_ldap(conn, signin_config(direct))
    assert "FOLDDECK_LDAP_BIND_DN" in caught.value.detail
    slapd.stop()
    with pytest.raises(SignInUnavailable):
        sweep_ldap(conn, signin_config(s))
    assert users.get_by_name(conn, "dana").active  # a directory that is down locks nobody out
