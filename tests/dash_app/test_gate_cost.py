"""A poll pays only for the checks: no fresh CSRF cookie and no session cookie per callback, checks intact."""
from __future__ import annotations

from tests.conftest import dash_post
from tests.dash_app.test_dashboard import _refresh_payload


def test_polls_set_no_cookies_page_loads_still_do(app, user_client):
    page = user_client.get("/")
    assert any(h.startswith("_csrf_token=") for h in page.headers.getlist("Set-Cookie"))
    first = dash_post(user_client, _refresh_payload(app))
    cursor = first.get_json()["response"]["dashboard-cursor"]["data"]
    for r in (first, dash_post(user_client, _refresh_payload(app, cursor=cursor))):
        assert r.headers.getlist("Set-Cookie") == [], r.status_code  # nothing re-signed or re-serialised


def test_checks_still_hold_for_polls(app, client, user_client):
    user_client.get("/")
    token = user_client.get_cookie("_csrf_token")
    no_token = user_client.post("/_dash-update-component", json=_refresh_payload(app))
    assert no_token.status_code == 400  # CSRF still checked on every callback
    bad = user_client.post("/_dash-update-component", json=_refresh_payload(app), headers={"X-CSRFToken": "x"})
    assert bad.status_code == 400
    assert token is not None
    user_client.post("/logout", data={"csrf_token": token.value})
    anon = user_client.post("/_dash-update-component", json=_refresh_payload(app),
                            headers={"X-CSRFToken": token.value})
    assert anon.status_code == 401
