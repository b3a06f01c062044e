"""A really full disk (a small tmpfs filled to the last byte) on the web side (issue 22, item 9):
login, a page's callback and an API submission answer "The server's disk is full…" instead of a
raw 500, reads keep working, and once space is back nothing is corrupted or half-saved."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import dash
import pytest
from markupsafe import escape

from dash_app.disk_full import MESSAGE, is_disk_full
from services.people import api_tokens, users
from services.platform import db
from services.platform.settings import load_settings
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, csrf_token, login
from tests.dash_app.test_account_page import call
from tests.dash_app.test_api_v1 import bearer, submit


@pytest.fixture
def disk(tmp_path):
    """A 24 MiB tmpfs at tmp_path/disk (unmounted at the end)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")
    yield mount
    db.close_all()
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def full(disk):
    """Settings, app and conn on the tmpfs; `fill()` takes every free byte, `free()` gives them back."""
    from dash_app import create_app

    settings = load_settings(environ={}, dotenv=None, data_dir=disk / "data")
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    for name, password, role in (("admin", ADMIN_PASSWORD, users.Role.ADMIN), ("alice", USER_PASSWORD, "user")):
        users.accept_terms(conn, users.create_user(conn, name, password, role).id)
    app = create_app(settings)
    app.server.config.update(TESTING=True)
    filler = disk / "filler"

    class Full:
        pass

    full = Full()
    full.settings, full.conn, full.app, full.free = settings, conn, app, filler.unlink
    full.fill = lambda: fill_disk(filler, conn)
    return full


def fill_disk(filler, conn=None) -> None:
    """Take every free byte of the file system `filler` is on, into `filler` (unlink it to give them back)."""
    if conn is not None:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL must grow for the next write
    with open(filler, "ab", buffering=0) as f:
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    assert os.statvfs(filler.parent).f_bavail == 0


def account_page():
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/account")]


def test_full_disk_gets_a_clear_message_and_corrupts_nothing(full):
    app, conn = full.app, full.conn
    alice = users.get_by_name(conn, "alice")
    _, secret = api_tokens.create_token(conn, alice.id, "script", "write")
    browser = app.server.test_client()
    assert login(browser, "alice", USER_PASSWORD).status_code == 302
    stranger = app.server.test_client()
    token = csrf_token(stranger.get("/login").get_data(as_text=True))
    api = app.server.test_client()
    tokens_before = len(api_tokens.list_tokens(conn, alice.id))

    full.fill()

    r = stranger.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert r.status_code == 507 and str(escape(MESSAGE)) in r.get_data(as_text=True)

    page = account_page()
    r_json = call_raw(app, browser, page, {page.TOKEN_NAME: "ci", page.TOKEN_SCOPE: "read", page.TOKEN_EXPIRY: "30"})
    assert r_json["sideUpdate"]["shell-alerts"]["children"]["props"]["id"] == "disk-full-alert"
    assert MESSAGE in json.dumps(r_json)

    r = submit(api, secret)
    assert r.status_code == 507 and r.json == {"error": MESSAGE}

    assert browser.get("/account").status_code == 200  # reading still works
    listed = api.get("/api/v1/jobs", headers=bearer(secret))  # the API's rate bucket is a write per request
    assert listed.status_code == 200 or listed.json == {"error": MESSAGE}

    full.free()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0  # nothing half-submitted
    assert len(api_tokens.list_tokens(conn, alice.id)) == tokens_before
    assert login(app.server.test_client(), "admin", ADMIN_PASSWORD).status_code == 302
    assert submit(api, secret).status_code == 201
    assert "fdk_" in json.dumps(call(app, browser, page.TOKEN_ALERT, {page.TOKEN_NAME: "ci", page.TOKEN_SCOPE: "read",
                                                                     page.TOKEN_EXPIRY: "30"},
                                     f"{page.TOKEN_CREATE}.n_clicks"))


def call_raw(app, client, page, values: dict) -> dict:
    """POST the token callback and return the whole JSON answer (side updates included)."""
    from tests.conftest import dash_post

    key, spec = next((k, s) for k, s in app.callback_map.items() if k.lstrip(".").startswith(page.TOKEN_ALERT + "."))
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]} for o in key.strip(".").split("...")]
    inputs = [{"id": d["id"], "property": d["property"], "value": 1 if d["id"] == page.TOKEN_CREATE else None}
              if not d["id"].startswith("{") else [] for d in spec["inputs"]]
    state = [{"id": d["id"], "property": d["property"], "value": values.get(d["id"])} for d in spec["state"]]
    r = dash_post(client, {"output": key, "outputs": outputs, "inputs": inputs, "state": state,
                           "changedPropIds": [f"{page.TOKEN_CREATE}.n_clicks"]})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.json


def test_only_a_full_disk_is_taken_for_one():
    import sqlite3

    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise sqlite3.OperationalError("cannot rollback - no transaction is active") from None
    except sqlite3.OperationalError as wrapped:
        assert is_disk_full(wrapped)  # the ROLLBACK that failed after the real cause
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(FileNotFoundError(errno.ENOENT, "gone"))
    assert not is_disk_full(ValueError("x"))
