"""Remembered session cookies: the same answers as a full check (tampered, expired, key changed), cheaper."""
from __future__ import annotations

import datetime

import pytest
from flask.sessions import SecureCookieSessionInterface

from dash_app.session_cache import CachedCookieSessions
from tests.conftest import dash_post
from tests.dash_app.test_dashboard import _refresh_payload


@pytest.fixture
def cookie(app, user_client):
    user_client.get("/")
    return user_client.get_cookie("session").value


def _open(app, iface, value):
    with app.server.test_request_context("/", headers={"Cookie": f"session={value}"}):
        from flask import request

        return iface.open_session(app.server, request)


def test_the_app_uses_it_and_polls_stay_logged_in(app, user_client):
    assert isinstance(app.server.session_interface, CachedCookieSessions)
    for _ in range(3):
        assert dash_post(user_client, _refresh_payload(app)).status_code == 200


def test_a_remembered_cookie_skips_the_signature_check(app, cookie, monkeypatch):
    iface = CachedCookieSessions()
    first = _open(app, iface, cookie)
    calls = []
    real = SecureCookieSessionInterface.get_signing_serializer
    monkeypatch.setattr(CachedCookieSessions, "get_signing_serializer",
                        lambda self, a: calls.append(1) or real(self, a))
    again = _open(app, iface, cookie)
    assert dict(again) == dict(first) and "_user_id" in again and calls == []
    again["csrf_token"] = "changed"  # a request changing its session does not change the remembered one
    assert _open(app, iface, cookie)["csrf_token"] == first["csrf_token"]


def test_same_answers_as_a_full_check(app, cookie):
    iface, plain = CachedCookieSessions(), SecureCookieSessionInterface()
    assert dict(_open(app, iface, cookie)) == dict(_open(app, plain, cookie))
    tampered = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    assert dict(_open(app, iface, tampered)) == dict(_open(app, plain, tampered)) == {}
    app.server.secret_key = "another key"  # a new key: the remembered cookie no longer verifies
    assert dict(_open(app, iface, cookie)) == dict(_open(app, plain, cookie)) == {}


def test_expiry_is_checked_on_every_request(app, cookie):
    iface = CachedCookieSessions()
    assert _open(app, iface, cookie)
    app.server.permanent_session_lifetime = datetime.timedelta(seconds=-1)  # every cookie is now too old
    assert dict(_open(app, iface, cookie)) == dict(_open(app, SecureCookieSessionInterface(), cookie)) == {}


def test_size_is_bounded(app, cookie):
    iface = CachedCookieSessions(size=1)
    _open(app, iface, cookie)
    _open(app, iface, cookie + "x")  # does not verify: not remembered
    assert len(iface._seen) == 1
