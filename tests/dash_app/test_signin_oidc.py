"""Signing in with OpenID Connect against a real provider (panva's certified oidc-provider on loopback), with
FoldDeck served over real HTTP: first sign-in makes the account, the admin group gives admin pages, leaving the
group locks the person and their API tokens out at the next sign-in, a wrong state or a tampered ID token lets
nobody in, and a bad configuration (wrong secret, unreachable provider, clock skew) gives the admin a clear line
in the application log and the person a plain page."""
from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from services.people import api_tokens, users
from services.people.signin import oidc
from services.people.signin.config import signin_config
from services.platform import applog, db
from services.platform.errors import SignInUnavailable
from tests.conftest import ADMIN_PASSWORD, free_port
from tests.support import oidc_server

pytestmark = [pytest.mark.service,
              pytest.mark.skipif(bool(oidc_server.available()), reason=str(oidc_server.available()))]

ACCOUNTS = {
    "carol-sub": {"preferred_username": "carol", "email": "carol@uni.example", "groups": ["folddeck-users"]},
    "dave-sub": {"preferred_username": "dave", "email": "dave@uni.example",
                 "groups": ["folddeck-users", "/lab/folddeck-admins"]},  # a Keycloak group path
    "olga-sub": {"preferred_username": "olga", "email": "olga@uni.example", "groups": ["other-lab"]},
}
GROUPS = {"sso_login_group": "folddeck-users", "sso_admin_group": "folddeck-admins"}


@pytest.fixture
def site(tmp_path, settings):
    """Return (FoldDeck's base URL, the provider, serve(settings) -> base URL) with both on loopback."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = oidc_server.start(tmp_path / "op", [base + "/login/oidc/callback"], ACCOUNTS, [base + "/login"])
    servers = []

    def serve(**overrides) -> str:
        from dash_app import create_app

        s = settings.with_overrides(**{"oidc_discovery_url": provider.discovery_url,
                                       "oidc_client_id": oidc_server.CLIENT_ID,
                                       "oidc_client_secret": oidc_server.CLIENT_SECRET,
                                       "oidc_label": "Example University", **GROUPS, **overrides})
        server = make_server("127.0.0.1", port, create_app(s).server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return base

    yield base, provider, serve
    for server in servers:
        server.shutdown()
        server.server_close()
    provider.stop()


def sign_in(base: str, login: str) -> tuple[requests.Session, requests.Response]:
    """Click "Sign in with ..." as `login`; return the browser and FoldDeck's answer to the callback."""
    browser = requests.Session()
    page = browser.get(base + "/login", timeout=10)
    assert 'id="login-sso"' in page.text and "Sign in with Example University" in page.text
    callback = oidc_server.follow_provider(browser, base + "/login/oidc?next=/", login, base + "/login/oidc/callback")
    return browser, browser.get(callback, allow_redirects=False, timeout=10)


def auth_log(settings) -> list[tuple[str, str]]:
    assert applog.flush()
    return list(db.connect(settings.db_path).execute(
        "SELECT level, message FROM app_log WHERE source = 'auth' ORDER BY id"))


def test_first_sign_in_makes_the_account_and_lands_on_the_dashboard(site, settings, conn):
    base, _provider, serve = site
    serve()
    browser, answer = sign_in(base, "carol-sub")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert browser.get(base + "/", allow_redirects=False, timeout=10).status_code == 200  # past the gate
    carol = users.get_by_name(conn, "carol")
    assert carol.role is users.Role.USER and carol.active and carol.last_login_at
    link = conn.execute("SELECT provider, subject, groups FROM user_identities WHERE user_id = ?",
                        (carol.id,)).fetchone()
    assert tuple(link) == ("oidc", "carol-sub", '["folddeck-users"]')
    assert browser.get(base + "/admin/users", allow_redirects=False, timeout=10).status_code == 403


def test_admin_group_member_sees_the_admin_pages(site, conn):
    base, _provider, serve = site
    serve()
    browser, answer = sign_in(base, "dave-sub")
    assert answer.status_code == 302
    assert users.get_by_name(conn, "dave").role is users.Role.ADMIN
    assert browser.get(base + "/admin/users", allow_redirects=False, timeout=10).status_code == 200


