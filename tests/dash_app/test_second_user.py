"""A second user (bob) attacks alice's data through every callback and route that takes an id, a path,
an owner or a filter from the browser (issue 11 item 2).

Each test posts the real callback body by hand, the way dash-renderer does (`/_dash-update-component`
with the CSRF header), with alice's job id / key / path in it, and asserts that not one byte of
alice's data comes back and that nothing of hers changed.
"""
from __future__ import annotations

import base64
import json
import sys
import time

import dash
import pytest

from dash_app.components import console as cons
from services import jobs
from services.af3 import load_json_text
from services.jobs import joblog
from services.metrics.model import HostSnapshot
from services.metrics.store import SnapshotStore, cache_dir
from services.people import users
from tests.conftest import ROOT, USER_PASSWORD, dash_post, login

BOB_PASSWORD = "bob-password-1"
SECRET_NAME = "alice-secret-fold"
SECRET_SEQ = "MALICESECRETSEQWENCE"
SECRET_LINE = "ALICE-SECRET-LOG"
SECRET_FILE = "ALICE-SECRET-FILE"
SECRETS = (SECRET_NAME, SECRET_SEQ, SECRET_LINE, SECRET_FILE, "alice")
ALICE_AF3 = {"name": SECRET_NAME, "modelSeeds": [7], "dialect": "alphafold3", "version": 1,
             "sequences": [{"protein": {"id": "A", "sequence": SECRET_SEQ}}]}


# -- the second user and alice's data ------------------------------------------------------------


@pytest.fixture
def bob_client(app, bob):
    client = app.server.test_client()
    assert login(client, "bob", BOB_PASSWORD).status_code == 302
    return client


@pytest.fixture
def alice_client(app):
    client = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    return client


@pytest.fixture
def alice_job(conn, settings, alice) -> jobs.Job:
    """Alice's finished job: a log of 3,000 secret lines and an output folder with a secret file."""
    job = jobs.submit(conn, settings, alice, ALICE_AF3, idempotency_key="builder-alicekey")
    joblog.append_lines(conn, job.id, [f"{SECRET_LINE} {i}" for i in range(3000)])
    out = settings.jobs_dir / str(job.id) / "attempt-1"
    (out / SECRET_NAME).mkdir(parents=True)
    (out / SECRET_NAME / "secret.txt").write_text(SECRET_FILE)
    set_state(conn, job.id, "succeeded", output_path=str(out))
    return jobs.get_job(conn, alice, job.id)


@pytest.fixture
def bob_job(conn, settings, bob) -> jobs.Job:
    job = jobs.submit(conn, settings, bob, {**ALICE_AF3, "name": "bobs-fold",
                                            "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]})
    joblog.append_lines(conn, job.id, ["bob line"])
    return job


def set_state(conn, job_id: int, state: str, **extra) -> None:
    sets = ", ".join(f"{k} = ?" for k in ["state", *extra])
    conn.execute(f"UPDATE jobs SET {sets}, updated_at = ? WHERE id = ?", (state, *extra.values(), time.time(), job_id))


def assert_nothing_of_alice(response) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code in (200, 204, 400, 403, 404), text[:500]
    leaked = [secret for secret in SECRETS if secret in text]  # (no pytest diff of a megabyte response)
    assert not leaked, f"{leaked} leaked: {text[:300]}"


def job_snapshot(conn, job_id: int) -> tuple:
    row = conn.execute("SELECT state, cancel_requested, attempts, log_seq, updated_at FROM jobs WHERE id = ?",
                       (job_id,)).fetchone()
    return tuple(row)


def jobs_of(conn, user: users.User) -> int:
    return conn.execute("SELECT COUNT(*) FROM jobs WHERE owner_id = ?", (user.id,)).fetchone()[0]


# -- building callback bodies the way dash-renderer does ---------------------------------------------


def _concrete(raw: str, match: dict):
    cid = json.loads(raw) if raw.startswith("{") else raw
    if isinstance(cid, dict):
        cid = {k: (match[k] if isinstance(v, list) else v) for k, v in cid.items()}
    return cid


def _prop_id(cid, prop: str) -> str:
    text = json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid
    return f"{text}.{prop}"


def callback_body(app, output_part: str, values: dict | None = None, trigger: str | None = None,
                  match: dict | None = None) -> dict:
    """Return the request body of the registered callback whose key contains `output_part`.

    `values` maps "id.prop" (ids as written in the callback) to the value sent; wildcard (ALL)
    inputs are sent as empty lists, MATCH ids get the values in `match`; `trigger` is the
    "id.prop" that changed.
    """
    values, match = values or {}, match or {}

    def triggered_by(key: str) -> bool:  # two callbacks may share outputs (allow_duplicate): the trigger decides
        return trigger is None or any(f"{d['id']}.{d['property']}" == trigger for d in app.callback_map[key]["inputs"])

    key = next(k for k in app.callback_map if output_part in k and triggered_by(k))
    spec = app.callback_map[key]
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    outputs = []
    for part in parts:
        cid, prop = part.split("@", 1)[0].rsplit(".", 1)
        outputs.append([] if '["ALL"]' in cid else {"id": _concrete(cid, match), "property": prop})

    def item(dep: dict):
        if '["ALL"]' in dep["id"]:
            return []
        return {"id": _concrete(dep["id"], match), "property": dep["property"],
                "value": values.get(f"{dep['id']}.{dep['property']}")}

    inputs, state = [item(d) for d in spec["inputs"]], [item(d) for d in spec["state"]]
    changed = []
    if trigger:
        dep = next(d for d in spec["inputs"] if f"{d['id']}.{d['property']}" == trigger)
        changed = [_prop_id(_concrete(dep["id"], match), dep["property"])]
    return {"output": key, "outputs": outputs if key.startswith("..") else outputs[0], "inputs": inputs,
            "state": state, "changedPropIds": changed}


def page_module(path: str):
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == path)]


