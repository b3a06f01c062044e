"""The login gate as a matrix, plus CSRF, open redirect, throttling and session ending."""
import re

import dash
import pytest

from services.people import users
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, dash_post, login


def page_paths():
    """Every registered Dash page, with a placeholder for path variables."""
    return sorted(re.sub(r"<[^>]+>", "1", p["path_template"] or p["path"]) for p in dash.page_registry.values())


def is_admin_page(path):
    return path.startswith("/admin")


def as_role(client, role):
    if role == "user":
        assert login(client, "alice", USER_PASSWORD).status_code == 302
    elif role == "admin":
        assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_page_gate_matrix(app, client, role):
    as_role(client, role)
    paths = page_paths()
    assert "/" in paths
    for path in paths:
        r = client.get(path)
        if role == "anonymous":
            assert r.status_code == 302 and r.location.startswith("/login?next="), path
        elif role == "user" and is_admin_page(path):
            assert r.status_code == 403, path
        else:
            assert r.status_code == 200, path


@pytest.mark.parametrize("role, expected", [("anonymous", 401), ("user", 200), ("admin", 200)])
@pytest.mark.parametrize("endpoint", ["/_dash-layout", "/_dash-dependencies"])
def test_dash_endpoints(app, client, role, expected, endpoint):
    as_role(client, role)
    r = client.get(endpoint)
    assert r.status_code == expected
    if expected == 401:
        assert r.is_json and "log in" in r.json["error"]


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_api_prefix(app, client, role):
    as_role(client, role)
    r = client.get("/api/anything")
    assert (r.status_code == 401) == (role == "anonymous")


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_public_endpoints(app, client, role):
    as_role(client, role)
    health = client.get("/healthz")  # public; no worker, sampler or sender runs here, and it says so
    assert health.status_code == 503 and health.json["status"] == "failing"
    assert client.get("/assets/folddeck.css").status_code == 200
    assert client.get("/assets/vendor/01-bootstrap-flatly.min.css").status_code == 200
    login_page = client.get("/login")
    assert login_page.status_code == (200 if role == "anonymous" else 302)


def test_unauthenticated_dash_update_is_401(client):
    r = client.post("/_dash-update-component", json={"output": "nav-collapse.is_open"})
    assert r.status_code == 401 and r.is_json


@pytest.mark.parametrize("role, admin_output, expected_403", [
    ("user", True, True), ("admin", True, False), ("user", False, False),
])
def test_admin_callbacks_refused_to_non_admins(app, client, role, admin_output, expected_403):
    app.server.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)  # unknown callback -> 500, not raise
    as_role(client, role)
    out = {"id": "admin-users-grid" if admin_output else "nav-collapse", "property": "children"}
    r = dash_post(client, {"output": "x.children", "outputs": out, "inputs": [], "changedPropIds": []})
    assert (r.status_code == 403) == expected_403, r.status_code
    wildcard = {"id": {"type": "admin-user-row", "index": 1}, "property": "children"}
    if admin_output:
        refused = dash_post(client, {"output": "x", "outputs": [wildcard], "inputs": []}).status_code == 403
        assert refused == expected_403


def test_dash_post_without_csrf_header_is_400(admin_client):
    r = admin_client.post("/_dash-update-component", json={"output": "nav-collapse.is_open"})
    assert r.status_code == 400


def test_login_post_without_csrf_token_is_400(client):
    r = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 400
    assert client.get("/").status_code == 302  # not logged in


def test_login_redirects_to_local_next(client):
    r = login(client, "alice", USER_PASSWORD, next_url="/status?range=1h")
    assert r.status_code == 302 and r.location == "/status?range=1h"


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                                  "http:/evil.example", "\\\\evil.example"])
def test_open_redirect_refused(client, evil):
    from urllib.parse import quote

    r = login(client, "alice", USER_PASSWORD, next_url=quote(evil, safe=""))
    assert r.status_code == 302 and r.location == "/"


def test_wrong_password_shows_error_and_throttles(client):
    for _ in range(5):
        r = login(client, "alice", "wrong-password")
        assert r.status_code == 401 and b"Wrong username or password" in r.data
    r = login(client, "alice", USER_PASSWORD)
    assert r.status_code == 429 and b"Too many failed logins" in r.data and b"wait" in r.data


def test_disabled_user_session_stops_on_next_request(app, settings, conn):
    c1 = app.server.test_client()
    assert login(c1, "alice", USER_PASSWORD).status_code == 302
    assert c1.get("/").status_code == 200
    users.set_active(conn, users.get_by_name(conn, "alice").id, False)
    assert c1.get("/").status_code == 302
    assert c1.get("/_dash-layout").status_code == 401
    assert login(app.server.test_client(), "alice", USER_PASSWORD).status_code == 401


def test_logout_needs_post_with_csrf_and_ends_session(admin_client):
    confirm = admin_client.get("/logout")  # GET only asks; it must not log out (no CSRF on GET)
    assert confirm.status_code == 200 and b"logout-confirm" in confirm.data
    assert admin_client.get("/").status_code == 200
    assert admin_client.post("/logout").status_code == 400  # no token
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.get_data(as_text=True))
    r = admin_client.post("/logout", data={"csrf_token": token.group(1)})
    assert r.status_code == 302 and r.location.endswith("/login")
    assert admin_client.get("/").status_code == 302


def test_session_cookie_flags(client):
    r = login(client, "alice", USER_PASSWORD)
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_cookie_secure_setting(settings):
    from dash_app import create_app

    app = create_app(settings.with_overrides(cookie_secure=True))
    c = app.server.test_client()
    r = login(c, "alice", USER_PASSWORD)
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")][0]
    assert "Secure" in cookie


def test_navbar_shows_name_role_and_only_allowed_pages(app, client):
    as_role(client, "user")
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "alice" in layout and '"user"' in layout
    assert "/admin" not in layout


def test_gate_leaves_the_callback_body_intact_for_wildcard_outputs(app, user_client):
    """The gate inspects outputs of every non-admin callback; Dash must still see them unchanged."""
    from flask import request

    from dash_app.auth import _is_admin_callback

    nested = [[{"id": {"type": "x", "index": 1}, "property": "children"},
               {"id": {"type": "x", "index": 2}, "property": "children"}], {"id": "y", "property": "value"}]
    with app.server.test_request_context("/_dash-update-component", method="POST",
                                         json={"output": "..x..", "outputs": nested}):
        assert _is_admin_callback() is False
        assert request.get_json()["outputs"] == nested


def test_oversized_request_gets_a_clear_413(app, admin_client):
    limit = app.server.config["MAX_CONTENT_LENGTH"]
    r = admin_client.post("/_dash-update-component", data=b"x" * (limit + 1),
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json["error"] and "Nothing was queued" in r.json["error"]
