"""The login form's throttle through the real app: per (account, address), proxy header only when trusted."""
from __future__ import annotations

import dataclasses

from services.people import users
from services.platform import db
from tests.conftest import USER_PASSWORD, csrf_token


def post_login(client, username: str, password: str, forwarded: str | None = None, remote: str = "10.1.1.1"):
    page = client.get("/login")
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))},
                       headers=headers, environ_base={"REMOTE_ADDR": remote})


def test_one_account_failing_does_not_lock_out_the_lab(app, conn):
    users.create_user(conn, "bob", "bob-password-1")
    client = app.server.test_client()
    for _ in range(5):
        assert post_login(client, "alice", "wrong-password").status_code == 401
    assert post_login(client, "alice", USER_PASSWORD).status_code == 429
    assert post_login(app.server.test_client(), "bob", "bob-password-1").status_code == 302
    assert post_login(app.server.test_client(), "admin", "admin-password-1").status_code == 302


def test_forwarded_header_is_ignored_without_a_trusted_proxy(app):
    """Otherwise anyone could claim a fresh address with each guess."""
    client = app.server.test_client()
    for i in range(5):
        assert post_login(client, "alice", "wrong-password", forwarded=f"203.0.113.{i}").status_code == 401
    assert post_login(client, "alice", USER_PASSWORD, forwarded="198.51.100.7").status_code == 429


def test_trusted_proxy_gives_each_client_its_own_address(settings):
    from dash_app import create_app

    app = create_app(dataclasses.replace(settings, trusted_proxies=1))
    app.server.config.update(TESTING=True)
    client = app.server.test_client()
    for _ in range(5):  # all through the proxy at 10.1.1.1, from the guesser at 203.0.113.9
        assert post_login(client, "alice", "wrong-password", forwarded="203.0.113.9").status_code == 401
    assert post_login(client, "alice", USER_PASSWORD, forwarded="203.0.113.9").status_code == 429
    # alice at her own desk, through the same proxy, is not locked out
    assert post_login(app.server.test_client(), "alice", USER_PASSWORD, forwarded="198.51.100.7").status_code == 302
    # the address recorded is the client's, not the proxy's
    conn = db.connect(settings.db_path)
    assert {r[0] for r in conn.execute("SELECT address FROM login_failures")} == {"203.0.113.9"}
