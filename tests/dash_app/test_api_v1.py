"""The REST API end to end through the real app: tokens at the gate, scopes, ownership, log cursor,
results, errors in the web's words, rate limits and the OpenAPI document."""
from __future__ import annotations

import io
import json
import re
import sys
import zipfile

import pytest

from dash_app.routes.api_v1 import bp
from services import jobs
from services.people import api_tokens
from services.running.worker import Worker
from tests.conftest import USER_PASSWORD, login

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
INPUT = {"name": "API test", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def alice_token(conn, alice):
    return api_tokens.create_token(conn, alice.id, "script", "write")[1]


@pytest.fixture
def read_token(conn, alice):
    return api_tokens.create_token(conn, alice.id, "dashboard", "read")[1]


def submit(client, secret: str, doc=INPUT, **query):
    query.setdefault("accept_terms", "true")
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(f"/api/v1/jobs?{qs}", data=json.dumps(doc), headers=bearer(secret),
                       content_type="application/json")


def test_token_authenticates_only_the_api_and_sets_no_cookie(client, alice_token):
    r = client.get("/api/v1/me", headers=bearer(alice_token))
    assert r.status_code == 200 and r.json == {"username": "alice", "role": "user",
                                               "token": {"name": "script", "scope": "write"}}
    assert "Set-Cookie" not in r.headers
    assert client.get("/", headers=bearer(alice_token)).status_code == 302  # pages need a session
    assert client.get("/_dash-layout", headers=bearer(alice_token)).status_code == 401
    assert client.get("/api/jobs/1/log", headers=bearer(alice_token)).status_code == 401


def test_wrong_revoked_or_disabled_token_is_401(client, conn, alice, alice_token):
    r = client.get("/api/v1/jobs", headers=bearer("fdk_not-a-token"))
    assert r.status_code == 401 and "token" in r.json["error"] and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/jobs").status_code == 401  # nothing at all
    token = api_tokens.list_tokens(conn, alice.id)[0]
    api_tokens.revoke_token(conn, alice.id, token.id)
    assert client.get("/api/v1/jobs", headers=bearer(alice_token)).status_code == 401
    _, second = api_tokens.create_token(conn, alice.id, "again", "read")
    assert client.get("/api/v1/jobs", headers=bearer(second)).status_code == 200
    from services.people import users

    users.set_active(conn, alice.id, False)
    assert client.get("/api/v1/jobs", headers=bearer(second)).status_code == 401


def test_tokens_are_stored_hashed_and_shown_once(conn, alice):
    token, secret = api_tokens.create_token(conn, alice.id, "ci", "read")
    stored = conn.execute("SELECT token_hash, prefix FROM api_tokens WHERE id = ?", (token.id,)).fetchone()
    assert secret not in stored[0] and len(stored[0]) == 64 and secret.startswith(stored[1])
    assert not hasattr(token, "secret")
    with pytest.raises(Exception, match="name"):
        api_tokens.create_token(conn, alice.id, "  ", "read")


def test_read_only_token_cannot_submit_cancel_or_retry(client, read_token):
    r = submit(client, read_token)
    assert r.status_code == 403 and "read-only" in r.json["error"]
    assert client.post("/api/v1/jobs/1/cancel", headers=bearer(read_token)).status_code == 403
    assert client.get("/api/v1/jobs", headers=bearer(read_token)).status_code == 200


def test_submit_runs_and_results_come_back(client, settings, conn, alice, alice_token):
    r = submit(client, alice_token)
    assert r.status_code == 201, r.json
    job = r.json["jobs"][0]
    assert job["state"] == "queued" and job["owner"] == "alice" and job["url"].endswith(f"/jobs/{job['id']}")
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(alice_token)).json["queue_position"] == 1
    assert Worker(settings.with_overrides(af3_command=SIM), concurrency=1).run(once=True) == 1
    got = client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(alice_token)).json
    assert got["state"] == "succeeded" and got["progress"] == 1.0 and got["queue_position"] is None
    assert (got["phase"], got["waiting_for_gpu"], got["msa_reused"]) == ("", False, [])
    listed = client.get("/api/v1/jobs?state=succeeded", headers=bearer(alice_token)).json
    assert [j["id"] for j in listed["jobs"]] == [job["id"]] and listed["total"] == 1
    scores = client.get(f"/api/v1/jobs/{job['id']}/scores", headers=bearer(alice_token)).json["samples"]
    assert len(scores) == 5 and scores[0]["ranking_score"] >= scores[-1]["ranking_score"]
    files = client.get(f"/api/v1/jobs/{job['id']}/files", headers=bearer(alice_token)).json["files"]
    cif = next(f["path"] for f in files if f["path"].endswith("_model.cif"))
    body = client.get(f"/api/v1/jobs/{job['id']}/files/{cif}", headers=bearer(alice_token)).data
    assert b"\ndata_" in body
    assert client.get(f"/api/v1/jobs/{job['id']}/files/../input.json", headers=bearer(alice_token)).status_code == 404
    archive = client.get(f"/api/v1/jobs/{job['id']}/archive", headers=bearer(alice_token))
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert len(names) == len(files) and any(n.endswith(cif.rsplit("/", 1)[-1]) for n in names)
    # the same chains again: their MSAs come from the cache, and the API says from which job
    again = submit(client, alice_token, {**INPUT, "name": "again"}).json["jobs"][0]
    assert Worker(settings.with_overrides(af3_command=SIM), concurrency=1).run(once=True) == 1
    again = client.get(f"/api/v1/jobs/{again['id']}", headers=bearer(alice_token)).json
    assert again["state"] == "succeeded" and again["msa_reused"] and \
        {r["job_id"] for r in again["msa_reused"]} == {job["id"]}