def test_leaving_the_group_locks_out_the_person_and_their_tokens_at_the_next_sign_in(site, settings, conn):
    base, provider, serve = site
    serve()
    sign_in(base, "carol-sub")
    carol = users.get_by_name(conn, "carol")
    _token, secret = api_tokens.create_token(conn, carol.id, "script", api_tokens.Scope.READ)
    assert api_tokens.authenticate(conn, secret) is not None
    provider.set_accounts({**ACCOUNTS, "carol-sub": {**ACCOUNTS["carol-sub"], "groups": ["alumni"]}})
    browser, answer = sign_in(base, "carol-sub")
    assert answer.status_code == 403
    assert "not in the group allowed to use FoldDeck (folddeck-users)" in answer.text and "Traceback" not in answer.text
    assert browser.get(base + "/", allow_redirects=False, timeout=10).status_code == 302  # not let in
    assert not users.get_by_name(conn, "carol").active
    assert api_tokens.authenticate(conn, secret) is None  # revoked with the account
    assert requests.get(base + "/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"},
                        timeout=10).status_code == 401
    assert any("no longer in group folddeck-users" in m for _level, m in auth_log(settings))
    provider.set_accounts(ACCOUNTS)  # back in the group: the next sign-in enables the account again
    assert sign_in(base, "carol-sub")[1].status_code == 302
    assert users.get_by_name(conn, "carol").active


def test_someone_outside_the_sign_in_group_gets_no_account(site, conn):
    base, _provider, serve = site
    serve()
    browser, answer = sign_in(base, "olga-sub")
    assert answer.status_code == 403 and "Ask your administrator" in answer.text
    with pytest.raises(users.UserNotFound):
        users.get_by_name(conn, "olga")


def test_accounts_must_exist_when_they_are_not_made_at_first_sign_in(site, conn):
    base, _provider, serve = site
    serve(sso_create_users=False)
    assert sign_in(base, "carol-sub")[1].status_code == 403
    with pytest.raises(users.UserNotFound):
        users.get_by_name(conn, "carol")
    users.create_user(conn, "carol", "carol-local-pw-1")  # an admin makes it: the same sign-in now links to it
    assert sign_in(base, "carol-sub")[1].status_code == 302


def test_a_wrong_state_lets_nobody_in(site, settings):
    base, _provider, serve = site
    serve()
    browser = requests.Session()
    callback = oidc_server.follow_provider(browser, base + "/login/oidc", "carol-sub", base + "/login/oidc/callback")
    query = parse_qs(urlsplit(callback).query)
    forged = f"{base}/login/oidc/callback?code={query['code'][0]}&state=forged-{query['state'][0]}"
    answer = browser.get(forged, allow_redirects=False, timeout=10)
    assert answer.status_code == 400 and "Please start again" in answer.text and "Traceback" not in answer.text
    assert browser.get(base + "/", allow_redirects=False, timeout=10).status_code == 302
    assert any("state does not match" in m for level, m in auth_log(settings) if level == "ERROR")
    # and the real callback is spent: the pending state was used up by the forged one
    assert browser.get(callback, allow_redirects=False, timeout=10).status_code == 400


def test_a_wrong_client_secret_is_logged_for_the_admin_and_shown_plainly(site, settings):
    base, _provider, serve = site
    serve(oidc_client_secret="not-the-secret")
    browser, answer = sign_in(base, "carol-sub")
    assert answer.status_code == 503
    assert "not working right now" in answer.text and "Traceback" not in answer.text
    assert "invalid_client" not in answer.text  # the admin's words go to the log, not to the person
    assert browser.get(base + "/", allow_redirects=False, timeout=10).status_code == 302
    errors = [m for level, m in auth_log(settings) if level == "ERROR"]
    assert any("invalid_client" in m and "FOLDDECK_OIDC_CLIENT_SECRET" in m for m in errors), errors


def test_an_unreachable_provider_leaves_local_accounts_working(tmp_path, settings):
    from dash_app import create_app

    closed = free_port()
    s = settings.with_overrides(oidc_discovery_url=f"http://127.0.0.1:{closed}/.well-known/openid-configuration",
                                oidc_client_id="folddeck", oidc_client_secret="x", oidc_label="Example University")
    client = create_app(s).server.test_client()
    answer = client.get("/login/oidc")
    assert answer.status_code == 503 and "Example University is not working right now" in answer.get_data(as_text=True)
    assert any("cannot be reached" in m and str(closed) in m for level, m in auth_log(s) if level == "ERROR")
    from tests.conftest import login

    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302  # the local admin still gets in