def router_body(pathname: str, search: str = "") -> dict:
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}


# -- the job page ----------------------------------------------------------------------------------


def _job_tick(app, job_page, page_cursor, console_cursor) -> dict:
    ccur = json.dumps(cons.cid("cursor", "job"), sort_keys=True, separators=(",", ":"))
    return callback_body(app, f"{job_page.HEADER}.children",
                         {f"{job_page.INTERVAL}.n_intervals": 3, f"{job_page.CURSOR}.data": page_cursor,
                          f"{ccur}.data": console_cursor}, trigger=f"{job_page.INTERVAL}.n_intervals")


def test_job_poll_with_alices_id_in_the_console_cursor(app, bob_client, conn, alice_job, bob_job):
    """The reported attack: bob's own job in one store, alice's id in the console's cursor."""
    job_page = sys.modules["dash_app.pages.job"]
    bob_page = {"job": bob_job.id, "updated": bob_job.updated_at, "state": bob_job.state.value}
    for console_cursor in ({"job": alice_job.id, "blocks": [], "last": 0, "cap": 5000},
                           {"job": alice_job.id, "blocks": [], "last": None, "cap": 5000},
                           {"job": alice_job.id, "blocks": [1], "last": 10, "cap": 5000},
                           {"job": str(alice_job.id), "blocks": "x", "last": "0", "cap": None}):
        r = dash_post(bob_client, _job_tick(app, job_page, bob_page, console_cursor))
        assert_nothing_of_alice(r)
    # bob's own console still works with the same callback
    r = dash_post(bob_client, _job_tick(app, job_page, bob_page, cons.fresh_cursor(bob_job.id, 5000)))
    assert r.status_code == 200 and "bob line" in r.get_data(as_text=True)


def test_job_load_earlier_with_alices_id(app, bob_client, alice_job):
    body = callback_body(app, '{"key":"job","type":"console-earlier-wrap"}.hidden..', {
        '{"key":"job","type":"console-earlier"}.n_clicks': 1,
        '{"key":"job","type":"console-cursor"}.data': {"job": alice_job.id, "blocks": [2001], "last": 3000,
                                                       "cap": 1000}},
        trigger='{"key":"job","type":"console-earlier"}.n_clicks')
    assert "job-header" not in body["output"]
    assert_nothing_of_alice(dash_post(bob_client, body))


