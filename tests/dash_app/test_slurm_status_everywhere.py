"""Status as Slurm sees it, the same on the dashboard grid, the REST API and the job page (issue 25):
pending with Slurm's reason, running with the node, requeued, and a cancel that clears the line."""
from __future__ import annotations

from dash_app.components.jobs.job_grid import load_page
from services import jobs
from services.jobs import JobState
from services.people import api_tokens, users
from tests.conftest import USER_PASSWORD, login
from tests.dash_app.test_job_page_slurm import CLUSTER, INPUT, SCRIPT, page


def seen(client, conn, token: str, job_id: int) -> tuple[str, dict, dict]:
    """Return the grid's Slurm cell, the API's `slurm` object for the job alone and in the list."""
    alice = users.get_by_name(conn, "alice")
    row = next(r for r in load_page(conn, alice).rows if r["id"] == job_id)
    one = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    listed = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}).get_json()
    return row["slurm"], one["slurm"], next(j for j in listed["jobs"] if j["id"] == job_id)["slurm"]


def test_grid_api_and_page_say_what_slurm_says(app, client, conn, settings):
    alice = users.get_by_name(conn, "alice")
    token = api_tokens.create_token(conn, alice.id, "script", "read")[1]
    local = jobs.submit(conn, settings, alice, INPUT)
    job = jobs.submit(conn, settings, alice, INPUT)
    assert seen(client, conn, token, local.id)[1] is None  # queued, never in Slurm
    assert jobs.claim_job(conn, settings, "w1", [CLUSTER]).id == local.id
    assert jobs.claim_job(conn, settings, "w1", [CLUSTER]).id == job.id
    jobs.record_submission(conn, job.id, 1, "cluster", "folddeck.x.2.1", SCRIPT, "/shared/fd/x/2/attempt-1")
    jobs.record_slurm_id(conn, job.id, 1, 4243)
    jobs.record_state(conn, job.id, 1, "PENDING", "Priority", "", "4:00:00")
    assert login(client, "alice", USER_PASSWORD).status_code == 302

    cell, one, listed = seen(client, conn, token, job.id)
    assert cell == "pending in Slurm (Priority) · Slurm job 4243" == one["text"] and listed == one
    assert one | {"text": ""} == {"job_id": 4243, "state": "PENDING", "reason": "Priority", "node": "",
                                  "pending": True, "text": ""}
    assert cell in page(client, job.id)
    assert seen(client, conn, token, local.id) == ("", None, None)  # claimed, but its sbatch not yet written

    jobs.record_state(conn, job.id, 1, "RUNNING", "", "gpu-node-7")
    cell, one, listed = seen(client, conn, token, job.id)
    assert cell == "running in Slurm on gpu-node-7 · Slurm job 4243" == one["text"] and listed == one
    assert one["node"] == "gpu-node-7" and not one["pending"] and cell in page(client, job.id)

    jobs.record_state(conn, job.id, 1, "REQUEUED", "BeginTime", "")  # a node failure: Slurm runs it again
    cell, one, _ = seen(client, conn, token, job.id)
    assert cell == "pending in Slurm (BeginTime) · Slurm job 4243" == one["text"] and one["state"] == "REQUEUED"

    jobs.cancel_job(conn, alice, job.id)
    jobs.record_state(conn, job.id, 1, "CANCELLED", "cancelled from FoldDeck", "")  # what the executor notes
    running = jobs.get_job(conn, alice, job.id)
    jobs.finish_attempt(conn, running, JobState.CANCELLED)
    cell, one, _ = seen(client, conn, token, job.id)
    assert cell == "" and one["state"] == "CANCELLED" and "running in Slurm" not in one["text"]
    assert "running in Slurm" not in page(client, job.id)
