"""Worker end to end with the bundled AF3 simulator: success rules, failures, cancel, SSH, shutdown."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, joblog
from services.people import users
from services.running.executors.local import _group_members
from services.running.outputs import check_outputs, expected_samples
from services.running.worker import Worker
from tests.conftest import alive, wait_for

ROOT = Path(__file__).resolve().parents[2]
SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
INPUT = {"name": "Worker test", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def run_one(settings, conn, alice, command: str, doc: dict = INPUT) -> jobs.Job:
    s = settings.with_overrides(af3_command=command)
    job = jobs.submit(conn, s, alice, doc)
    assert Worker(s, concurrency=1).run(once=True) == 1
    return jobs.get_job(conn, alice, job.id)


def test_simulated_job_succeeds_with_results_and_progress(settings, conn, alice):
    job = run_one(settings, conn, alice, SIM)
    assert job.state is JobState.SUCCEEDED and job.exit_code == 0 and job.error is None
    assert (job.stage, job.progress) == ("done", 1.0)
    out = Path(job.output_path)
    # The default simulator runs two stages (issue 16): data pipeline in attempt 1, inference in attempt 2.
    assert job.attempts == 2 and out == settings.jobs_dir / str(job.id) / "attempt-2"
    assert len(list(out.glob("Worker_test/seed-1_sample-*/*_summary_confidences.json"))) == 5
    counts = joblog.level_counts(conn, job.id)
    assert counts["progress"] >= 5 and counts["warning"] >= 1 and counts["error"] == 0 and counts["success"] >= 2
    assert joblog.read_log(conn, job.id, joblog.last_seq(conn, job.id) - 1)[0].text == "Job succeeded."
    assert job.pid is None and job.lease_expires is None  # cleared once the attempt ended


def test_out_of_memory_fails_with_the_exception_as_summary(settings, conn, alice):
    job = run_one(settings, conn, alice, SIM + " --fail-at=inference")
    assert job.state is JobState.FAILED and job.exit_code == 1
    assert job.error.startswith("jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory")
    assert job.stage == "failed" and 0.5 <= job.progress < 1


def test_exit_zero_without_every_sample_is_a_failure(settings, conn, alice):
    # A non-empty output folder is not success: a summary per seed and sample is.
    command = ("mkdir -p {output}/Worker_test/seed-1_sample-0 && "
               "echo '{{}}' > {output}/Worker_test/seed-1_sample-0/x_summary_confidences.json")
    job = run_one(settings, conn, alice, command)
    assert job.state is JobState.FAILED and job.exit_code == 0
    assert job.error == "results incomplete: no summary confidences for seed 1 sample 1 (and 3 more)"
    job = run_one(settings, conn, alice, SIM + " --num_diffusion_samples=2")
    assert job.state is JobState.SUCCEEDED


def test_expected_samples_follow_the_command_flags():
    assert expected_samples({"modelSeeds": [3, 9]}, "af3 --num_diffusion_samples=2") == [(3, 0), (3, 1), (9, 0), (9, 1)]
    assert expected_samples({"modelSeeds": [5]}, "af3 --num_seeds 2 --num_diffusion_samples 1") == [(5, 0), (6, 0)]


def test_check_outputs_reports_missing_folder(tmp_path):
    assert check_outputs(tmp_path / "nothing", {}, "") == "no output folder was written"


def test_cancelling_a_running_job_kills_its_process_tree(settings, conn, alice, running_worker):
    marks = settings.data_dir / "pids"
    s = settings.with_overrides(af3_command=f"sleep 300 & echo $! > {marks}; echo started; wait")
    job = jobs.submit(conn, s, alice, INPUT)
    running_worker(s)
    wait_for(lambda: any(line.text == "started" for line in joblog.read_log(conn, job.id)), what="job start")
    pgid = jobs.get_job(conn, alice, job.id).pid
    child = int(marks.read_text())
    assert alive(pgid) and alive(child)
    jobs.cancel_job(conn, alice, job.id)
    done = wait_for(lambda: (j := jobs.get_job(conn, alice, job.id)).is_finished and j, what="cancelled")
    assert done.state is JobState.CANCELLED and not alive(child) and not alive(pgid)
    assert joblog.read_log(conn, job.id)[-1].text == "Job cancelled."


@pytest.mark.service
def test_job_runs_on_an_ssh_host_and_results_come_back(settings, conn, alice, sshd, tmp_path, running_worker):
    remote_sim = (f"cd {ROOT} && {ROOT}/.venv/bin/python -m services.af3sim --json_path={{input}} "
                  "--output_dir={output} --speed=0")
    host = Host(name="sshbox", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                work_dir=str(tmp_path / "remote"), slots=1, af3_command=remote_sim)
    s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]))
    job = jobs.submit(conn, s, alice, INPUT)
    Worker(s, hosts=[host], concurrency=1).run(once=True)
    job = jobs.get_job(conn, alice, job.id)
    assert job.state is JobState.SUCCEEDED, job.error
    assert (job.host, job.executor) == ("sshbox", "ssh")
    assert job.remote_output == f"sshbox:{tmp_path}/remote/job-{job.id}/attempt-1/output"
    local = Path(job.output_path)
    assert len(list(local.glob("Worker_test/seed-1_sample-*/*_summary_confidences.json"))) == 5
    assert list(local.glob("Worker_test/Worker_test_model.cif"))
    assert any("Running model inference with seed 1" in line.text for line in joblog.read_log(conn, job.id))


def worker_env(settings, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env.update(FOLDDECK_DATA_DIR=str(settings.data_dir), FOLDDECK_SECRET_KEY="test", PYTHONPATH=str(ROOT))
    env.update({f"FOLDDECK_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def start_worker_process(settings, *args: str, **extra) -> subprocess.Popen:
    # Output goes to a file: an unread pipe would fill up and stall a chatty worker.
    out = settings.data_dir / f"worker-{time.monotonic_ns()}.out"
    with open(out, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "services.running.worker", *args], cwd=ROOT,
                                env=worker_env(settings, **extra), stdout=fh, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: out.read_text().startswith("FoldDeck worker "), what="worker start line")
    return proc


@pytest.mark.slow
def test_worker_killed_mid_job_is_replaced_after_the_lease(settings, conn, alice, running_worker):
    first_try = settings.data_dir / "first-try"
    # The first attempt hangs (the worker is killed under it); any later attempt runs the simulator.
    command = f"if mkdir {first_try} 2>/dev/null; then echo hanging; sleep 300; else {SIM}; fi"
    job = jobs.submit(conn, settings, alice, INPUT)
    proc = start_worker_process(settings, af3_command=command, lease_seconds=5)
    running = wait_for(lambda: (j := jobs.get_job(conn, alice, job.id)).pid and j, what="job running")
    wait_for(lambda: any(line.text == "hanging" for line in joblog.read_log(conn, job.id)), what="output")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert jobs.get_job(conn, alice, job.id).state is JobState.RUNNING  # nobody knows yet
    running_worker(settings.with_overrides(af3_command=command))
    done = wait_for(lambda: (j := jobs.get_job(conn, alice, job.id)).is_finished and j, timeout=30, what="finish")
    assert done.state is JobState.SUCCEEDED and done.attempts == 2
    history = jobs.attempts(conn, alice, job.id)
    assert [(a.attempt, a.outcome) for a in history] == [(1, "worker lost"), (2, "succeeded")]
    assert history[0].worker_id != history[1].worker_id
    assert not alive(running.pid)
    # attempt 1 ran in its own process group (pgid = its pid): nothing of it may survive
    assert _group_members(running.pid) == [], "attempt 1 left a process"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["requeue", "wait"])
def test_sigterm_hands_back_or_waits_by_setting(settings, conn, alice, mode):
    command = "echo started; sleep 2; " + SIM
    job = jobs.submit(conn, settings, alice, INPUT)
    proc = start_worker_process(settings, af3_command=command, worker_shutdown=mode)
    wait_for(lambda: any(line.text == "started" for line in joblog.read_log(conn, job.id)), what="job start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    after = jobs.get_job(conn, alice, job.id)
    if mode == "requeue":
        assert after.state is JobState.QUEUED and after.attempts - after.attempts_base == 0
        assert jobs.attempts(conn, alice, job.id)[0].outcome == "requeued"
    else:
        assert after.state is JobState.SUCCEEDED
    assert jobs.list_workers(conn) == []


@pytest.mark.slow
def test_four_workers_run_200_jobs_exactly_once(settings, conn, alice):
    ledger = settings.data_dir / "ledger"
    # The claim is under test, not AF3: each run appends its input to the ledger, lasts half a second (the runs of
    # both users must overlap for the fair order to show) and leaves the one file the worker needs to call a run of
    # one sample done (a Python simulator per job cost a minute of CPU across 200 jobs).
    sample = "{output}/w/seed-1_sample-0"
    command = (f": --num_diffusion_samples=1; echo {{input}} >> {ledger} && sleep 0.5 && mkdir -p {sample} && "
               f"echo '{{{{}}}}' > {sample}/w_summary_confidences.json")
    bob = users.create_user(conn, "bob", "bob-password-1")
    users.accept_terms(conn, bob.id)
    # Alice queues all of hers first: only the fair claim order lets bob's jobs start early.
    ids = [jobs.submit(conn, settings, alice if i < 100 else bob, INPUT).id for i in range(200)]
    # One slot thread each, four slots in all: every claim races the other processes.
    # (the MSA cache off: every run reads its own input.json, as the ledger checks)
    procs = [start_worker_process(settings, "--concurrency=1", af3_command=command, local_slots=4, msa_cache_mb=0)
             for _ in range(4)]
    try:
        wait_for(lambda: jobs.state_counts(conn, alice, all_users=False)["succeeded"] == 100
                 and jobs.state_counts(conn, bob)["succeeded"] == 100, timeout=240, what="200 jobs")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
    runs = ledger.read_text().split()
    assert sorted(runs) == sorted(str(settings.jobs_dir / str(i) / "input.json") for i in ids)  # once each
    rows = conn.execute("SELECT job_id, COUNT(*), MAX(attempt) FROM job_attempts GROUP BY job_id").fetchall()
    assert len(rows) == 200 and all(r[1] == 1 and r[2] == 1 for r in rows)
    workers = {r[0] for r in conn.execute("SELECT DISTINCT worker_id FROM job_attempts")}
    assert len(workers) == 4  # every worker took part
    order = [r[0] for r in conn.execute("SELECT job_id FROM job_attempts ORDER BY rowid")]  # claim commit order
    bobs_early = sum(j in set(ids[100:]) for j in order[:100])
    assert 40 <= bobs_early <= 60, f"bob got {bobs_early} of the first 100 claims; four racing workers broke fairness"


def test_a_succeeded_jobs_best_sample_is_parsed_for_its_page_before_anyone_opens_it(settings, conn, alice,
                                                                                     monkeypatch):
    from services import results
    from services.platform import defaults
    from services.results import confidences

    job = run_one(settings, conn, alice, SIM)  # run() returns once the pre-parse thread is done
    cache = settings.data_dir / defaults.RESULTS_CACHE_DIR

    def no_parse(*_args):
        raise AssertionError("the page parsed the PAE again")

    monkeypatch.setattr(confidences, "_reduce", no_parse)
    conf = results.best_confidences(Path(job.output_path), cache_dir=cache)
    assert conf is not None and not conf.note and len(conf.pae_png) > 0
