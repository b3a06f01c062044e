"""Backup (issue 18): a backup of a live database, taken while a writer keeps writing, restores to an
identical job list with the job folders; the CLI round-trips too."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from services import jobs
from services.operations import backup
from services.people import users
from services.platform import db
from services.platform.errors import SettingsError
from services.platform.settings import load_settings
from tests.conftest import ROOT
from tests.services.test_jobs import af3
from tests.services.test_jobs_manage import finished


def listing(settings) -> list[tuple]:
    conn = db.connect(settings.db_path)
    admin = users.get_by_name(conn, "admin")
    page, _total = jobs.list_jobs(conn, admin, all_users=True, limit=1000, sort="submitted_asc")
    return [(j.id, j.owner, j.name, j.state.value, j.tokens, j.submitted_at) for j in page]


def test_live_backup_restores_identical_job_list(conn, settings, alice, tmp_path):
    done = finished(conn, settings, alice, "with outputs")
    for i in range(20):
        jobs.submit(conn, settings, alice, af3(f"job {i}"))
    stop = threading.Event()

    def keep_writing():  # a live instance: another connection submits while the backup runs
        c = db.connect(settings.db_path)
        i = 0
        while not stop.is_set():
            jobs.submit(c, settings, alice, af3(f"live {i}"))
            i += 1
        db.close_all()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = backup.backup(settings, tmp_path / "bk")
    finally:
        stop.set()
        writer.join()
    restored = load_settings(environ={}, dotenv=None, data_dir=tmp_path / "restored")
    assert backup.restore(tmp_path / "bk", restored.data_dir)["jobs"] == result["jobs"]
    got = listing(restored)
    want = [row for row in listing(settings) if row[0] <= max(r[0] for r in got)]
    assert got == want and len(got) >= 21
    assert (restored.jobs_dir / str(done.id) / "attempt-1" / "model.cif").read_text() == "data_x\n"
    with pytest.raises(SettingsError):
        backup.restore(tmp_path / "bk", restored.data_dir)  # never over a database by accident


def test_cli_round_trip(conn, settings, alice, tmp_path):
    jobs.submit(conn, settings, alice, af3("cli"))
    env = {**os.environ, "FOLDDECK_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run([sys.executable, "-m", "services.operations.backup", str(tmp_path / "bk")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Backed up 1 jobs" in out.stdout, out.stderr
    env["FOLDDECK_DATA_DIR"] = str(tmp_path / "new")
    out = subprocess.run([sys.executable, "-m", "services.operations.backup", "--restore", str(tmp_path / "bk")],
                         cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Restored 1 jobs" in out.stdout, out.stderr
