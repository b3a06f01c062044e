"""Compressed responses decode to the very bytes sent uncompressed; fingerprinted files cache for a year."""
from __future__ import annotations

import gzip
import re

import brotli
import pytest

from dash_app.compression import StaticCache
from services import jobs
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_dashboard import AF3, _refresh_payload

DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}


def fetch(client, url: str, encoding: str, **kw):
    r = client.get(url, headers={"Accept-Encoding": encoding}, **kw)
    return r, DECODE[r.headers.get("Content-Encoding")](r.get_data())


def page_urls(html: bytes) -> list[str]:
    return [u.decode() for u in re.findall(rb'(?:src|href)="(/[^"]+)"', html)]


def test_js_css_and_pages_decode_to_the_same_bytes(user_client):
    _, html = fetch(user_client, "/", "identity")
    urls = page_urls(html)
    assert any("dash_ag_grid" in u for u in urls) and any(u.startswith("/assets/") and ".css" in u for u in urls)
    for url in urls:
        plain, want = fetch(user_client, url, "identity")
        assert "Content-Encoding" not in plain.headers
        for enc in ("br", "gzip"):
            r, got = fetch(user_client, url, enc)
            assert got == want, url
            if len(want) >= 500:
                assert r.headers["Content-Encoding"] == enc and len(r.get_data()) < len(want), url
            assert "Accept-Encoding" in r.headers["Vary"]
        # a second request comes from the per-worker cache, byte for byte
        assert fetch(user_client, url, "br")[1] == want


def test_callback_responses_are_compressed_and_decode_the_same(app, user_client, conn, settings):
    alice = users.get_by_name(conn, "alice")
    for i in range(60):
        jobs.submit(conn, settings, alice, AF3, name=f"job-{i}")
    dash_post(user_client, _refresh_payload(app))  # sets the CSRF cookie
    token = user_client.get_cookie("_csrf_token").value
    bodies = {}
    for enc in ("identity", "br", "gzip"):
        r = user_client.post("/_dash-update-component", json=_refresh_payload(app),
                             headers={"X-CSRFToken": token, "Accept-Encoding": enc})
        assert r.status_code == 200
        assert r.headers.get("Content-Encoding") == (None if enc == "identity" else enc)
        bodies[enc] = DECODE[r.headers.get("Content-Encoding")](r.get_data())
    assert bodies["br"] == bodies["gzip"] == bodies["identity"] and len(bodies["identity"]) > 10_000


def test_small_and_empty_responses_stay_plain(app, user_client):
    cursor = dash_post(user_client, _refresh_payload(app)).get_json()["response"]["dashboard-cursor"]["data"]
    r = dash_post(user_client, _refresh_payload(app, cursor=cursor))
    assert r.status_code == 204 and "Content-Encoding" not in r.headers
    r = user_client.get("/assets/dashboard.js", headers={"Accept-Encoding": "br"})
    assert len(r.get_data()) < 500 and "Content-Encoding" not in r.headers  # under the threshold
    r = user_client.get("/_dash-dependencies", headers={"Accept-Encoding": "br"})
    assert r.headers.get("Content-Encoding") == "br"


def test_fingerprinted_files_cache_for_a_year_and_others_revalidate(user_client):
    _, html = fetch(user_client, "/", "identity")
    urls = page_urls(html)
    for url in (next(u for u in urls if "/_dash-component-suites/" in u), next(u for u in urls if "?m=" in u)):
        cc = user_client.get(url).headers["Cache-Control"]
        assert "max-age=31536000" in cc and "immutable" in cc and "no-cache" not in cc, url
    bare = next(u for u in urls if "?m=" in u).split("?")[0]
    assert "max-age=31536000" not in (user_client.get(bare).headers.get("Cache-Control") or "")
    assert "max-age=31536000" not in (user_client.get("/").headers.get("Cache-Control") or "")


def test_icon_font_named_by_its_hash_caches_for_good(user_client):
    css = user_client.get("/assets/vendor/02-bootstrap-icons.min.css").get_data(as_text=True)
    font = "/assets/vendor/" + re.search(r'url\("(fonts/bootstrap-icons\.woff2\?[0-9a-f]+)"\)', css).group(1)
    cc = user_client.get(font).headers["Cache-Control"]
    assert "max-age=31536000" in cc and "immutable" in cc, cc
    assert "immutable" not in (user_client.get(font.split("?")[0]).headers.get("Cache-Control") or "")


def test_cold_dashboard_load_is_under_1_2_mb(app, user_client):
    sent = 0
    r, html = fetch(user_client, "/", "br, gzip")
    sent += len(r.get_data())
    for url in page_urls(html) + ["/_dash-layout", "/_dash-dependencies"]:
        r = user_client.get(url, headers={"Accept-Encoding": "br, gzip"})
        assert r.status_code == 200, url
        sent += len(r.get_data())
    assert sent < 1.2e6, f"{sent:,} bytes"


@pytest.mark.parametrize("key", ["br;", "gzip;"])
def test_static_cache_never_keeps_uncacheable_responses(key):
    cache = StaticCache(max_bytes=10)
    cache.set(key, b"callback body")
    cache.set("br;/assets/a.css?m=1", b"12345")
    cache.set("br;/assets/b.css?m=1", b"1234567")  # over the byte cap: not kept
    assert cache.data == {"br;/assets/a.css?m=1": b"12345"}
