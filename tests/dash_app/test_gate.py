"""The gate's extra refusals and messages: deep JSON bodies, disabled accounts, the 403 page (issue 11)."""
from __future__ import annotations

import pytest

from services.people import users
from tests.conftest import USER_PASSWORD, dash_post, login


def deep_body(depth: int) -> bytes:
    return b'{"output":"nav-collapse.is_open","inputs":' + b"[" * depth + b"]" * depth + b"}"


def post_raw(client, data: bytes):
    client.get("/")
    cookie = client.get_cookie("_csrf_token")
    return client.post("/_dash-update-component", data=data, content_type="application/json",
                       headers={"X-CSRFToken": cookie.value})


def test_a_100k_deep_json_body_is_a_400_not_a_500(user_client):
    r = post_raw(user_client, deep_body(100_000))
    assert r.status_code == 400 and "nests deeper" in r.json["error"]
    r = post_raw(user_client, deep_body(500))  # parses, but deeper than any callback body
    assert r.status_code == 400


def test_a_deep_body_is_refused_before_the_login_check(client):
    r = client.post("/_dash-update-component", data=deep_body(100_000), content_type="application/json")
    assert r.status_code == 400


def test_ordinary_callback_bodies_pass_the_depth_check(user_client):
    columns = [{"colId": f"c{i}", "sort": None, "extra": [[{"x": [1]}]]} for i in range(40)]  # many brackets
    body = {"output": "dashboard-sort.data", "outputs": {"id": "dashboard-sort", "property": "data"},
            "inputs": [{"id": "dashboard-grid", "property": "columnState",
                        "value": columns + [{"colId": "name", "sort": "asc"}]}],
            "state": [{"id": "dashboard-sort", "property": "data", "value": "submitted_desc"}],
            "changedPropIds": ["dashboard-grid.columnState"]}
    r = dash_post(user_client, body)
    assert r.status_code == 200 and r.json["response"]["dashboard-sort"]["data"] == "name_asc"


def test_a_disabled_user_is_told_on_the_login_page(app, conn):
    client = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    users.set_active(conn, users.get_by_name(conn, "alice").id, False)
    r = client.get("/jobs/1")
    assert r.status_code == 302 and "/login" in r.location
    page = client.get(r.location).get_data(as_text=True)
    assert 'id="login-notice"' in page and "disabled by an administrator" in page
    again = client.get("/login").get_data(as_text=True)
    assert "login-notice" not in again  # said once


def test_a_disabled_user_polling_gets_the_reason_in_the_401(app, conn):
    client = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    users.set_active(conn, users.get_by_name(conn, "alice").id, False)
    r = client.post("/_dash-update-component", json={"output": "nav-collapse.is_open"})
    assert r.status_code == 401 and "disabled" in r.json["error"]
    assert "disabled by an administrator" in client.get("/login").get_data(as_text=True)


def test_a_stranger_learns_nothing_about_accounts(app, conn):
    """Only a session cookie that named the account tells; a fresh visitor sees a plain login page."""
    users.set_active(conn, users.get_by_name(conn, "alice").id, False)
    page = app.server.test_client().get("/login").get_data(as_text=True)
    assert "login-notice" not in page and "disabled" not in page


def test_a_changed_password_says_the_session_ended(app, conn):
    client = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    users.set_password(conn, users.get_by_name(conn, "alice").id, "a-new-password-1")
    r = client.get("/")
    page = client.get(r.location).get_data(as_text=True)
    assert "Your session has ended" in page and "disabled" not in page


def test_the_403_page_has_the_apps_navbar(user_client):
    r = user_client.get("/admin/logs")
    text = r.get_data(as_text=True)
    assert r.status_code == 403 and "Admins only" in text
    assert 'id="shell-navbar"' in text and 'id="nav-username">alice<' in text and 'id="nav-logout"' in text
    assert 'href="/builder"' in text and "/admin/" not in text.replace("/admin/logs", "")  # no admin links
    assert "bootstrap-icons" in text and 'name="csrf_token"' in text


@pytest.mark.parametrize("path", ["//admin/users", "/admin/logs/", "/admin"])
def test_admin_page_loads_by_any_spelling_are_refused(user_client, path):
    # PATH_INFO as a browser sends it (the test client would read "//admin" as a host name)
    r = user_client.get("/", environ_overrides={"PATH_INFO": path}, follow_redirects=True)
    assert r.status_code == 403 and "Admins only" in r.get_data(as_text=True)
