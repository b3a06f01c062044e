"""What users and admins see of the two stages and the MSA cache (issue 16): the grid's words, the job page's
two-step line and reused chains, the "Search MSAs again" opt-out (builder, upload, API) and the admin card."""
from __future__ import annotations

import base64
import dataclasses
import json
import sys
import time

import pytest

from dash_app.components.jobs.job_grid import stage_text
from services import jobs
from services.jobs import JobState
from services.jobs.rules import wording
from services.people import api_tokens
from services.platform import applog, db
from services.platform.applog import LogFilters
from tests.conftest import ADMIN_PASSWORD, ROOT, dash_post, login
from tests.dash_app.test_second_user import callback_body, router_body

AF3 = {"name": "stages", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
       "sequences": [{"protein": {"id": ["A", "B"], "sequence": "MKVLAAGIV"}},
                     {"protein": {"id": "C", "sequence": "MKTAYIAKQR"}}]}


@pytest.fixture
def job(conn, settings, alice) -> jobs.Job:
    return jobs.submit(conn, settings, alice, AF3, accept_terms=True)


def set_row(conn, job_id: int, **values) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE jobs SET {sets}, updated_at = ? WHERE id = ?", (*values.values(), time.time(), job_id))


def page(module: str):
    return sys.modules[f"dash_app.pages.{module}"]


# -- the grid ---------------------------------------------------------------------------------------------


def test_stage_text_names_the_stage(job):
    gpu = dataclasses.replace(job, data_json="/jobs/1/stages_data.json")
    assert stage_text(gpu, 3) == "waiting for GPU · #3 in queue"
    assert stage_text(job, 3) == "#3 in queue"  # no data pipeline done yet: as before
    data = dataclasses.replace(job, state=JobState.RUNNING, phase="data", stage="data pipeline",
                               progress_detail="chain A (1/2)")
    assert stage_text(data, None) == "MSA running · chain A (1/2)"
    infer = dataclasses.replace(data, phase="inference", stage="inference", progress_detail="seed 1/1")
    assert stage_text(infer, None) == "inference · seed 1/1"
    one_slot = dataclasses.replace(data, phase="")
    assert stage_text(one_slot, None) == "data pipeline · chain A (1/2)"  # unchanged


# -- the job page -----------------------------------------------------------------------------------------


def render(client, job_id: int) -> str:
    r = dash_post(client, router_body(f"/jobs/{job_id}"))
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return text(r)


def text(response) -> str:
    """Return a callback response as text with its non-ASCII characters (①, ·) as they are."""
    return json.dumps(response.json, ensure_ascii=False) if response.data else ""


def test_job_page_shows_both_steps(app, user_client, conn, job):
    plain = render(user_client, job.id)
    assert "① MSA search" not in plain  # nothing run yet, nothing from the cache: the old bar
    set_row(conn, job.id, data_json="/x/stages_data.json", phase="data")
    body = render(user_client, job.id)
    assert "① MSA search: done · ② Inference: waiting for GPU" in body
    set_row(conn, job.id, state="running", data_json=None, phase="data", stage="data pipeline",
            progress_detail="chain C (1/2)")
    body = render(user_client, job.id)
    assert "① MSA search: running · ② Inference: waiting" in body and "MSA running · chain C (1/2)" in body
    set_row(conn, job.id, data_json="/x/stages_data.json", phase="inference", stage="inference",
            progress_detail="seed 1/1")
    assert "① MSA search: done · ② Inference: running" in render(user_client, job.id)


def test_job_page_names_reused_chains(app, user_client, conn, job):
    job_page = page("job")
    reused = [{"chains": ["A", "B"], "job_id": 12}, {"chains": ["C"], "job_id": 15}]
    # every chain came from the cache: the claim sent it straight to inference, with no _data.json of its own
    set_row(conn, job.id, state="running", phase="inference", data_json=None, msa_reused=json.dumps(reused))
    body = render(user_client, job.id)
    assert job_page.MSA_REUSED in body
    assert "MSA for chains A, B reused from job #12" in body and "MSA for chain C reused from job #15" in body
    assert "① MSA search: reused (chains A, B from job #12; chain C from job #15) · ② Inference: running" in body
    # one entity from the cache, another searched in a data stage: the search ran, partly reused
    set_row(conn, job.id, state="succeeded", data_json="/x/d.json", msa_reused=json.dumps(reused[:1]))
    body = render(user_client, job.id)
    assert "① MSA search: done (chains A, B reused from job #12) · ② Inference: done" in body


