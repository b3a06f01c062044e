"""Admin pages over HTTP: admin-only on the server (pages and every callback), the filter bar's
parsing, and the callbacks' effects (a disabled user's next request is refused)."""
from __future__ import annotations

import sys
from datetime import datetime

import dash
import pytest

from services import jobs
from services.people import users
from services.platform import applog, db
from services.platform.applog import LogFilters
from services.platform.errors import InvalidInput
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, dash_post, login

ADMIN_PAGES = ["/admin/logs", "/admin/users", "/admin/queue"]


def admin_callbacks(app) -> list[dict]:
    """Return a minimal request body for every callback whose outputs are admin components."""
    bodies = []
    for key, cb in app.callback_map.items():
        if not key.lstrip(".").startswith("admin-"):
            continue
        specs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
                 for o in key.strip(".").split("...")]
        bodies.append({"output": key, "outputs": specs if len(specs) > 1 else specs[0],
                       "inputs": [{"id": i["id"], "property": i["property"], "value": None} for i in cb["inputs"]],
                       "state": [{"id": s["id"], "property": s["property"], "value": None} for s in cb["state"]],
                       "changedPropIds": []})
    return bodies


def test_admin_pages_and_callbacks_are_refused_to_non_admins(app, client):
    app.server.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    bodies = admin_callbacks(app)
    assert len(bodies) >= 16  # logs 5, users 7, queue 4
    for body in bodies:
        r = dash_post(client, body)
        assert r.status_code == 403, body["output"]
        assert r.json["error"] == "This is for admins only."


def test_only_admins_see_the_pages_in_the_navbar(app, client):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    assert "nav-admin_" not in client.get("/_dash-layout").get_data(as_text=True)
    client.post("/logout", data={})  # CSRF-less logout is refused; start a fresh client instead
    admin = app.server.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    layout = admin.get("/_dash-layout").get_data(as_text=True)
    for path in ADMIN_PAGES:
        assert admin.get(path).status_code == 200
        assert f"nav-admin_{path.rsplit('/', 1)[1]}" in layout


def page_module(path: str):
    """Return a page's module as Dash imported it (pages register only after the app exists)."""
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == path)]


def test_filters_from_form(app):
    admin_logs = page_module("/admin/logs")
    now = 1_700_000_000.0
    f = admin_logs.filters_from_form(["ERROR"], "auth", " alice ", "#12", " failed ", "1h", None, None, now=now)
    assert f == LogFilters(levels=("ERROR",), source="auth", username="alice", job_id=12, text="failed",
                           since=now - 3600, until=None)
    assert admin_logs.filters_from_form([], None, "", "", "", "all", "", "") == LogFilters()
    custom = admin_logs.filters_from_form([], None, None, None, None, "custom", "2025-01-31 14:05", "2025-02-01")
    assert custom.since == datetime(2025, 1, 31, 14, 5).timestamp()
    assert custom.until == datetime(2025, 2, 1).timestamp()
    with pytest.raises(InvalidInput, match="not a job number"):
        admin_logs.filters_from_form([], None, None, "abc", None, "all", None, None)
    with pytest.raises(InvalidInput, match="write it like 2025-01-31 14:05"):
        admin_logs.filters_from_form([], None, None, None, None, "custom", "yesterday", None)


def callback_body(app, output_key: str, values: dict) -> dict:
    """Return the request body for the callback with this output key, inputs/states from `values`."""
    key = next(k for k in app.callback_map if output_key in k and f"{output_key}@" not in k)
    cb = app.callback_map[key]
    specs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in key.strip(".").split("...")]

    def item(dep):
        return {"id": dep["id"], "property": dep["property"], "value": values.get(dep["id"])}

    return {"output": key, "outputs": specs if len(specs) > 1 else specs[0],
            "inputs": [item(i) for i in cb["inputs"]], "state": [item(s) for s in cb["state"]],
            "changedPropIds": [f"{cb['inputs'][0]['id']}.{cb['inputs'][0]['property']}"]}


def logs_body(app, user="", text="", levels=()):
    values = {"admin-logs-levels": list(levels), "admin-logs-user": user, "admin-logs-text": text,
              "admin-logs-range": "all", "admin-logs-offset": 0}
    return callback_body(app, "admin-logs-grid.rowData", values)


def test_log_page_callback_filters_to_a_users_failed_logins(app, client, settings):
    conn = db.connect(settings.db_path)
    for _ in range(2):
        users.authenticate(conn, "alice", "wrong-password", "10.9.8.7")
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    assert applog.flush()
    r = dash_post(client, logs_body(app, user="alice", levels=["WARNING"]))
    assert r.status_code == 200, r.get_data(as_text=True)
    resp = r.json["response"]
    rows = resp["admin-logs-grid"]["rowData"]
    assert [(x["username"], x["level"], x["address"]) for x in rows] == [("alice", "WARNING", "10.9.8.7")] * 2
    assert "wrong password" in rows[0]["message"]
    assert resp["admin-logs-page-info"]["children"] == "1–2 of 2"
    bad = dash_post(client, logs_body(app, text="ab")).json["response"]
    assert "at least 3 characters" in str(bad["admin-logs-alert"]["children"])


