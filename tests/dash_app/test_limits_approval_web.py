"""Issue 22 (items 4, 5, 7) from the outside: the admin's seed cap on /admin/queue refuses an API job; a rejected
job its owner retries through the API shows under "Awaiting approval" for the admin; a huge AlphaFold Server
`count` posted to the API is refused at once."""
from __future__ import annotations

import json
import time

import pytest

from services import jobs
from services.jobs.rules import approval
from services.operations import approvals
from services.people import api_tokens, users
from tests.conftest import ADMIN_PASSWORD, dash_post, login
from tests.dash_app.test_admin_approvals import aq
from tests.dash_app.test_api_v1 import INPUT, bearer, submit
from tests.dash_app.test_second_user import callback_body
from tests.dash_app.test_submit_rules_web import limits_save

SEQ_100 = "MKVLAAGIVA" * 10


@pytest.fixture
def settings(settings):
    """The app of these tests asks an admin before any job estimated above 4 GPU hours runs."""
    return settings.with_overrides(approval_gpu_hours=4)


@pytest.fixture
def alice_token(conn, alice):
    return api_tokens.create_token(conn, alice.id, "script", "write")[1]


def seeded(n: int) -> dict:
    return {**INPUT, "name": f"{n} seeds", "modelSeeds": list(range(1, n + 1)),
            "sequences": [{"protein": {"id": "A", "sequence": SEQ_100}}]}


def test_admin_sets_the_seed_cap_and_the_api_obeys_it(app, client, conn, alice_token):
    refused = submit(client, alice_token, seeded(150))
    assert refused.status_code in (400, 409, 413, 422, 429)
    assert "This job has 150 seeds; the limit is 100 seeds per job" in refused.json["error"]
    admin_client = app.server.test_client()  # a browser of its own: the script's requests carry no cookie
    assert login(admin_client, "admin", ADMIN_PASSWORD).status_code == 302
    saved = limits_save(admin_client, app, [100, 5000, 500, 5000, 100]).json["response"]
    assert "5,000 seeds per job, 100 GPU hours per job" in json.dumps(saved)
    made = submit(client, alice_token, seeded(4000))  # 100 tokens x 4,000 seeds: ~8.6 GPU hours, above 4
    assert made.status_code == 201, made.json
    job_id = made.json["jobs"][0]["id"]
    assert jobs.get_job(conn, users.get_by_name(conn, "admin"), job_id).approval == "pending"
    listed = dash_post(admin_client, callback_body(app, f"{aq.APPROVALS}.children", {f"{aq.TICK}.n_intervals": 1}))
    assert "4000 seeds" in listed.get_data(as_text=True) and "100 x 4,000" in listed.get_data(as_text=True)


def test_a_rejected_job_retried_through_the_api_awaits_approval(app, client, conn, alice, admin, alice_token):
    jobs.set_default_limits(conn, jobs.SubmitLimits(seeds_per_job=5000), admin.username)
    job_id = submit(client, alice_token, seeded(4000)).json["jobs"][0]["id"]
    approvals.reject(conn, admin, job_id, "book the GPU first")
    again = client.post(f"/api/v1/jobs/{job_id}/retry", headers=bearer(alice_token))
    assert again.status_code == 200 and again.json["state"] == "queued"
    assert again.json["stage"] == approval.AWAITING  # not "waiting for a free GPU" for ever
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    listed = dash_post(client, callback_body(app, f"{aq.APPROVALS}.children", {f"{aq.TICK}.n_intervals": 1}))
    assert f"#{job_id} 4000 seeds" in listed.get_data(as_text=True)


def test_a_ten_million_count_posted_to_the_api_is_refused_at_once(client, conn, alice_token):
    doc = [{"name": "copies", "modelSeeds": [1], "sequences": [{"ion": {"ion": "MG", "count": 2}}]}]
    assert submit(client, alice_token, doc).status_code == 201  # the CCD is read before the clock starts
    doc[0]["sequences"][0]["ion"]["count"] = 10_000_000
    started = time.perf_counter()
    refused = submit(client, alice_token, doc)
    took = time.perf_counter() - started
    assert took < 0.5, f"took {took:.2f} s"
    assert refused.status_code == 422  # the API's answer to invalid input
    assert "one job holds at most 10,000 copies" in json.dumps(refused.json)