def test_job_page_failed_search_and_helpers(job):
    failed = dataclasses.replace(job, state=JobState.FAILED, phase="data", stage="data pipeline")
    assert wording.step_states(failed, []) == ("failed", "not started")
    lost = dataclasses.replace(job, state=JobState.FAILED, phase="inference", data_json="/d.json")
    assert wording.step_states(lost, []) == ("done", "failed")
    assert wording.msa_reused(["A"], 12) == "MSA for chain A reused from job #12"
    entity = dataclasses.replace(job, msa_reused=json.dumps([{"chains": ["A", "B"], "job_id": 3},
                                                             {"chains": ["C"], "job_id": 3}]))
    assert wording.reused_groups(entity) == [(["A", "B"], 3), (["C"], 3)]  # one line per entity as given
    odd = dataclasses.replace(job, msa_reused=json.dumps([{"chains": []}, "A", {"chains": ["B"], "job_id": None}]))
    assert wording.reused_groups(odd) == [(["B"], None)]
    assert wording.msa_reused(["B"], None) == "MSA for chain B reused from the cache"


def test_poll_redraws_the_bar_when_the_stage_moves(app, user_client, conn, alice, job):
    from dash_app.components import console as cons
    from tests.dash_app.test_job_page import _tick_payload

    job_page = page("job")
    set_row(conn, job.id, state="running", phase="data", stage="data pipeline")
    row = jobs.get_job(conn, alice, job.id)
    cursor = {"updated": row.updated_at, "state": "running", "paused": False, "steps": job_page.steps_signature(row)}
    ccur = cons.initial(conn, "job", job.id, 5000)[1]
    assert dash_post(user_client, _tick_payload(job_page, job.id, cursor, ccur)).status_code == 204
    # the stage moved without a new updated_at: the bar follows all the same
    conn.execute("UPDATE jobs SET phase = 'inference', data_json = '/d.json' WHERE id = ?", (job.id,))
    r = dash_post(user_client, _tick_payload(job_page, job.id, cursor, ccur))
    assert r.status_code == 200 and "② Inference: running" in text(r)


# -- "Search MSAs again" ----------------------------------------------------------------------------------


