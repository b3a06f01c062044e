"""A job run through Slurm: its page says "pending in Slurm" with Slurm's reason, then the node and
Slurm job id, and links its batch script (shown and downloadable; hidden from other users)."""
from __future__ import annotations

import json

from services import jobs
from services.hosts import Host, SlurmConfig
from services.people import users
from tests.conftest import USER_PASSWORD, dash_post, login
from tests.dash_app.test_job_page import page_payload

CLUSTER = Host(name="cluster", work_dir="/shared/fd", slots=4, kind="slurm", slurm=SlurmConfig(partition="gpu"))
INPUT = {"name": "Slurm page", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}
SCRIPT = "#!/bin/bash\n#SBATCH --job-name=folddeck.x.1.1\n#SBATCH --partition=gpu\nrun_af3\n"


def page(client, job_id: int) -> str:
    return json.dumps(dash_post(client, page_payload(f"/jobs/{job_id}")).get_json(), ensure_ascii=False)


def test_pending_then_running_facts_and_the_batch_script(app, client, conn, settings):
    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, alice, INPUT)
    claimed = jobs.claim_job(conn, settings, "w1", [CLUSTER])
    assert claimed.executor == "slurm"
    assert jobs.record_submission(conn, job.id, 1, "cluster", "folddeck.x.1.1", SCRIPT, "/shared/fd/x/1/attempt-1")
    assert not jobs.record_submission(conn, job.id, 1, "cluster", "folddeck.x.1.1", SCRIPT, "/elsewhere")  # once
    jobs.record_slurm_id(conn, job.id, 1, 4242)
    jobs.record_state(conn, job.id, 1, "PENDING", "Resources", "", "4:00:00")
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    body = page(client, job.id)
    assert "pending in Slurm (Resources) · Slurm job 4242" in body
    assert f"/api/jobs/{job.id}/slurm-script" in body
    jobs.record_state(conn, job.id, 1, "RUNNING", "", "gpu-node-7")
    body = page(client, job.id)
    assert "running in Slurm on gpu-node-7 · Slurm job 4242" in body
    shown = client.get(f"/api/jobs/{job.id}/slurm-script")
    assert shown.status_code == 200 and shown.get_data(as_text=True) == SCRIPT
    assert "attachment" not in shown.headers.get("Content-Disposition", "")
    saved = client.get(f"/api/jobs/{job.id}/slurm-script?download=1")
    assert saved.headers["Content-Disposition"].startswith("attachment;") and ".sbatch" in saved.headers[
        "Content-Disposition"]
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    other = app.server.test_client()
    assert login(other, "bob", "bob-password-1").status_code == 302
    assert other.get(f"/api/jobs/{job.id}/slurm-script").status_code == 404


def test_a_local_job_has_no_slurm_script(user_client, conn, settings):
    job = jobs.submit(conn, settings, users.get_by_name(conn, "alice"), INPUT)
    assert user_client.get(f"/api/jobs/{job.id}/slurm-script").status_code == 404