def test_log_since_returns_only_newer_lines(client, conn, alice, alice_token):
    from services.jobs import joblog

    job_id = submit(client, alice_token).json["jobs"][0]["id"]
    joblog.append_lines(conn, job_id, ["one", "two", "three"])
    first = client.get(f"/api/v1/jobs/{job_id}/log?since=0", headers=bearer(alice_token)).json
    assert [line["text"] for line in first["lines"]] == ["one", "two", "three"] and not first["finished"]
    cursor = first["lines"][1]["seq"]
    later = client.get(f"/api/v1/jobs/{job_id}/log?since={cursor}", headers=bearer(alice_token)).json
    assert [line["text"] for line in later["lines"]] == ["three"]
    joblog.append_lines(conn, job_id, ["four"])
    tail = client.get(f"/api/v1/jobs/{job_id}/log?since={first['next_since']}", headers=bearer(alice_token)).json
    assert [line["text"] for line in tail["lines"]] == ["four"]
    empty = client.get(f"/api/v1/jobs/{job_id}/log?since={tail['next_since']}", headers=bearer(alice_token)).json
    assert empty["lines"] == [] and empty["next_since"] == tail["next_since"]
    bad = client.get(f"/api/v1/jobs/{job_id}/log?since=x", headers=bearer(alice_token))
    assert bad.status_code == 422 and "since" in bad.json["error"]


def test_another_users_job_is_404_everywhere(client, settings, conn, alice, alice_token):
    from services.people import users

    bob = users.create_user(conn, "bob", USER_PASSWORD)
    bob_secret = api_tokens.create_token(conn, bob.id, "bob's", "write")[1]
    job_id = submit(client, alice_token).json["jobs"][0]["id"]
    for path in ("", "/log", "/scores", "/files", "/files/x.cif", "/archive"):
        r = client.get(f"/api/v1/jobs/{job_id}{path}", headers=bearer(bob_secret))
        assert r.status_code == 404 and r.is_json, path
    for verb in ("cancel", "retry"):
        assert client.post(f"/api/v1/jobs/{job_id}/{verb}", headers=bearer(bob_secret)).status_code == 404
    assert client.get("/api/v1/jobs", headers=bearer(bob_secret)).json["jobs"] == []
    assert client.get("/api/v1/jobs?all=true", headers=bearer(bob_secret)).json["jobs"] == []
    assert jobs.get_job(conn, alice, job_id).state is jobs.JobState.QUEUED


def test_cancel_and_retry_with_the_webs_messages(client, alice_token):
    job_id = submit(client, alice_token).json["jobs"][0]["id"]
    r = client.post(f"/api/v1/jobs/{job_id}/retry", headers=bearer(alice_token))
    assert r.status_code == 409 and r.json["error"] == (f"Job {job_id} is queued; only failed or cancelled jobs "
                                                        "can be retried.")
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(alice_token)).json["state"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(alice_token))
    assert again.status_code == 409 and "nothing to cancel" in again.json["error"]
    assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=bearer(alice_token)).json["state"] == "queued"


def test_invalid_input_lists_problems_and_queues_nothing(client, conn, alice, alice_token):
    bad = {**INPUT, "sequences": [{"protein": {"id": "A", "sequence": "MK1"}}]}
    r = submit(client, alice_token, bad)
    assert r.status_code == 422 and r.json["error"] == "The input has problems; nothing was submitted."
    assert r.json["problems"] and "sequences" in r.json["problems"][0]["path"]
    broken = client.post("/api/v1/jobs?accept_terms=true", data="{nope", headers=bearer(alice_token))
    assert broken.status_code == 422 and "line 1" in broken.json["error"]
    assert jobs.list_jobs(conn, alice)[1] == 0