# Clone is no action any more: a link to /builder?clone=<id> (the builder checks the caller; tested below).
@pytest.mark.parametrize("button", ["retry", "cancel-confirm"])
def test_job_actions_with_alices_id(app, bob_client, conn, alice_job, bob, button):
    job_page = sys.modules["dash_app.pages.job"]
    set_state(conn, alice_job.id, "failed" if button == "retry" else
              ("queued" if button == "cancel-confirm" else "succeeded"))
    before, n_bob = job_snapshot(conn, alice_job.id), jobs_of(conn, bob)
    ccur = json.dumps(cons.cid("cursor", "job"), sort_keys=True, separators=(",", ":"))
    body = callback_body(app, f"{job_page.ALERT}.children",
                         {f"job-{button}.n_clicks": 1, f"{ccur}.data": cons.fresh_cursor(alice_job.id, 5000)},
                         trigger=f"job-{button}.n_clicks")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    assert "was not found" in r.get_data(as_text=True)
    assert job_snapshot(conn, alice_job.id) == before and jobs_of(conn, bob) == n_bob


def test_job_page_of_alices_job_through_the_router(app, bob_client, alice_job):
    r = dash_post(bob_client, router_body(f"/jobs/{alice_job.id}"))
    assert r.status_code == 200 and "Job not found" in r.get_data(as_text=True)
    assert_nothing_of_alice(r)


# -- plain Flask routes ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["log", "input", "files/alice-secret-fold/secret.txt"])
def test_job_routes_with_alices_id(bob_client, alice_job, route):
    r = bob_client.get(f"/api/jobs/{alice_job.id}/{route}")
    missing = bob_client.get(f"/api/jobs/999999/{route}")
    assert_nothing_of_alice(r)
    assert r.status_code == missing.status_code == 404
    assert r.is_json and missing.is_json  # a JSON error, not Flask's HTML page
    assert r.json["error"].replace(str(alice_job.id), "N") == missing.json["error"].replace("999999", "N")


def test_job_routes_serve_the_owner(alice_client, alice_job):
    assert SECRET_LINE in alice_client.get(f"/api/jobs/{alice_job.id}/log").get_data(as_text=True)
    assert SECRET_FILE in alice_client.get(
        f"/api/jobs/{alice_job.id}/files/{SECRET_NAME}/secret.txt").get_data(as_text=True)
    outside = alice_client.get(f"/api/jobs/{alice_job.id}/files/..%2F..%2F..%2Ffolddeck.db")
    assert outside.status_code == 404 and outside.is_json


def test_metrics_refuse_a_normal_user(bob_client):
    assert bob_client.get("/metrics").status_code == 401


# -- the dashboard ----------------------------------------------------------------------------------


@pytest.mark.parametrize("search", [None, "alice", SECRET_NAME, "#1"])
def test_dashboard_grid_with_all_users_and_searches(app, bob_client, alice_job, bob_job, search):
    dash_page = sys.modules["dash_app.pages.dashboard"]
    body = callback_body(app, f"{dash_page.GRID}.rowData", {
        f"{dash_page.STATE_FILTER}.value": "all", f"{dash_page.SEARCH}.value": search,
        f"{dash_page.PAGER}.active_page": 1, f"{dash_page.ALL_USERS}.value": True,
        f"{dash_page.SORT}.data": "submitted_desc", f"{dash_page.CURSOR}.data": None},
        trigger=f"{dash_page.ALL_USERS}.value")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    rows = r.json["response"][dash_page.GRID]["rowData"]
    assert [row["id"] for row in rows] == ([bob_job.id] if search is None else [])


@pytest.mark.parametrize("button", ["retry", "cancel-confirm"])
def test_dashboard_actions_with_alices_id(app, bob_client, conn, alice_job, bob, button):
    dash_page = sys.modules["dash_app.pages.dashboard"]
    set_state(conn, alice_job.id, "failed" if button == "retry" else "queued")
    before, n_bob = job_snapshot(conn, alice_job.id), jobs_of(conn, bob)
    body = callback_body(app, f"{dash_page.ALERT}.children",
                         {f"dashboard-{button}.n_clicks": 1, f"{dash_page.INTERVAL}.n_intervals": 4,
                          f"{dash_page.GRID}.selectedRows": [{"id": alice_job.id, "state": "failed"}]},
                         trigger=f"dashboard-{button}.n_clicks")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    assert "was not found" in r.get_data(as_text=True)
    assert job_snapshot(conn, alice_job.id) == before and jobs_of(conn, bob) == n_bob


