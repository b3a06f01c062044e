"""The web ways to submit obey the same rules as the service: terms ticked, default limits, one transaction.

Each test posts the real callback over HTTP, as the page does, logged in as a plain user.
"""
from __future__ import annotations

import json
import time

from dash_app import builder as B
from services import jobs
from services.jobs import SubmitLimits
from services.people import users
from services.platform import db, defaults
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, dash_post, login
from tests.dash_app.test_job_page import page_payload
from tests.dash_app.test_upload_page import data_url, payload


def entry(name: str) -> dict:
    return {"name": name, "modelSeeds": [1],
            "sequences": [{"proteinChain": {"sequence": "MKVLAAGIVALLLA", "count": 1}}]}


def batch_of(name: str, doc) -> list[dict]:
    return [{"name": name, "bytes": 1, "contents": data_url(json.dumps(doc).encode()), "skipped": None}]


def review(client, app, batch) -> dict:
    r = dash_post(client, payload(app, "upload-files.children", [("upload-batch", "data", batch)]))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.json["response"]


def submit_upload(client, app, batch, accepted, key="k") -> str:
    body = payload(app, "upload-result.children", [("upload-submit-all", "n_clicks", 1),
                                                   ("upload-submit-selected", "n_clicks", None)],
                   [("upload-batch", "data", batch), ("upload-grid", "selectedRows", None),
                    ("upload-key", "data", key), ("upload-terms", "value", accepted),
                    ("upload-search-again", "value", False), ("upload-engines", "value", ["af3"])])
    r = dash_post(client, body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return json.dumps(r.json["response"]["upload-result"]["children"])


def jobs_of(conn, name: str = "alice") -> list[jobs.Job]:
    return jobs.list_jobs(conn, users.get_by_name(conn, name), limit=1000)[0]


def test_upload_review_refuses_a_file_over_the_jobs_limit(user_client, app):
    out = review(user_client, app, batch_of("screen.json", [entry(f"e{i}") for i in range(101)]))
    text = json.dumps(out["upload-files"]["children"])
    assert "This file has 101 jobs; the limit is 100 per submission" in text and "ask an admin" in text
    assert out["upload-grid"]["rowData"] == []


def terms_box(client, path: str) -> dict:
    """Render the page at `path` as the renderer does and return its terms checkbox's props."""
    body = dash_post(client, page_payload(path)).get_json()

    def find(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") in ("upload-terms", "builder-terms-accept"):
                return node
            return next((f for v in node.values() if (f := find(v))), None)
        if isinstance(node, list):
            return next((f for v in node if (f := find(v))), None)
        return None

    box = find(body)
    assert box and box["type"] == "Checkbox", f"no terms checkbox on {path}"
    return box["props"]


def test_builder_and_upload_show_the_same_terms_checkbox(client, conn):
    bob = users.create_user(conn, "bob", "bob-password-1")
    assert login(client, "bob", "bob-password-1").status_code == 302
    upload, builder = terms_box(client, "/upload"), terms_box(client, "/builder")
    assert upload["value"] is False and builder["value"] is False  # never accepted: not ticked for him
    assert json.dumps(upload["label"]) == json.dumps(builder["label"]) and "terms of use" in json.dumps(upload["label"])
    users.accept_terms(conn, bob.id)
    assert terms_box(client, "/upload")["value"] is True  # accepted before: ticked, and he may untick it


def test_upload_submit_needs_the_terms_ticked_and_records_them(user_client, app, conn):
    batch = batch_of("two.json", [entry("one"), entry("two")])
    refused = submit_upload(user_client, app, batch, False)
    assert "accept the AlphaFold 3 model-parameter terms" in refused and jobs_of(conn) == []
    done = submit_upload(user_client, app, batch, True)
    assert "2 job(s) queued" in done
    made = jobs_of(conn)
    assert {j.terms_via for j in made} == {"upload"} and all(j.terms_accepted_at for j in made)


def test_upload_of_100_jobs_is_one_quick_all_or_nothing_submission(user_client, app, conn):
    batch = batch_of("screen.json", [entry(f"screen {i}") for i in range(100)])
    alice = users.get_by_name(conn, "alice")
    jobs.set_limits(conn, alice.id, jobs.UserLimits(max_queued=99))
    refused = submit_upload(user_client, app, batch, True)
    assert "screen.json, job 100 (screen 99): you already have 0 queued and this adds 100" in refused
    assert jobs_of(conn) == []  # nothing half-queued
    jobs.set_limits(conn, alice.id, jobs.UserLimits())
    started = time.perf_counter()
    done = submit_upload(user_client, app, batch, True, key="k2")
    took = time.perf_counter() - started
    assert "100 job(s) queued" in done and len(jobs_of(conn)) == 100
    assert took < 5.0, f"submitting 100 jobs through the page took {took:.2f} s"  # re-reads and checks them too


def test_upload_marks_a_job_over_the_token_limit_not_valid(user_client, app, conn):
    jobs.set_default_limits(conn, SubmitLimits(100, 20, 500), "admin")
    out = review(user_client, app, batch_of("mixed.json", [entry("small"), {**entry("big"), "sequences": [
        {"proteinChain": {"sequence": "M" * 30, "count": 1}}]}]))
    rows = {r["name"]: r["status"] for r in out["upload-grid"]["rowData"]}
    assert rows["small"] == "valid" and "30 tokens; your limit is 20 tokens per job" in rows["big"]


def builder_submit(client, app, state, accepted, key="b1"):
    body = payload(app, "shell-url.href", [("builder-submit", "n_clicks", 1)],
                   [("builder-state", "data", state), ("builder-submit-key", "data", key),
                    ("builder-terms-accept", "value", accepted), ("builder-not-before", "value", None),
                    ("builder-search-again", "value", False), ("builder-engines", "value", ["af3"])])
    r = dash_post(client, body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.json["response"]


def test_builder_submit_needs_the_terms_ticked_and_records_them(user_client, app, conn):
    state = {**B.update_entity(B.empty_state(), 0, sequence="MKVLAAGIVALLLA"), "name": "built"}
    refused = builder_submit(user_client, app, state, False)
    assert "accept the AlphaFold 3 model-parameter terms" in json.dumps(refused["builder-submit-error"])
    assert jobs_of(conn) == []
    done = builder_submit(user_client, app, state, True)
    [job] = jobs_of(conn)
    assert done["shell-url"]["href"] == f"/jobs/{job.id}" and job.terms_via == "builder"


def test_builder_refuses_a_job_over_the_default_token_limit(user_client, app, conn):
    state = {**B.update_entity(B.empty_state(), 0, sequence="M" * (defaults.MAX_TOKENS_PER_JOB + 1)), "name": "big"}
    refused = json.dumps(builder_submit(user_client, app, state, True)["builder-submit-error"])
    assert "5,001 tokens; your limit is 5,000 tokens per job" in refused and jobs_of(conn) == []


def limits_save(client, app, values):
    values = [*values, defaults.MAX_SEEDS_PER_JOB, defaults.MAX_GPU_HOURS_PER_JOB][:5]
    body = payload(app, "admin-queue-limit-alert.children", [("admin-queue-limit-save", "n_clicks", 1)],
                   [("admin-queue-limit-jobs", "value", values[0]), ("admin-queue-limit-tokens", "value", values[1]),
                    ("admin-queue-limit-queued", "value", values[2]), ("admin-queue-limit-seeds", "value", values[3]),
                    ("admin-queue-limit-gpu-hours", "value", values[4])])
    return dash_post(client, body)


def test_admin_changes_the_default_limits_on_the_queue_page(client, app, settings):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    assert limits_save(client, app, [1, 1, 1]).status_code == 403  # an admin callback
    conn = db.connect(settings.db_path)
    assert jobs.default_limits(conn) == SubmitLimits()
    client = app.server.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    bad = limits_save(client, app, [10, None, 5])
    assert "Tokens per job must be a whole number" in json.dumps(bad.json["response"])
    ok = limits_save(client, app, [3, 4000, 50]).json["response"]
    assert "Limits saved: 3 jobs per submission, 4,000 tokens per job, 50 queued jobs per user" in json.dumps(ok)
    assert jobs.default_limits(conn) == SubmitLimits(3, 4000, 50)


def test_upload_of_several_files_counts_every_job_of_the_submission(user_client, app, conn):
    batch = (batch_of("a.json", [entry(f"a{i}") for i in range(60)])
             + [{**batch_of("b.json", [entry(f"b{i}") for i in range(60)])[0]}])
    out = review(user_client, app, batch)
    assert len(out["upload-grid"]["rowData"]) == 120  # each file is within the limit
    refused = submit_upload(user_client, app, batch, True)
    assert "This submission has 120 jobs; the limit is 100 per submission" in refused and jobs_of(conn) == []