def test_unhandled_callback_error_is_logged(app, admin_client, settings, monkeypatch):
    app.server.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    def explode(*_a, **_k):
        raise RuntimeError("kaboom in a callback")

    monkeypatch.setattr(applog, "last_id", explode)
    assert dash_post(admin_client, logs_body(app)).status_code == 500
    assert applog.flush()
    entries, _ = applog.query(db.connect(settings.db_path), LogFilters(source="web"), 0, 5)
    assert entries and entries[0].level == "ERROR" and entries[0].username == "admin"
    assert "kaboom in a callback" in entries[0].message and "Traceback" in entries[0].message


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_page_layouts_render(app, path):
    with app.server.test_request_context(path):
        tree = page_module(path).layout()
    assert tree.to_plotly_json()  # a bad component argument raises while building, before this
    ids = []

    def walk(node):
        if hasattr(node, "id") and isinstance(getattr(node, "id", None), str):
            ids.append(node.id)
        for child in getattr(node, "children", None) if isinstance(getattr(node, "children", None), list) else \
                [getattr(node, "children", None)]:
            if hasattr(child, "to_plotly_json"):
                walk(child)

    walk(tree)
    assert ids and all(i.startswith("admin-") for i in ids), [i for i in ids if not i.startswith("admin-")]


def test_live_tail_patches_new_entries_on_top(app, admin_client, settings):
    conn = db.connect(settings.db_path)
    assert applog.flush()
    cursor = applog.last_id(conn)
    users.authenticate(conn, "alice", "wrong-password", "10.1.1.1")
    assert applog.flush()
    body = callback_body(app, "admin-logs-grid.rowData@", {"admin-logs-range": "all", "admin-logs-user": "alice",
                                                             "admin-logs-cursor": {"last": cursor, "shown": 3},
                                                             "admin-logs-offset": 0, "admin-logs-tick": 1})
    resp = dash_post(admin_client, body).json["response"]
    ops = resp["admin-logs-grid"]["rowData"]["operations"]
    assert [op["operation"] for op in ops] == ["Prepend"]
    assert ops[0]["params"]["value"]["message"] == "login failed for alice from 10.1.1.1: wrong password"
    assert resp["admin-logs-cursor"]["data"] == {"last": cursor + 1, "shown": 4}
    again = dash_post(admin_client, {**body, "state": [
        {**s, "value": {"last": cursor + 1, "shown": 4}} if s["id"] == "admin-logs-cursor" else s
        for s in body["state"]]})
    assert again.status_code in (200, 204) and not (again.get_json(silent=True) or {}).get("response")  # no_update


def submit_for(settings, username: str, name: str) -> jobs.Job:
    """Submit a tiny job as `username`; return it."""
    conn = db.connect(settings.db_path)
    owner = users.get_by_name(conn, username)
    return jobs.submit(conn, settings, owner, {"name": name, "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
                                               "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]})


def ask_cancel(app, client, rows) -> dict:
    """Press "Cancel selected job" with these grid rows selected; return the callback's response."""
    body = callback_body(app, "admin-queue-confirm.displayed", {"admin-queue-cancel": 1, "admin-queue-grid": rows})
    r = dash_post(client, body)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json["response"]


def confirm_cancel(app, client, pending):
    """Press OK in the cancel dialog while it holds `pending`; return the HTTP response."""
    body = callback_body(app, "admin-queue-pending.data@", {"admin-queue-confirm": 1, "admin-queue-pending": pending,
                                                            "admin-queue-refresh": 3})
    return dash_post(client, body)


def test_cancel_asks_first_naming_job_and_owner_then_cancels_on_confirm(app, admin_client, settings):
    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    job = submit_for(settings, "alice", "keep-me-or-not")
    other = submit_for(settings, "alice", "bystander")
    resp = ask_cancel(app, admin_client, [{"id": job.id, "owner": "forged-in-the-browser"}])
    assert resp["admin-queue-confirm"]["displayed"] is True
    message = resp["admin-queue-confirm"]["message"]
    assert f"job #{job.id} (keep-me-or-not)" in message and "owned by alice" in message, message
    assert "forged" not in message  # the owner comes from the database, not the grid row
    assert resp["admin-queue-pending"]["data"] == job.id
    assert jobs.get_job(conn, alice, job.id).state is jobs.JobState.QUEUED  # asking cancels nothing

    done = confirm_cancel(app, admin_client, job.id).json["response"]
    assert f"Job {job.id} (keep-me-or-not, alice) is cancelled." in str(done["admin-queue-alert"]["children"])
    assert done["admin-queue-refresh"]["data"] == 4 and done["admin-queue-pending"]["data"] is None
    assert jobs.get_job(conn, alice, job.id).state is jobs.JobState.CANCELLED
    assert jobs.get_job(conn, alice, other.id).state is jobs.JobState.QUEUED


def test_cancel_dialog_refuses_without_a_cancellable_selection(app, admin_client, settings):
    nothing = ask_cancel(app, admin_client, [])
    assert nothing["admin-queue-confirm"]["displayed"] is False
    assert "Select a job in the list first." in str(nothing["admin-queue-alert"]["children"])
    job = submit_for(settings, "alice", "already-gone")
    assert confirm_cancel(app, admin_client, job.id).status_code == 200
    finished = ask_cancel(app, admin_client, [{"id": job.id}])
    assert finished["admin-queue-confirm"]["displayed"] is False
    assert "already cancelled" in str(finished["admin-queue-alert"]["children"])
    dismissed = confirm_cancel(app, admin_client, None)  # OK with no pending job (dialog dismissed) does nothing
    assert dismissed.status_code in (200, 204) and not (dismissed.get_json(silent=True) or {}).get("response")