def msa_reuse(conn, job_id: int) -> int:
    return conn.execute("SELECT msa_reuse FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]


@pytest.mark.parametrize("ticked", [True, False])
def test_builder_search_again_box(app, user_client, conn, ticked):
    from dash_app import builder as B

    builder = page("builder")
    state, _ = B.from_af3({**AF3, "name": f"b{ticked}"})
    body = callback_body(app, f"{builder.SUBMIT_ERROR}.children",
                         {f"{builder.SUBMIT}.n_clicks": 1, f"{builder.STATE}.data": state,
                          f"{builder.SUBMIT_KEY}.data": f"k{ticked}", f"{builder.TERMS_ACCEPT}.value": True,
                          f"{builder.SEARCH_AGAIN}.value": ticked},
                         trigger=f"{builder.SUBMIT}.n_clicks")
    r = dash_post(user_client, body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    job_id = int(r.json["response"]["shell-url"]["href"].rsplit("/", 1)[1])
    assert msa_reuse(conn, job_id) == (0 if ticked else 1)


def test_upload_search_again_box(app, user_client, conn, alice):
    upload = page("upload")
    assert upload.SEARCH_AGAIN in dash_post(user_client, router_body("/upload")).get_data(as_text=True)
    raw = (ROOT / "tests/fixtures/af3/protein_only.json").read_bytes()
    batch = [{"name": "x.json", "bytes": len(raw), "skipped": None,
              "contents": "data:application/json;base64," + base64.b64encode(raw).decode()}]
    values = {f"{upload.SUBMIT_ALL}.n_clicks": 1, f"{upload.BATCH}.data": batch, f"{upload.KEY}.data": "k1",
              f"{upload.TERMS}.value": True, f"{upload.SEARCH_AGAIN}.value": True}
    body = callback_body(app, f"{upload.RESULT}.children...", values, trigger=f"{upload.SUBMIT_ALL}.n_clicks")
    assert dash_post(user_client, body).status_code == 200
    (job_id,) = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE owner_id = ?", (alice.id,))]
    assert msa_reuse(conn, job_id) == 0


def test_api_reuse_msa_flag(client, conn, alice):
    secret = api_tokens.create_token(conn, alice.id, "script", "write")[1]

    def post(query: str):
        return client.post(f"/api/v1/jobs?accept_terms=true{query}", data=json.dumps(AF3),
                           headers={"Authorization": f"Bearer {secret}"}, content_type="application/json")

    off, default = post("&reuse_msa=false"), post("")
    assert off.status_code == 201 and default.status_code == 201
    assert msa_reuse(conn, off.json["jobs"][0]["id"]) == 0 and msa_reuse(conn, default.json["jobs"][0]["id"]) == 1
    bad = post("&reuse_msa=maybe")
    assert bad.status_code == 422 and bad.json["error"] == "reuse_msa must be true or false, not 'maybe'."
    assert jobs.list_jobs(conn, alice)[1] == 2  # the refused one queued nothing
    params = client.get("/api/v1/openapi.json").json["paths"]["/jobs"]["post"]["parameters"]
    assert {"name": "reuse_msa", "in": "query"}.items() <= next(p for p in params if p["name"] == "reuse_msa").items()


# -- the admin card ---------------------------------------------------------------------------------------


def add_cache_rows(conn, settings, owner_id: int, n: int) -> None:
    """Insert `n` cache entries with their files, as a finished data pipeline leaves them."""
    folder = settings.data_dir / "cache" / "msa" / str(owner_id)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for i in range(n):
        path = folder / f"{i}.json"
        path.write_text("{}")
        conn.execute("INSERT INTO msa_cache (owner_id, key, context, chain_type, length, has_templates, path, bytes, "
                     "source_job_id, created_at, last_used_at, hits) VALUES (?, ?, 'ctx', 'protein', 10, 1, ?, ?, "
                     "NULL, ?, ?, 2)", (owner_id, f"k{i}", str(path), 3 * 1024 * 1024, now, now))


def test_admin_card_shows_and_clears_the_cache(app, client, conn, settings, alice, admin):
    add_cache_rows(conn, settings, alice.id, 3)
    add_cache_rows(conn, settings, admin.id, 1)
    queue = page("admin.admin_queue")
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    layout = dash_post(client, router_body("/admin/queue")).get_data(as_text=True)
    assert "MSA cache" in layout and "Clear cache" in layout
    figures = callback_body(app, f"{queue.CACHE_BODY}.children", {f"{queue.REFRESH}.data": 0})
    shown = text(dash_post(client, figures))
    assert "4 chains of 2 users" in shown and "12.0 MB of 2,048 MB" in shown and "your own chains" in shown
    assert "Hits" in shown and "8" in shown
    ask = callback_body(app, f"{queue.CACHE_CONFIRM}.displayed", {f"{queue.CACHE_CLEAR}.n_clicks": 1},
                        trigger=f"{queue.CACHE_CLEAR}.n_clicks")
    assert dash_post(client, ask).json["response"][queue.CACHE_CONFIRM]["displayed"] is True
    body = callback_body(app, f"{queue.CACHE_BODY}.children@", {f"{queue.CACHE_CONFIRM}.submit_n_clicks": 1},
                         trigger=f"{queue.CACHE_CONFIRM}.submit_n_clicks")
    r = dash_post(client, body)
    assert r.status_code == 200 and "4 entries removed" in r.get_data(as_text=True)
    assert conn.execute("SELECT COUNT(*) FROM msa_cache").fetchone()[0] == 0
    assert applog.flush()
    entries, _ = applog.query(db.connect(settings.db_path), LogFilters(source="admin", text="MSA cache"), 0, 5)
    assert [e.message for e in entries] == ["admin: clear the MSA cache (4 entries removed)"]


def test_admin_switches_reuse_lab_wide_and_back(app, client, conn, settings, admin):
    from services.msa import msa_cache

    queue = page("admin.admin_queue")
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    trigger = f"{queue.CACHE_SCOPE}.value"
    for value, words, scope in ((True, "lab-wide", "lab"), (False, "per user", "user")):
        r = dash_post(client, callback_body(app, f"{queue.CACHE_BODY}.children@", {trigger: value}, trigger=trigger))
        assert r.status_code == 200 and f"MSA reuse is now {words}" in text(r)
        assert msa_cache.scope(conn, settings) == scope  # wins over FOLDDECK_MSA_CACHE_SCOPE (user here)
    layout = dash_post(client, router_body("/admin/queue")).get_data(as_text=True)
    assert "Lab-wide reuse" in layout
    assert applog.flush()
    entries, _ = applog.query(db.connect(settings.db_path), LogFilters(source="admin", text="MSA cache reuse"), 0, 5)
    assert sorted(e.message for e in entries) == ["admin: MSA cache reuse set to lab-wide",
                                                   "admin: MSA cache reuse set to per user"]
