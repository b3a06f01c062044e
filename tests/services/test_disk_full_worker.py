"""A really full disk (a small tmpfs filled to the last byte) under a running worker (issue 22, item 9).

The job that was running fails at once with "The disk is full: ..." (not when its lease runs out),
the admin gets one error in the application log, the worker claims nothing until space is back,
and once it is, nothing is corrupted and a retry runs to the end."""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time

import pytest

from services import jobs
from services.jobs import JobState, joblog
from services.jobs.model import FINISHED
from services.people import users
from services.platform import applog, db, defaults, disk
from services.platform.settings import load_settings
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, wait_for
from tests.dash_app.test_disk_full_web import disk as tmpfs  # noqa: F401 (a fixture)
from tests.dash_app.test_disk_full_web import fill_disk
from tests.services.test_worker import INPUT, SIM


@pytest.fixture
def on_tmpfs(tmpfs):  # noqa: F811
    """Settings and conn on the 24 MiB tmpfs, `admin` and `alice`, and the application log installed."""
    settings = load_settings(environ={}, dotenv=None, data_dir=tmpfs / "data")
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    for name, password, role in (("admin", ADMIN_PASSWORD, users.Role.ADMIN), ("alice", USER_PASSWORD, "user")):
        users.accept_terms(conn, users.create_user(conn, name, password, role).id)
    handler = applog.install(settings)
    yield settings, conn
    logging.getLogger("folddeck").removeHandler(handler)
    handler.close()


def held(release) -> str:
    """The simulator, held at a gate until the file `release` exists."""
    return f"while [ ! -e {release} ]; do sleep 0.05; done; {SIM} --num_diffusion_samples=1"


@pytest.mark.parametrize("noticed_by", ["output", "heartbeat"])
def test_a_full_disk_fails_the_running_job_at_once_and_nothing_is_corrupted(on_tmpfs, tmp_path, running_worker,
                                                                             monkeypatch, noticed_by):
    """`noticed_by`: which write meets the full disk first, the job's output (no heartbeat due) or a heartbeat
    (the job held silent at its gate)."""
    settings, conn = on_tmpfs
    if noticed_by == "output":
        monkeypatch.setattr(defaults, "HEARTBEAT_SECONDS", 3600)  # one beat at the start, none during the test
    release = tmp_path / "release"  # off the tmpfs: touching it must not need the full disk
    s = settings.with_overrides(af3_command=held(release), lease_seconds=600)  # a stall would outlast the test
    alice = users.get_by_name(conn, "alice")
    first = jobs.submit(conn, s, alice, INPUT)
    second = jobs.submit(conn, s, alice, dict(INPUT, name="Second"))
    worker = running_worker(s, concurrency=1)
    reserve = s.data_dir / disk.RESERVE_NAME
    wait_for(lambda: jobs.get_job(conn, alice, first.id).state is JobState.RUNNING, what="the first job running")
    assert reserve.stat().st_size == disk.reserve_bytes()  # made at the worker's start, while space allowed

    fill_disk(s.data_dir.parent / "filler", conn)
    filled_at = time.time()
    if noticed_by == "output":
        release.touch()

    job = wait_for(lambda: (j := jobs.get_job(conn, alice, first.id)).state is not JobState.RUNNING and j, timeout=30,
                   what="the first job to end")
    assert time.time() - filled_at < 30  # at once, not when the 600 s lease runs out
    assert job.state is JobState.FAILED and job.error.startswith("The disk is full:"), job.error
    assert "Job failed: The disk is full:" in [line.text for line in joblog.read_log(conn, first.id)][-1]
    assert not reserve.exists()  # spent on recording that
    assert applog.flush()
    errors = conn.execute("SELECT message FROM app_log WHERE level = 'ERROR' AND message LIKE 'Disk full%'").fetchall()
    assert len(errors) == 1 and f"Disk full under {s.data_dir}" in errors[0][0], errors  # once, for the admin
    wait_for(worker.disk_full.is_set, what="the worker to stop claiming")
    assert jobs.get_job(conn, alice, second.id).state is JobState.QUEUED

    release.touch()
    (s.data_dir.parent / "filler").unlink()
    freed_at = time.time()
    done = wait_for(lambda: (j := jobs.get_job(conn, alice, second.id)).state in FINISHED and j, timeout=60,
                    what="the second job to run once space is back")
    assert done.state is JobState.SUCCEEDED and done.started_at >= freed_at - 1, done.error
    assert reserve.stat().st_size == disk.reserve_bytes()  # back before the next claim
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    jobs.retry_job(conn, users.get_by_name(conn, "admin"), first.id)
    retried = wait_for(lambda: (j := jobs.get_job(conn, alice, first.id)).state in FINISHED and j, timeout=60,
                       what="the retry to finish")
    assert retried.state is JobState.SUCCEEDED, retried.error


def test_only_a_full_disk_is_taken_for_one():
    assert disk.is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert disk.is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk.is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise sqlite3.OperationalError("cannot rollback - no transaction is active") from None
    except sqlite3.OperationalError as wrapped:
        assert disk.is_disk_full(wrapped)  # the ROLLBACK that failed after the real cause
    assert not disk.is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not disk.is_disk_full(FileNotFoundError(errno.ENOENT, "gone"))
    assert not disk.is_disk_full(ValueError("x"))
    assert not disk.is_disk_full(None)


def test_the_reserve_takes_real_blocks_and_is_not_made_where_space_is_short(tmpfs):  # noqa: F811
    data = tmpfs / "data"
    data.mkdir()
    reserve = disk.Reserve(data)
    before = os.statvfs(data).f_bavail
    assert reserve.ensure() and reserve.ensure()  # the second call finds it there
    took = (before - os.statvfs(data).f_bavail) * os.statvfs(data).f_frsize
    assert took >= disk.reserve_bytes()  # written out, not a sparse file that frees nothing
    assert reserve.release() and not reserve.path.exists() and not reserve.release()

    fill_disk(tmpfs / "filler")
    assert not reserve.ensure() and not reserve.path.exists()  # no half-made reserve left behind
    assert not any(p.name.startswith(disk.RESERVE_NAME) for p in data.iterdir())
