"""Sessions and API tokens end where they should (issue 22, item 3), seen from outside: a copied
session cookie after logout, a second browser, a script's token after a password change, an
admin's reset, a disable/enable, and a token past its expiry date."""
from __future__ import annotations

import json
import re
import sys
import time

import dash
import pytest

from services.operations import admin as admin_service
from services.people import api_tokens, users
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, csrf_token, dash_post, login
from tests.dash_app.test_account_page import call, text_of

LAYOUT = {"output": ".._pages_content.children..._pages_store.data..",
          "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
          "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/account"},
                     {"id": "_pages_location", "property": "search", "value": ""}],
          "state": [], "changedPropIds": ["_pages_location.pathname"]}


@pytest.fixture
def page(app):
    """The account page module as Dash imported it."""
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/account")]


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def logout(client):
    """Log out through the real form (GET shows it with its CSRF token, POST ends the session)."""
    token = csrf_token(client.get("/logout").get_data(as_text=True))
    return client.post("/logout", data={"csrf_token": token})


def test_copied_session_cookie_is_dead_after_logout(app, client):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    stolen = client.get_cookie("session").value
    thief = app.server.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/account").status_code == 200  # the copy works while the session lives

    assert logout(client).headers["Location"].endswith("/login")

    thief = app.server.test_client()
    thief.set_cookie("session", stolen)
    page = thief.get("/account")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    thief.set_cookie("session", stolen)
    thief.set_cookie("_csrf_token", "x")
    r = thief.post("/_dash-update-component", json=LAYOUT)
    assert r.status_code == 401 and r.json["login"] == "/login"


def test_logout_in_one_browser_keeps_the_other(app, client, conn, alice):
    other = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    assert login(other, "alice", USER_PASSWORD).status_code == 302
    assert conn.execute("SELECT COUNT(*) FROM user_sessions WHERE user_id = ?", (alice.id,)).fetchone()[0] == 2
    logout(client)
    assert client.get("/account").status_code == 302
    assert other.get("/account").status_code == 200
    assert dash_post(other, LAYOUT).status_code == 200
    assert conn.execute("SELECT COUNT(*) FROM user_sessions WHERE user_id = ?", (alice.id,)).fetchone()[0] == 1


def test_session_ids_from_before_sessions_were_rows_log_in_again(app, client, alice):
    """A cookie id of the old `user:token` form (no session row) is not accepted after the upgrade."""
    from dash_app.auth import load_user

    with app.server.test_request_context():
        assert load_user(f"{alice.id}:{alice.session_token}") is None
        assert load_user(f"{alice.id}:{alice.session_token}:no-such-session") is None


def test_password_change_on_account_page_revokes_tokens_and_ends_other_sessions(app, page, client, conn, alice):
    _, secret = api_tokens.create_token(conn, alice.id, "script", "write")
    api = app.server.test_client()
    assert api.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    other = app.server.test_client()
    assert login(other, "alice", USER_PASSWORD).status_code == 302
    assert login(client, "alice", USER_PASSWORD).status_code == 302

    out = call(app, client, page.PW_ALERT, {page.PW_CURRENT: USER_PASSWORD, page.PW_NEW: "a-new-password-2",
                                            page.PW_REPEAT: "a-new-password-2"}, f"{page.PW_SAVE}.n_clicks")
    assert "API tokens were revoked" in text_of(out) and "No tokens yet" in text_of(out)
    r = api.get("/api/v1/me", headers=bearer(secret))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert other.get("/account").status_code == 302
    assert client.get("/account").status_code == 200  # this browser got a new session
    logout(client)
    assert client.get("/account").status_code == 302


def test_admin_reset_and_own_password_change_revoke_tokens(app, conn, admin, alice):
    _, first = api_tokens.create_token(conn, alice.id, "a", "read")
    api = app.server.test_client()
    assert api.get("/api/v1/me", headers=bearer(first)).status_code == 200
    admin_service.reset_password(conn, admin, alice.id, "reset-password-3")
    assert api.get("/api/v1/me", headers=bearer(first)).status_code == 401
    _, second = api_tokens.create_token(conn, alice.id, "b", "read")
    assert api.get("/api/v1/me", headers=bearer(second)).status_code == 200
    users.set_password(conn, alice.id, "cli-password-44")  # the CLI's `passwd` and the account page call this
    assert api.get("/api/v1/me", headers=bearer(second)).status_code == 401


