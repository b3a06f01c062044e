"""Job page and log routes through the real server path (Flask test client, real SQLite)."""
from __future__ import annotations

import json
import re

import pytest

from dash_app.components import console as cons
from services import jobs
from services.af3 import load_json_text
from services.jobs import joblog
from services.people import users
from tests.conftest import ROOT, USER_PASSWORD, dash_post, login


@pytest.fixture
def job_page(app):
    """Return the job page module (importable only once an app registered the pages)."""
    import sys

    return sys.modules["dash_app.pages.job"]


@pytest.fixture
def alice_job(conn, settings):
    alice = users.get_by_name(conn, "alice")
    doc = load_json_text((ROOT / "tests/fixtures/af3/protein_only.json").read_text())
    return jobs.submit_document(conn, settings, alice, doc)[0]


def page_payload(path: str) -> dict:
    """Return the body the renderer POSTs to render the page at `path`."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}


def test_job_page_renders_tail_and_hides_other_users_jobs(client, conn, alice_job, job_page):
    joblog.append_lines(conn, alice_job.id, [f"line {i}" for i in range(30)])
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    body = dash_post(client, page_payload(f"/jobs/{alice_job.id}")).get_data(as_text=True)
    assert "Loading log" in body and "line 29" not in body and job_page.NOT_FOUND not in body  # the first poll loads it
    first = dash_post(client, _tick_payload(job_page, alice_job.id, {}, cons.fresh_cursor(alice_job.id, 5000)))
    assert "line 29" in first.get_data(as_text=True)
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    other = client.application.test_client()
    assert login(other, "bob", "bob-password-1").status_code == 302
    body_other = dash_post(other, page_payload(f"/jobs/{alice_job.id}")).get_data(as_text=True)
    body_missing = dash_post(other, page_payload("/jobs/999999")).get_data(as_text=True)
    assert job_page.NOT_FOUND in body_other and "line 29" not in body_other
    same = re.sub(r"#\d+ ", "#N ", body_other) == re.sub(r"#\d+ ", "#N ", body_missing)
    assert same  # the same answer as for a job that does not exist: no hint it does
    for route in ("log", "input"):
        assert other.get(f"/api/jobs/{alice_job.id}/{route}").status_code == 404
        assert other.get(f"/api/jobs/999999/{route}").status_code == 404


def test_log_and_input_downloads(user_client, conn, alice_job):
    joblog.append_lines(conn, alice_job.id, [f"row {i}" for i in range(12001)])
    r = user_client.get(f"/api/jobs/{alice_job.id}/log")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True).splitlines()
    assert len(text) == 12001 and text[0] == "row 0" and text[-1] == "row 12000"
    r = user_client.get(f"/api/jobs/{alice_job.id}/input")
    assert r.status_code == 200 and json.loads(r.data)["name"] == alice_job.name
    assert user_client.get(f"/api/jobs/{alice_job.id}/files/..%2Finput.json").status_code == 404


def _tick_payload(job_page, job_id: int, cursor: dict, console_cursor: dict) -> dict:
    outs = [(job_page.HEADER, "children"), (job_page.PROGRESS, "children"), (job_page.FAILURE, "children"),
            (job_page.RESULTS, "children"), (job_page.CANCEL, "disabled"), (job_page.RETRY, "disabled"),
            (job_page.CURSOR, "data"), (cons.cid("lines", "job"), "children"), (cons.cid("cursor", "job"), "data")]
    outputs = [{"id": i, "property": p} for i, p in outs]
    outputs += [{"id": cons.count_id("job", lv), "property": "children"} for lv in cons.LEVELS]
    outputs.append({"id": cons.cid("earlier-wrap", "job"), "property": "hidden"})
    outputs.append({"id": job_page.INTERVAL, "property": "disabled"})
    key = next(k for k in job_page.dash.get_app().callback_map if f"{job_page.HEADER}.children" in k)
    return {"output": key, "outputs": outputs,
            "inputs": [{"id": job_page.INTERVAL, "property": "n_intervals", "value": 1},
                       {"id": job_page.FIRST, "property": "n_intervals", "value": 1}],
            "state": [{"id": job_page.CURSOR, "property": "data", "value": cursor},
                      {"id": cons.cid("cursor", "job"), "property": "data", "value": console_cursor}],
            "changedPropIds": [f"{job_page.INTERVAL}.n_intervals"]}


def test_poll_sends_nothing_then_only_new_lines(user_client, conn, alice_job, job_page):
    joblog.append_lines(conn, alice_job.id, ["first"])
    job = jobs.get_job(conn, users.get_by_name(conn, "alice"), alice_job.id)
    _, ccur = cons.initial(conn, "job", job.id, 5000)
    cursor = {"job": job.id, "updated": job.updated_at, "state": job.state.value}
    r = dash_post(user_client, _tick_payload(job_page, job.id, cursor, ccur))
    assert r.status_code == 204 and not r.data  # nothing new: nothing sent
    joblog.append_lines(conn, job.id, ["second", "E0101 00:00:00.000 1 x.py:1] boom"])
    r = dash_post(user_client, _tick_payload(job_page, job.id, cursor, ccur))
    assert r.status_code == 200
    resp = r.get_json()["response"]
    patch = resp[json.dumps(cons.cid("lines", "job"), sort_keys=True, separators=(",", ":"))]["children"]
    texts = json.dumps(patch)
    assert "second" in texts and "boom" in texts and "first" not in texts  # only the new lines travel
    assert resp[json.dumps(cons.cid("cursor", "job"), sort_keys=True, separators=(",", ":"))]["data"]["last"] == 3
