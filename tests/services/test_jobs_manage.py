"""Delete, rename, pin (issue 18): files and rows go, one audit line stays, other users' jobs are untouchable."""
from __future__ import annotations

import logging

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, joblog
from services.operations import job_removal
from services.people import users
from services.platform.errors import InvalidInput, JobNotFound, JobStateError
from tests.services.test_jobs import af3

LOCAL = [Host(name="local", slots=4)]


def finished(conn, settings, owner, name="job") -> jobs.Job:
    """Submit, claim and finish a job with an output file and log lines; return it."""
    job = jobs.submit(conn, settings, owner, af3(name))
    jobs.register_worker(conn, "w1", "test", 1)
    claimed = jobs.claim_job(conn, settings, "w1", LOCAL)
    out = settings.jobs_dir / str(job.id) / "attempt-1"
    out.mkdir(parents=True)
    (out / "model.cif").write_text("data_x\n")
    jobs.record_process(conn, claimed, output_path=str(out))
    joblog.append_lines(conn, job.id, [(joblog.Stream.OUTPUT.value, "a line")])
    assert jobs.finish_attempt(conn, claimed, JobState.SUCCEEDED, exit_code=0)
    return jobs.get_job(conn, owner, job.id)


def test_delete_removes_folder_rows_and_keeps_one_audit_line(conn, settings, alice, caplog):
    job = finished(conn, settings, alice)
    folder = settings.jobs_dir / str(job.id)
    assert (folder / "attempt-1" / "model.cif").exists()
    with caplog.at_level(logging.INFO, logger="folddeck.jobs"):
        job_removal.delete_job(conn, settings, alice, job.id)
    assert not folder.exists()
    for table, col in (("jobs", "id"), ("job_attempts", "job_id"), ("job_log", "job_id"),
                       ("job_log_levels", "job_id")):
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} = ?", (job.id,)).fetchone()[0] == 0, table
    audit = [r for r in caplog.records if "deleted by alice" in r.getMessage()]
    assert len(audit) == 1 and audit[0].job_id == job.id
    with pytest.raises(JobNotFound):
        jobs.get_job(conn, alice, job.id)


def test_delete_refuses_unfinished_jobs(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3())
    with pytest.raises(JobStateError):
        job_removal.delete_job(conn, settings, alice, job.id)
    assert (settings.jobs_dir / str(job.id) / "input.json").exists()


def test_other_user_cannot_delete_rename_or_pin(conn, settings, alice, bob):
    job = finished(conn, settings, alice, "alice-secret")
    for act in (lambda: job_removal.delete_job(conn, settings, bob, job.id),
                lambda: jobs.rename_job(conn, bob, job.id, "mine now"),
                lambda: jobs.pin_job(conn, bob, job.id, True)):
        with pytest.raises(JobNotFound):
            act()
    again = jobs.get_job(conn, alice, job.id)
    assert again.name == "alice-secret" and not again.pinned
    assert (settings.jobs_dir / str(job.id) / "attempt-1" / "model.cif").exists()


def test_admin_deletes_anyones_finished_job(conn, settings, alice):
    job = finished(conn, settings, alice)
    job_removal.delete_job(conn, settings, users.get_by_name(conn, "admin"), job.id)
    assert not (settings.jobs_dir / str(job.id)).exists()


def test_rename_and_pin(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3("old"))
    marks = jobs.change_marks(conn, alice)
    assert jobs.rename_job(conn, alice, job.id, "  new   name ").name == "new name"
    with pytest.raises(InvalidInput):
        jobs.rename_job(conn, alice, job.id, "   ")
    assert jobs.pin_job(conn, alice, job.id, True).pinned == 1
    assert jobs.change_marks(conn, alice) != marks  # the dashboard sees the rename and the pin
    assert jobs.pin_job(conn, alice, job.id, False).pinned == 0


@pytest.mark.service
def test_deleting_a_job_removes_its_folder_on_the_ssh_host_too(settings, conn, alice, sshd, tmp_path, caplog):
    import time
    from pathlib import Path

    from services.hosts import load_hosts
    from services.running.executors.cleanup import remove_elsewhere
    from services.running.worker import Worker

    root = Path(__file__).resolve().parents[2]
    remote = tmp_path / "remote"
    command = (f"cd {root} && {root}/.venv/bin/python -m services.af3sim --json_path={{input}} "
               "--output_dir={output} --speed=0")
    (settings.data_dir / "hosts.toml").write_text(f"""
[[host]]
name = "sshbox"
address = "{sshd['host']}"
port = {sshd['port']}
user = "{sshd['user']}"
key_file = "{sshd['key']}"
work_dir = "{remote}"
af3_command = "{command}"

[[host]]
name = "gone"
address = "127.0.0.1"
port = 1
user = "nobody"
""")
    s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]), local_slots=0)
    job = jobs.submit(conn, s, alice, af3("remote"))
    assert Worker(s, hosts=[h for h in load_hosts(s) if h.name == "sshbox"]).run(once=True) == 1
    assert (remote / f"job-{job.id}").is_dir()
    job_removal.delete_job(conn, s, alice, job.id)  # returns at once: the host is reached in the background
    deadline = time.monotonic() + 15
    while (remote / f"job-{job.id}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (remote / f"job-{job.id}").exists()
    # a host that does not answer: the folder stays, and the log says where
    with caplog.at_level(logging.WARNING, logger="folddeck.jobs"):
        remove_elsewhere(s, 99, ["gone"], wait=True)
    assert any("job 99 was deleted, but its folder on gone stays" in r.getMessage() for r in caplog.records)
