"""The login page with each sign-in configuration, and the LDAP form over HTTP against a real slapd: the
institution's button comes first, local accounts can be turned off, a half-configured provider stops start-up,
and a directory with an expired certificate gives the person a plain page and the admin a clear log line."""
from __future__ import annotations

import pytest

from dash_app import create_app
from services.people.signin import password
from services.people.signin.config import signin_config
from services.platform import applog
from services.platform.errors import SettingsError
from services.platform.settings import load_settings
from tests.conftest import ADMIN_PASSWORD, login
from tests.support import ldap_server as ls

OIDC = {"oidc_discovery_url": "https://idp.lab.example/realms/lab/.well-known/openid-configuration",
        "oidc_client_id": "folddeck", "oidc_client_secret": "s", "oidc_label": "Example University"}


def page(settings, **overrides) -> str:
    client = create_app(settings.with_overrides(**overrides)).server.test_client()
    return client.get("/login").get_data(as_text=True)


def test_no_settings_keep_the_plain_local_login(settings):
    html = page(settings)
    assert 'id="login-submit"' in html and 'id="login-sso"' not in html and ">Username<" in html


def test_the_institutions_button_comes_first(settings):
    html = page(settings, **OIDC)
    assert html.index('id="login-sso"') < html.index('id="login-submit"')
    assert "Sign in with Example University" in html


def test_local_accounts_off_leaves_only_the_button_and_refuses_passwords(settings, conn):
    s = settings.with_overrides(local_login=False, **OIDC)
    client = create_app(s).server.test_client()
    assert 'id="login-submit"' not in client.get("/login").get_data(as_text=True)
    assert password.sign_in(conn, signin_config(s), "admin", ADMIN_PASSWORD, "10.0.0.7") is None
    assert password.sign_in(conn, signin_config(settings), "admin", ADMIN_PASSWORD, "10.0.0.7").is_admin


@pytest.mark.parametrize("env, words", [
    ({"FOLDDECK_OIDC_DISCOVERY_URL": OIDC["oidc_discovery_url"]},
     "FOLDDECK_OIDC_CLIENT_ID and FOLDDECK_OIDC_CLIENT_SECRET"),
    ({"FOLDDECK_LOCAL_LOGIN": "false"}, "leaves no way to sign in"),
    ({"FOLDDECK_LDAP_URL": "ldap://dc.lab.example", "FOLDDECK_LDAP_USER_BASE": "dc=lab"}, "clear text"),
    ({"FOLDDECK_LDAP_URL": "ldaps://dc.lab.example"}, "FOLDDECK_LDAP_USER_DN"),
    ({"FOLDDECK_LDAP_URL": "https://dc.lab.example"}, "must start with ldaps://"),
    ({"FOLDDECK_OIDC_USERNAME_CLAIM": "name"}, "preferred_username, email, sub"),
])
def test_half_configured_sign_in_stops_start_up_with_the_variable_named(tmp_path, env, words):
    with pytest.raises(SettingsError, match=words.replace("(", r"\(")):
        create_app(load_settings(environ=env, dotenv=None, data_dir=tmp_path / "data"))


@pytest.mark.service
@pytest.mark.skipif(not ls.available(), reason="slapd is not installed")
def test_ldap_form_signs_in_and_an_expired_certificate_is_a_plain_page(tmp_path, settings, conn):
    good, expired = ls.start(tmp_path / "good"), ls.start(tmp_path / "expired", expired_cert=True)
    try:
        base = {"ldap_ca_file": good.ca, "ldap_user_dn": f"uid={{username}},{ls.PEOPLE}",
                "ldap_group_base": ls.GROUPS, "sso_admin_group": "folddeck-admins"}
        app = create_app(settings.with_overrides(ldap_url=good.ldaps_url, sso_approval_group="folddeck-admins",
                                                 **base))
        client = app.server.test_client()
        assert "Institution username" in client.get("/login").get_data(as_text=True)
        assert login(client, "erik", ls.PASSWORDS["erik"]).status_code == 302
        assert client.get("/admin/users").status_code == 200  # admin group -> admin
        assert login(app.server.test_client(), "dana", ls.PASSWORDS["dana"]).status_code == 302
        flags = dict(conn.execute("SELECT username, needs_approval FROM users WHERE username IN ('erik', 'dana')"))
        assert flags == {"erik": 1, "dana": 0}  # the approval group's members wait for an admin
        assert login(app.server.test_client(), "admin", ADMIN_PASSWORD).status_code == 302  # local: untouched
        assert conn.execute("SELECT needs_approval FROM users WHERE username = 'admin'").fetchone()[0] == 0
        bad = create_app(settings.with_overrides(ldap_url=expired.ldaps_url, local_login=False,
                                                 **{**base, "ldap_ca_file": expired.ca}))
        bad_client = bad.server.test_client()
        answer = login(bad_client, "dana", ls.PASSWORDS["dana"])
    finally:
        good.stop()
        expired.stop()
    text = answer.get_data(as_text=True)
    assert answer.status_code == 503 and "not working right now" in text
    assert "Traceback" not in text and "certificate" not in text
    assert applog.flush()
    logged = [m for (m,) in conn.execute("SELECT message FROM app_log WHERE level = 'ERROR' AND source = 'auth'")]
    assert any("certificate has expired" in m for m in logged), logged
    assert bad_client.get("/").status_code == 302  # not let in
