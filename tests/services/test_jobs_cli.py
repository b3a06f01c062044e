"""`python -m services.jobs`: submit (both dialects), list, show, log, cancel, retry — as a person types them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services import jobs
from services.people import users
from services.platform import db
from services.running.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env.update(FOLDDECK_DATA_DIR=str(settings.data_dir), FOLDDECK_SECRET_KEY="test", FOLDDECK_AF3_COMMAND=SIM)
    return subprocess.run([sys.executable, "-m", "services.jobs", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_cli_round_trip(settings, conn, tmp_path):
    server = tmp_path / "server.json"
    server.write_text(json.dumps([{"name": f"cli {i}", "modelSeeds": [1], "sequences": [
        {"proteinChain": {"sequence": "MKVLAAGIVALLLA", "count": 1}}]} for i in range(2)]))
    out = cli(settings, "submit", str(server), "--user", "alice", "--accept-terms")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["submitted job 1 (cli 0, 14 tokens)", "submitted job 2 (cli 1, 14 tokens)"]

    alice = users.get_by_name(conn, "alice")
    Worker(settings.with_overrides(af3_command=SIM), concurrency=1).run(once=True)
    listing = cli(settings, "list").stdout.splitlines()
    assert listing[0].split() == ["ID", "STATE", "OWNER", "SUBMITTED", "NAME"]
    assert [line.split()[:3] for line in listing[1:3]] == [["2", "queued", "alice"], ["1", "succeeded", "alice"]]
    shown = dict(line.split(None, 1) for line in cli(settings, "show", "1").stdout.splitlines())
    assert shown["state"] == "succeeded" and shown["progress"] == "1.0"
    log = cli(settings, "log", "1", "--follow").stdout.splitlines()  # finished: follow ends by itself
    assert "Done running 1 fold jobs." in log and log[-1] == "Job succeeded."

    assert cli(settings, "cancel", "2").stdout.strip() == "job 2 is cancelled"
    assert cli(settings, "retry", "2").stdout.strip() == "job 2 is queued"
    refused = cli(settings, "retry", "1")
    assert refused.returncode == 1 and "only failed or cancelled jobs can be retried" in refused.stderr
    # A user cannot see someone else's job: same answer as a missing one.
    users.create_user(conn, "bob", "bob-password-1")
    assert cli(settings, "--user", "bob", "show", "1").stderr.strip() == "error: Job 1 was not found."
    assert jobs.get_job(conn, alice, 2).state.value == "queued"


def test_cli_submit_rejects_an_invalid_file_and_lists_problems(settings, conn, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "dialect": "alphafold3", "version": 1, "modelSeeds": [],
                               "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}))
    out = cli(settings, "submit", str(bad), "--accept-terms")
    assert out.returncode == 1 and out.stderr.startswith("error: The input has problems; nothing was submitted.")
    assert "  - " in out.stderr
    assert db.connect(settings.db_path).execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