def test_dashboard_open_only_answers_a_url(app, bob_client, alice_job):
    dash_page = sys.modules["dash_app.pages.dashboard"]
    body = callback_body(app, f"{dash_page.NAV}.pathname",
                         {f"{dash_page.OPEN}.n_clicks": 1, f"{dash_page.GRID}.selectedRows": [{"id": alice_job.id}]},
                         trigger=f"{dash_page.OPEN}.n_clicks")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    assert r.json["response"][dash_page.NAV]["pathname"] == f"/jobs/{alice_job.id}"  # that page then says not found


def test_dashboard_clone_only_answers_a_builder_url(app, bob_client, conn, alice_job, bob):
    dash_page = sys.modules["dash_app.pages.dashboard"]
    n_bob = jobs_of(conn, bob)
    body = callback_body(app, f"{dash_page.NAV}.href",
                         {f"{dash_page.CLONE}.n_clicks": 1, f"{dash_page.GRID}.selectedRows": [{"id": alice_job.id}]},
                         trigger=f"{dash_page.CLONE}.n_clicks")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    assert r.json["response"][dash_page.NAV]["href"] == f"/builder?clone={alice_job.id}"  # the builder refuses it
    assert jobs_of(conn, bob) == n_bob


# -- the builder and upload ---------------------------------------------------------------------------


def test_builder_load_copy_of_alices_job(app, bob_client, alice_job):
    builder = sys.modules["dash_app.pages.builder"]
    body = callback_body(app, f"{builder.CARDS}.children",
                         {f"{builder.CLONE_LOAD}.n_clicks": 1, f"{builder.CLONE_PICK}.value": alice_job.id,
                          f"{builder.STATE}.data": None}, trigger=f"{builder.CLONE_LOAD}.n_clicks")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    assert "was not found" in r.get_data(as_text=True)


def test_builder_clone_query_of_alices_job_through_the_router(app, bob_client, alice_job):
    r = dash_post(bob_client, router_body("/builder", f"?clone={alice_job.id}"))
    assert r.status_code == 200
    assert_nothing_of_alice(r)


def test_builder_submit_with_alices_idempotency_key(app, bob_client, conn, alice_job, bob):
    """The submit key comes from a Store: reusing alice's must not answer with her job."""
    from dash_app import builder as B

    builder = sys.modules["dash_app.pages.builder"]
    users.accept_terms(conn, bob.id)
    state, _ = B.from_af3({**ALICE_AF3, "name": "bobs-own", "sequences": [{"protein": {"id": "A",
                                                                                      "sequence": "MKVL"}}]})
    body = callback_body(app, f"{builder.SUBMIT_ERROR}.children",
                         {f"{builder.SUBMIT}.n_clicks": 1, f"{builder.STATE}.data": state,
                          f"{builder.SUBMIT_KEY}.data": "alicekey", f"{builder.TERMS_ACCEPT}.value": True},
                         trigger=f"{builder.SUBMIT}.n_clicks")
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    href = r.json["response"]["shell-url"]["href"]
    new_id = int(href.rsplit("/", 1)[1])
    assert new_id != alice_job.id and jobs.get_job(conn, bob, new_id).owner == "bob"


def test_upload_submit_with_alices_key(app, alice_client, bob_client, conn, alice, bob):
    upload = sys.modules["dash_app.pages.upload"]
    raw = (ROOT / "tests/fixtures/af3/protein_only.json").read_bytes()
    load_json_text(raw)  # a valid file
    batch = [{"name": "x.json", "bytes": len(raw), "skipped": None,
              "contents": "data:application/json;base64," + base64.b64encode(raw).decode()}]
    values = {f"{upload.SUBMIT_ALL}.n_clicks": 1, f"{upload.BATCH}.data": batch, f"{upload.KEY}.data": "k1",
              f"{upload.TERMS}.value": True}
    body = callback_body(app, f"{upload.RESULT}.children...", values, trigger=f"{upload.SUBMIT_ALL}.n_clicks")
    first = dash_post(alice_client, body)
    assert first.status_code == 200 and jobs_of(conn, alice) == 1
    alice_ids = {r[0] for r in conn.execute("SELECT id FROM jobs WHERE owner_id = ?", (alice.id,))}
    r = dash_post(bob_client, body)
    assert_nothing_of_alice(r)
    assert jobs_of(conn, bob) == 1 and not any(f"/jobs/{i}\"" in r.get_data(as_text=True) for i in alice_ids)


# -- the status page ---------------------------------------------------------------------------------


