"""A backup restored into another data dir carries on (issue 22): job rows keep paths relative to
the data dir, so with the old folder deleted finished jobs still show their results and input, a
queued job runs, and a job waiting for a GPU starts inference from its saved _data.json. Rows from
before the change (absolute paths into the old folder) are re-anchored by migration 0016."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from services import jobs, results
from services.jobs import JobState, joblog
from services.operations import backup
from services.people import users
from services.platform import db
from services.platform.settings import load_settings
from services.running.worker import Worker

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"


def af3(name: str, seq: str = "MKVLAAGIVALLLA") -> dict:
    return {"name": name, "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
            "sequences": [{"protein": {"id": "A", "sequence": seq}}]}


def _log(settings, job_id: int) -> str:
    return "\n".join(line.text for line in joblog.read_log(db.connect(settings.db_path), job_id))


def test_restored_elsewhere_with_the_old_folder_gone_everything_carries_on(settings, conn, alice, tmp_path):
    s = settings.with_overrides(af3_command=SIM, local_cpu_slots=1)
    done = jobs.submit(conn, s, alice, af3("done"))
    assert Worker(s, concurrency=2).run(once=True) == 1  # both stages, one after the other
    assert jobs.get_job(conn, alice, done.id).state is JobState.SUCCEEDED
    between = jobs.submit(conn, s, alice, af3("between stages", "MKVLAAGIVALLLAW"))
    # Its inference fails (out of GPU memory): a retry waits for a GPU with the saved _data.json.
    Worker(s.with_overrides(af3_command=SIM + " --fail-at=inference"), concurrency=2).run(once=True)
    assert jobs.get_job(conn, alice, between.id).state is JobState.FAILED
    waiting = jobs.retry_job(conn, alice, between.id)
    assert waiting.waiting_for_gpu and Path(waiting.data_json).is_file()
    queued = jobs.submit(conn, s, alice, af3("queued", "MKVLAAGIVALLLAWY"))
    stored = conn.execute("SELECT input_path, output_path, data_json FROM jobs WHERE id = ?", (between.id,)).fetchone()
    assert not any(str(p).startswith("/") for p in stored if p), stored  # kept relative to the data dir

    backup.backup(s, tmp_path / "bk")
    moved = s.with_overrides(data_dir=tmp_path / "elsewhere" / "data")
    backup.restore(tmp_path / "bk", moved.data_dir)
    db.close_all()
    shutil.rmtree(s.data_dir)  # the old server is gone: nothing may be read from there
    db.migrate(moved.db_path)
    mconn = db.connect(moved.db_path)
    malice = users.get_by_name(mconn, "alice")
    for job in jobs.list_jobs(mconn, malice, limit=100)[0]:
        for path in (job.input_path, job.output_path, job.data_json):
            assert path is None or path.startswith(str(moved.data_dir)), (job.id, path)

    finished = jobs.get_job(mconn, malice, done.id)
    assert finished.read_input()["name"] == "done"
    assert results.read_results(finished.output_path).samples  # the results view reads them

    moved = moved.with_overrides(af3_command=SIM, local_cpu_slots=1)
    assert Worker(moved, concurrency=2).run(once=True) == 1
    assert Worker(moved, concurrency=2).run(once=True) == 1
    for job_id in (between.id, queued.id):
        assert jobs.get_job(mconn, malice, job_id).state is JobState.SUCCEEDED, _log(moved, job_id)
    assert "Inference starts from the saved data pipeline output" in _log(moved, between.id)


def test_migration_re_anchors_rows_written_before_paths_were_relative(tmp_path):
    """Rows of an older database: absolute paths into the server it came from, and the even older
    `data/jobs/<id>/...` relative to the submitter's folder. A job named "jobs" keeps its folder."""
    path = tmp_path / "new" / "data" / "folddeck.db"
    conn = db.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at REAL NOT NULL)")
    for number, name, sql in db.migrations():
        if number < 16:
            for statement in db._statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (number, name))
    alice = users.create_user(conn, "alice", "user-password-1", users.Role.USER)
    rows = [(1, "/srv/old/data/jobs/1/input.json", "/srv/old/data/jobs/1/attempt-2",
             "/srv/old/data/jobs/1/attempt-1/jobs/jobs_data.json"),
            (2, "data/jobs/2/input.json", "data/jobs/2/attempt-0", None),
            (3, "/elsewhere/import/input.json", None, None)]
    for job_id, inp, out, data in rows:
        conn.execute("INSERT INTO jobs (id, owner_id, name, state, input_path, output_path, data_json, submitted_at, "
                     "queued_at, updated_at) VALUES (?, ?, 'x', 'queued', ?, ?, ?, 0, 0, 0)",
                     (job_id, alice.id, inp, out, data))
    assert "0016_relative_paths.sql" in db.migrate(path)
    got = {r[0]: tuple(r[1:]) for r in conn.execute("SELECT id, input_path, output_path, data_json FROM jobs")}
    assert got == {1: ("jobs/1/input.json", "jobs/1/attempt-2", "jobs/1/attempt-1/jobs/jobs_data.json"),
                   2: ("jobs/2/input.json", "jobs/2/attempt-0", None),
                   3: ("/elsewhere/import/input.json", None, None)}
    s = load_settings(environ={}, dotenv=None, data_dir=path.parent)
    job = jobs.get_job(conn, users.get_by_name(conn, "alice"), 1)
    assert job.input_path == str(s.jobs_dir / "1" / "input.json")
    assert job.data_json == str(s.jobs_dir / "1" / "attempt-1" / "jobs" / "jobs_data.json")
