"""Issue 22 from the outside: bob, a second user with an API token, names alice's input and the
server's files in every path field, as JSON and as multipart with files sent along; the refusals
name the field and quote nothing of the files. Sent files work end to end, and the job's log and
API answers show paths relative to the job, never the server's data dir."""
from __future__ import annotations

import io
import json
import sys

from services import jobs
from services.people import api_tokens
from services.running.worker import Worker
from tests.services.test_input_files import CANARY, FIELDS, MSA, doc

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_bob_names_alices_input_and_the_servers_files_through_the_api(client, settings, conn, alice, bob):
    mine = jobs.submit(conn, settings, alice, {**doc("unpairedMsaPath", "x"), "version": 4, "sequences": [
        {"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA", "description": CANARY}}]})
    (settings.data_dir / "secret_key").write_text(CANARY)
    token = api_tokens.create_token(conn, bob.id, "script", "write")[1]
    targets = [mine.input_path, str(settings.data_dir / "secret_key"), "/etc/passwd", "/proc/self/environ",
               f"../{mine.id}/input.json", f"files/../../{mine.id}/input.json"]
    for field in FIELDS:
        for target in targets:
            body = json.dumps(doc(field, target))
            as_json = client.post("/api/v1/jobs?accept_terms=true", data=body, headers=bearer(token),
                                  content_type="application/json")
            multipart = client.post("/api/v1/jobs?accept_terms=true", headers=bearer(token), data={
                "input": (io.BytesIO(body.encode()), "in.json"), "other": (io.BytesIO(MSA.encode()), "other.a3m")},
                content_type="multipart/form-data")
            for r in (as_json, multipart):
                assert r.status_code in (422, 429), (field, target, r.status_code, r.json)
                if r.status_code == 422:
                    assert field in json.dumps(r.json) and CANARY not in r.get_data(as_text=True)
    assert jobs.list_jobs(conn, bob, limit=10)[1] == 0


def test_files_sent_as_multipart_run_and_the_log_shows_no_server_paths(client, settings, conn, bob):
    token = api_tokens.create_token(conn, bob.id, "script", "write")[1]
    body = json.dumps(doc("unpairedMsaPath", "msas/a.a3m"))
    r = client.post("/api/v1/jobs?accept_terms=true", headers=bearer(token), data={
        "input": (io.BytesIO(body.encode()), "in.json"), "a": (io.BytesIO(MSA.encode()), "msas/a.a3m")},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    job_id = r.json["jobs"][0]["id"]
    assert Worker(settings.with_overrides(af3_command=SIM), concurrency=1).run(once=True) == 1
    got = client.get(f"/api/v1/jobs/{job_id}", headers=bearer(token)).json
    assert got["state"] == "succeeded", got
    log = client.get(f"/api/v1/jobs/{job_id}/log?since=0&limit=5000", headers=bearer(token)).get_data(as_text=True)
    assert str(settings.data_dir) not in log and "output written to attempt-1/files" in log
    assert str(settings.data_dir) not in json.dumps(got)
    bad = client.post("/api/v1/jobs?accept_terms=true", headers=bearer(token), data={
        "input": (io.BytesIO(body.encode()), "in.json"), "a": (io.BytesIO(b"x"), "../a.a3m")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "not a plain file name" in bad.json["error"]