def test_status_cards_hide_whose_jobs_run(app, bob_client, settings, conn, alice_job):
    status = sys.modules["dash_app.pages.status"]
    set_state(conn, alice_job.id, "running", host="local")
    store = SnapshotStore(cache_dir(settings.data_dir))
    now = time.time()
    store.put([HostSnapshot(host="local", ts=now, cpu_percent=12.0, mem_used_bytes=1, mem_total_bytes=4)], now)
    store.close()
    body = callback_body(app, f"{status.CARDS}.children", {f"{status.INTERVAL}.n_intervals": 1},
                         trigger=f"{status.INTERVAL}.n_intervals")
    r = dash_post(bob_client, body)
    assert r.status_code == 200 and "1 running" in r.get_data(as_text=True)
    assert_nothing_of_alice(r)
    assert f"#{alice_job.id}" not in r.get_data(as_text=True)


# -- admin pages and admin callbacks --------------------------------------------------------------------


def test_every_admin_callback_is_refused_to_bob(app, bob_client, alice_job):
    from dash_app.auth import admin_callbacks

    with app.server.test_request_context():
        keys = admin_callbacks(app)
    assert len(keys) >= 10  # logs, users, queue
    for key in keys:
        r = dash_post(bob_client, {**callback_body(app, key), "output": key})
        assert r.status_code == 403, key
        assert_nothing_of_alice(r)


@pytest.mark.parametrize("path", ["/admin/logs", "/admin/users", "/admin/queue", "/admin/logs/", "//admin/users"])
def test_admin_pages_through_the_router_are_refused(app, bob_client, alice_job, path):
    r = dash_post(bob_client, router_body(path))
    assert r.status_code == 403
    assert_nothing_of_alice(r)


def test_router_inputs_are_checked_by_position_not_by_name(app, bob_client, alice_job):
    """Dash hands the router its inputs by position: a pathname hidden under another name is still checked."""
    body = router_body("/")
    body["inputs"] = [{"id": "_pages_location", "property": "search", "value": "/admin/users"},
                      {"id": "_pages_location", "property": "pathname", "value": "/"}]
    r = dash_post(bob_client, body)
    assert r.status_code == 403
    assert_nothing_of_alice(r)


def test_msa_cache_clear_is_refused_to_bob(app, bob_client, conn, settings, alice):
    """The admin card's Clear cache (issue 16), posted by hand: refused, and alice's cached chains stay."""
    queue = sys.modules["dash_app.pages.admin.admin_queue"]
    now = time.time()
    conn.execute("INSERT INTO msa_cache (owner_id, key, context, chain_type, length, has_templates, path, bytes, "
                 "created_at, last_used_at) VALUES (?, 'k', 'c', 'protein', 20, 1, '/nowhere.json', 10, ?, ?)",
                 (alice.id, now, now))
    for output, trigger in ((f"{queue.CACHE_BODY}.children", f"{queue.REFRESH}.data"),  # the figures
                            (f"{queue.CACHE_BODY}.children@", f"{queue.CACHE_CONFIRM}.submit_n_clicks"),
                            (f"{queue.CACHE_CONFIRM}.displayed", f"{queue.CACHE_CLEAR}.n_clicks")):
        r = dash_post(bob_client, callback_body(app, output, {trigger: 1}, trigger=trigger))
        assert r.status_code == 403
        assert_nothing_of_alice(r)
    assert conn.execute("SELECT COUNT(*) FROM msa_cache").fetchone()[0] == 1
    # ...and the lab-wide switch: refused, reuse stays per user
    trigger = f"{queue.CACHE_SCOPE}.value"
    r = dash_post(bob_client, callback_body(app, f"{queue.CACHE_BODY}.children@", {trigger: True}, trigger=trigger))
    assert r.status_code == 403
    from services.msa import msa_cache

    assert msa_cache.scope(conn, settings) == "user"
    assert conn.execute("SELECT COUNT(*) FROM lab_settings").fetchone()[0] == 0


def test_admin_still_gets_admin_pages_through_the_router(app, admin_client):
    for path in ("/admin/logs", "/admin/users", "/admin/queue"):
        assert dash_post(admin_client, router_body(path)).status_code == 200



def test_layout_shell_is_bobs_own(app, bob_client, alice_job):
    r = bob_client.get("/_dash-layout")
    assert r.status_code == 200 and "bob" in r.get_data(as_text=True)
    assert_nothing_of_alice(r)