def test_disable_then_enable_does_not_bring_tokens_or_sessions_back(app, client, conn, alice):
    _, secret = api_tokens.create_token(conn, alice.id, "script", "read")
    api = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    users.set_active(conn, alice.id, False)
    assert api.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    users.set_active(conn, alice.id, True)
    assert api.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert client.get("/account").status_code == 302
    assert login(client, "alice", USER_PASSWORD).status_code == 302  # enabled: logs in afresh


def test_admin_page_disable_says_tokens_were_revoked(app, client, conn, alice):
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    mod = sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/admin/users")]
    _, secret = api_tokens.create_token(conn, alice.id, "script", "read")
    key, spec = next((k, s) for k, s in app.callback_map.items()
                     if [d["id"] for d in s["inputs"]] == [mod.TOGGLE])
    body = {"output": key, "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
                                       for o in key.strip(".").split("...")],
            "inputs": [{"id": mod.TOGGLE, "property": "n_clicks", "value": 1}],
            "state": [{"id": mod.GRID, "property": "selectedRows", "value": [{"id": alice.id}]},
                      {"id": mod.REFRESH, "property": "data", "value": 0}],
            "changedPropIds": [f"{mod.TOGGLE}.n_clicks"]}
    r = dash_post(client, body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    out = r.json["response"]
    assert "API tokens were revoked" in text_of(out)
    assert app.server.test_client().get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_expired_token_answers_401_token_expired(app, conn, alice):
    token, secret = api_tokens.create_token(conn, alice.id, "nightly", "read", expires_days=30)
    assert token.expires_at == pytest.approx(time.time() + 30 * 86400, abs=60)
    api = app.server.test_client()
    assert api.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    conn.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", (time.time() - 1, token.id))
    r = api.get("/api/v1/me", headers=bearer(secret))
    assert r.status_code == 401 and r.json["error"].startswith("token expired") and "nightly" in r.json["error"]
    users.set_active(conn, alice.id, False)  # a disabled user's expired token says no more than a wrong one
    assert "expired" not in api.get("/api/v1/me", headers=bearer(secret)).json["error"]


def test_token_lifetime_is_checked(conn, alice):
    with pytest.raises(Exception, match="30 days, 90 days, 365 days or never"):
        api_tokens.create_token(conn, alice.id, "x", "read", expires_days=7)
    token, _ = api_tokens.create_token(conn, alice.id, "forever", "read", expires_days=None)
    assert token.expires_at is None and not token.expired()
    default, _ = api_tokens.create_token(conn, alice.id, "default", "read")
    assert default.expires_at == pytest.approx(time.time() + 90 * 86400, abs=60)


def test_account_page_creates_tokens_with_a_lifetime_and_lists_it(app, page, client, conn, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    layout = json.dumps(dash_post(client, LAYOUT).json)
    assert page.TOKEN_EXPIRY in layout and '"value": "90"' in layout and "never (not recommended)" in layout
    out = call(app, client, page.TOKEN_ALERT, {page.TOKEN_NAME: "month", page.TOKEN_SCOPE: "read",
                                               page.TOKEN_EXPIRY: "30"}, f"{page.TOKEN_CREATE}.n_clicks")
    assert re.search(r"fdk_[A-Za-z0-9_-]{43}", text_of(out))
    (token,) = api_tokens.list_tokens(conn, alice.id)
    assert token.expires_at == pytest.approx(time.time() + 30 * 86400, abs=60)
    day = time.strftime("%Y-%m-%d", time.localtime(token.expires_at))
    assert f"expires {day}" in text_of(out)
    out = call(app, client, page.TOKEN_ALERT, {page.TOKEN_NAME: "forever", page.TOKEN_SCOPE: "read",
                                               page.TOKEN_EXPIRY: "never"}, f"{page.TOKEN_CREATE}.n_clicks")
    assert "never expires" in text_of(out)
    conn.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", (time.time() - 5, token.id))
    out = call(app, client, page.TOKEN_ALERT, {page.TOKEN_NAME: "", page.TOKEN_SCOPE: "read",
                                               page.TOKEN_EXPIRY: "90"}, f"{page.TOKEN_CREATE}.n_clicks")
    assert "Give the token a name" in text_of(out)
    listed = page_table(app, page, alice)
    assert "expired " in listed and "never expires" in listed


def page_table(app, page, alice) -> str:
    with app.server.test_request_context():
        return repr(page.token_table(alice.id))