def _real_id_token(provider, base: str) -> tuple[str, dict, str, object]:
    """Run the code flow at the service level; return (ID token, metadata, nonce, config)."""
    from services.platform.settings import load_settings

    s = load_settings(environ={}, dotenv=None, oidc_discovery_url=provider.discovery_url,
                      oidc_client_id=oidc_server.CLIENT_ID, oidc_client_secret=oidc_server.CLIENT_SECRET,
                      data_dir=provider.accounts_file.parent / "data")
    cfg = signin_config(s).oidc
    url, pending = oidc.begin(cfg, base + "/login/oidc/callback")
    assert "code_challenge_method=S256" in url and "nonce=" in url
    callback = oidc_server.follow_provider(requests.Session(), url, "carol-sub", base + "/login/oidc/callback")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    identity, id_token, meta = oidc.finish(cfg, base + "/login/oidc/callback", pending, params)
    assert identity.username == "carol" and identity.groups == {"folddeck-users"}
    return id_token, meta, pending["nonce"], cfg


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_id_token_does_not_verify(site):
    base, provider, _serve = site
    id_token, meta, nonce, cfg = _real_id_token(provider, base)
    assert oidc.verify_id_token(cfg, meta, id_token, nonce)["sub"] == "carol-sub"  # the real one does
    head, body, sig = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = ".".join([head, _b64({**claims, "preferred_username": "admin", "groups": ["folddeck-admins"]}), sig])
    with pytest.raises(SignInUnavailable) as caught:
        oidc.verify_id_token(cfg, meta, forged, nonce)
    assert "signature does not verify" in caught.value.detail
    with pytest.raises(SignInUnavailable) as caught:  # a token minted for another login (another nonce)
        oidc.verify_id_token(cfg, meta, id_token, "another-nonce")
    assert "nonce" in caught.value.detail


@pytest.mark.parametrize("skew", [-7200, 7200])
def test_clock_skew_beyond_the_leeway_is_named_in_the_log(site, skew):
    base, provider, _serve = site
    id_token, meta, nonce, cfg = _real_id_token(provider, base)
    with pytest.raises(SignInUnavailable) as caught:
        oidc.verify_id_token(cfg, meta, id_token, nonce, now=time.time() + skew)
    assert "clocks of FoldDeck and the provider differ" in caught.value.detail
    assert "FOLDDECK_OIDC_LEEWAY_S=60" in caught.value.detail and "not working right now" in str(caught.value)
    assert oidc.verify_id_token(cfg, meta, id_token, nonce, now=time.time() + 30)  # inside the leeway


def test_logout_ends_the_providers_session_too(site):
    base, _provider, serve = site
    serve()
    browser, _ = sign_in(base, "carol-sub")
    page = browser.get(base + "/logout", timeout=10)
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = browser.post(base + "/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    end = answer.headers["Location"]
    assert end.startswith(_provider.issuer + "/session/end?") and "id_token_hint=" in end
    assert parse_qs(urlsplit(end).query)["post_logout_redirect_uri"] == [base + "/login"]
    assert browser.get(base + "/", allow_redirects=False, timeout=10).status_code == 302  # FoldDeck's is over
    assert browser.get(end, timeout=10).status_code == 200  # the provider asks to confirm its own logout


@pytest.mark.parametrize("expired", [False, True])
def test_the_providers_https_certificate_is_checked(tmp_path, settings, expired):
    """Over HTTPS with the test CA the discovery goes through; an expired certificate is named in the log."""
    from dash_app import create_app
    from tests.support.ldap_server import make_pki

    ca, cert, key = make_pki(tmp_path, expired=expired)
    provider = oidc_server.start(tmp_path / "op", ["http://127.0.0.1:1/login/oidc/callback"], ACCOUNTS,
                                 tls=(cert, key))
    try:
        assert provider.issuer.startswith("https://")
        s = settings.with_overrides(oidc_discovery_url=provider.discovery_url, oidc_client_id=oidc_server.CLIENT_ID,
                                    oidc_client_secret=oidc_server.CLIENT_SECRET, oidc_ca_file=ca)
        answer = create_app(s).server.test_client().get("/login/oidc")
    finally:
        provider.stop()
    if not expired:
        assert answer.status_code == 302 and answer.headers["Location"].startswith(provider.issuer + "/auth?")
        return
    assert answer.status_code == 503 and "Traceback" not in answer.get_data(as_text=True)
    errors = [m for level, m in auth_log(s) if level == "ERROR"]
    assert any("certificate has expired" in m and "FOLDDECK_OIDC_CA_FILE" in m for m in errors), errors
