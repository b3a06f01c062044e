"""Paths: settings resolve every path to an absolute one, and jobs queued with the old relative paths still run.

`make run`'s default data dir is the relative `./data`; the input path went to the AF3 command,
which runs in its attempt folder, so every job failed with FileNotFoundError.
"""
from __future__ import annotations

import sys
from pathlib import Path

from services import jobs
from services.jobs import JobState
from services.platform import db
from services.platform.settings import Settings, load_settings
from services.running.worker import Worker

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
INPUT = {"name": "Paths", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def test_relative_settings_paths_become_absolute_against_the_start_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={"FOLDDECK_HOSTS_FILE": "conf/hosts.toml", "FOLDDECK_AF3_MODEL_DIR": "models",
                               "FOLDDECK_AF3_DB_DIR": "~/dbs", "FOLDDECK_KNOWN_HOSTS": "kh"}, dotenv=None)
    assert s.data_dir == tmp_path / "data" and s.db_path == tmp_path / "data" / "folddeck.db"
    assert s.jobs_dir == tmp_path / "data" / "jobs"
    assert s.hosts_path == tmp_path / "conf" / "hosts.toml" and s.known_hosts == tmp_path / "kh"
    assert s.af3_model_dir == str(tmp_path / "models")
    assert s.af3_db_dir == str(Path("~/dbs").expanduser())
    assert Settings(data_dir=Path("x/../data")).data_dir == tmp_path / "data"  # built directly, too
    assert load_settings(environ={}, dotenv=None).hosts_path == tmp_path / "data" / "hosts.toml"


def test_submitted_paths_are_absolute_with_a_relative_data_dir(tmp_path, monkeypatch, alice, conn):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={"FOLDDECK_DATA_DIR": "data"}, dotenv=None)
    db.migrate(s.db_path)
    job = jobs.submit(db.connect(s.db_path), s, alice, INPUT)
    assert job.input_path == str(tmp_path / "data" / "jobs" / str(job.id) / "input.json")


def _legacy_job(settings, conn, alice) -> jobs.Job:
    """Queue a job, then give it the relative paths rows had before the fix."""
    job = jobs.submit(conn, settings, alice, INPUT)
    conn.execute("UPDATE jobs SET input_path = ?, output_path = ? WHERE id = ?",
                 (f"data/jobs/{job.id}/input.json", f"data/jobs/{job.id}/attempt-0", job.id))
    return job


def test_a_job_queued_with_a_relative_input_path_runs_from_any_folder(settings, conn, alice, tmp_path, monkeypatch):
    job = _legacy_job(settings, conn, alice)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the data dir's parent nor the attempt folder
    s = settings.with_overrides(af3_command=SIM)
    assert Worker(s, concurrency=1).run(once=True) == 1
    done = jobs.get_job(conn, alice, job.id)
    assert done.state is JobState.SUCCEEDED, done.error
    # two stages (the default simulator): the last attempt holds the results
    assert Path(done.output_path) == settings.jobs_dir / str(job.id) / f"attempt-{done.attempts}"