def test_both_dialects_and_idempotency(client, alice_token):
    server = [{"name": "srv", "modelSeeds": [1], "sequences": [{"proteinChain": {"sequence": "MKVLA", "count": 1}}]},
              {"name": "srv2", "modelSeeds": [2], "sequences": [{"proteinChain": {"sequence": "MKVLG", "count": 1}}]}]
    r = client.post("/api/v1/jobs?accept_terms=true", data=json.dumps(server),
                    headers={**bearer(alice_token), "Idempotency-Key": "k1"})
    assert r.status_code == 201 and [j["name"] for j in r.json["jobs"]] == ["srv", "srv2"]
    again = client.post("/api/v1/jobs?accept_terms=true", data=json.dumps(server),
                        headers={**bearer(alice_token), "Idempotency-Key": "k1"})
    assert [j["id"] for j in again.json["jobs"]] == [j["id"] for j in r.json["jobs"]]


def test_rate_limit_answers_429_with_retry_after(app, client, alice_token):
    settings = app.server.config["FOLDDECK_SETTINGS"]
    app.server.config["FOLDDECK_SETTINGS"] = settings.with_overrides(api_rate_per_minute=1)
    codes = [client.get("/api/v1/me", headers=bearer(alice_token)) for _ in range(70)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    assert "Too many API requests" in limited[0].json["error"]


def test_submission_rate_limit_per_token(app, client, alice_token):
    settings = app.server.config["FOLDDECK_SETTINGS"]
    app.server.config["FOLDDECK_SETTINGS"] = settings.with_overrides(submit_rate_per_minute=1)
    codes = [submit(client, alice_token, {**INPUT, "name": f"n{i}"}).status_code for i in range(35)]
    assert codes.count(201) == 30 and codes[-1] == 429  # the burst, then one a minute


def test_session_callers_need_the_csrf_header_to_change_things(client, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    assert client.get("/api/v1/me").json["token"] is None
    r = client.post("/api/v1/jobs?accept_terms=true", data=json.dumps(INPUT), content_type="application/json")
    assert r.status_code == 400 and "Security token" in r.json["error"]
    client.get("/")  # a page load sets the CSRF cookie
    token = client.get_cookie("_csrf_token").value
    ok = client.post("/api/v1/jobs?accept_terms=true", data=json.dumps(INPUT), content_type="application/json",
                     headers={"X-CSRFToken": token})
    assert ok.status_code == 201


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_document_validates_and_lists_every_route(app, client):
    from openapi_spec_validator import validate

    r = client.get("/api/v1/openapi.json")  # public: no token needed
    assert r.status_code == 200
    doc = r.json
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    routes = {(_flask_to_openapi(rule.rule).removeprefix("/api/v1"), method.lower())
              for rule in app.server.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert any(r.endpoint.startswith(bp.name) for r in app.server.url_map.iter_rules())


def test_rate_limit_is_shared_by_every_web_worker(settings, conn, alice_token):
    from dash_app import create_app

    limited = settings.with_overrides(api_rate_per_minute=1)
    workers = [create_app(limited).server.test_client() for _ in range(2)]  # two gunicorn workers, one data dir
    codes = [workers[i % 2].get("/api/v1/me", headers=bearer(alice_token)).status_code for i in range(80)]
    assert codes[:60] == [200] * 60 and set(codes[60:]) == {429}  # one burst of 60 for both together


def test_terms_must_be_accepted_on_every_api_submission(client, conn, alice, alice_token):
    assert submit(client, alice_token).status_code == 201  # accepted once...
    r = submit(client, alice_token, accept_terms="false")  # ...still required the next time
    assert r.status_code == 422 and r.json["error"] == jobs.TERMS_REFUSAL
    assert jobs.list_jobs(conn, alice)[1] == 1
    job = jobs.list_jobs(conn, alice)[0][0]
    assert job.terms_via == "api" and job.terms_accepted_at is not None


def test_submission_rate_limit_per_user_spans_tokens_and_the_web(app, client, settings, conn, alice, alice_token):
    from services.people.ratelimit import RateLimited

    limited = settings.with_overrides(submit_rate_per_minute=1)
    app.server.config["FOLDDECK_SETTINGS"] = limited
    second = api_tokens.create_token(conn, alice.id, "second", "write")[1]
    codes = [submit(client, alice_token if i % 2 else second, {**INPUT, "name": f"n{i}"}).status_code
             for i in range(31)]
    assert codes[:30] == [201] * 30 and codes[30] == 429  # 15 per token, 30 for alice together
    with pytest.raises(RateLimited, match="Too many submissions"):  # the builder draws on the same bucket
        jobs.submit(conn, limited, alice, INPUT, accept_terms=True, via="builder")
    jobs.submit(conn, limited, alice, INPUT, accept_terms=True, via="cli")  # the command line is not limited
