"""Two stages per job and MSA reuse (issue 16), end to end with real workers and the bundled simulator.

The host is this machine with 1 GPU slot and 2 CPU slots: the data pipeline (`--norun_inference`)
runs in a CPU slot, inference (`--norun_data_pipeline` on the `_data.json`) in the GPU slot.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services import jobs
from services.hosts import Host, load_hosts
from services.jobs import JobState, joblog
from services.jobs.claim import stages
from services.jobs.rules import wording
from services.msa import msa_cache
from services.running.worker import Worker
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}}"
KINASE = "GSHMSRKLSEIEFKKLGEGTFGVVYKAKNRETGEIVALKKIRLDTETEGVPSTAIREISLLKELNHPNIV"


def fold(name: str, sequence: str = KINASE, ligand: str | None = "ATP", seeds: tuple[int, ...] = (1,)) -> dict:
    """Return an AF3 input: one protein chain A and, optionally, one CCD ligand B."""
    seqs = [{"protein": {"id": "A", "sequence": sequence}}]
    if ligand:
        seqs.append({"ligand": {"id": "B", "ccdCodes": [ligand]}})
    return {"dialect": "alphafold3", "version": 1, "name": name, "modelSeeds": list(seeds), "sequences": seqs}


def two_stage(settings, speed: float = 0, **more):
    return settings.with_overrides(af3_command=f"{SIM} --speed={speed}", local_slots=1, local_cpu_slots=2, **more)


def attempts(conn, job_id: int) -> list[dict]:
    rows = conn.execute("SELECT attempt, phase, outcome, started_at, finished_at FROM job_attempts WHERE job_id = ? "
                        "ORDER BY attempt", (job_id,))
    return [dict(zip(("attempt", "phase", "outcome", "started", "finished"), r, strict=True)) for r in rows]


def log_text(conn, job_id: int) -> list[str]:
    return [x.text for x in joblog.read_log(conn, job_id, 0, 100_000)]


def searched(conn, job_id: int) -> int:
    """Return how many Jackhmmer runs the job's log launched (4 per protein search)."""
    return sum("Launching subprocess" in t and "jackhmmer" in t for t in log_text(conn, job_id))


def test_data_pipeline_runs_in_a_cpu_slot_while_another_jobs_inference_holds_the_gpu(settings, conn, alice,
                                                                                    running_worker):
    s = two_stage(settings, speed=40, msa_cache_mb=0)
    # A's protein is short (its search ends first), B's a little longer: B's search is still running
    # while A's four-seed inference holds the only GPU slot.
    a = jobs.submit(conn, s, alice, fold("A", KINASE[:20], seeds=(1, 2, 3, 4)))
    b = jobs.submit(conn, s, alice, fold("B", KINASE[:60]))
    running_worker(s)
    seen = set()

    def done():
        for j in (a, b):
            cur = jobs.get_job(conn, alice, j.id)
            seen.add((j.id, cur.state.value, cur.phase if cur.state is JobState.RUNNING else bool(cur.data_json)))
        return all(jobs.get_job(conn, alice, j.id).state is JobState.SUCCEEDED for j in (a, b))

    wait_for(done, 90, "both jobs to succeed")
    (a_data, a_inf), (b_data, b_inf) = attempts(conn, a.id), attempts(conn, b.id)
    assert [x["phase"] for x in (a_data, a_inf, b_data, b_inf)] == ["data", "inference", "data", "inference"]
    assert a_data["outcome"] == b_data["outcome"] == "data done"
    assert b_data["started"] < a_inf["finished"] and a_inf["started"] < b_data["finished"], "B's search overlaps " \
        "A's inference"
    assert b_inf["started"] >= a_inf["finished"] - 0.01, "one GPU slot: B's inference waits for A's"
    assert (b.id, "queued", True) in seen, "B waited for the GPU with its _data.json ready"
    b_now = jobs.get_job(conn, alice, b.id)
    assert Path(b_now.data_json).name == "B_data.json" and b_now.progress == 1.0
    text = log_text(conn, b.id)
    assert "MSA search done in" in "\n".join(text) and "Skipping data pipeline..." in text
    assert any(t.startswith("Inference starts from the saved data pipeline output (B_data.json)") for t in text)
    assert searched(conn, b.id) == 4


def test_same_protein_with_another_ligand_reuses_the_msa_and_skips_the_search(settings, conn, alice):
    s = two_stage(settings)
    first = jobs.submit(conn, s, alice, fold("with ATP"))
    assert Worker(s).run(once=True) == 1
    first = jobs.get_job(conn, alice, first.id)
    assert first.state is JobState.SUCCEEDED and searched(conn, first.id) == 4 and not first.reused_chains()
    second = jobs.submit(conn, s, alice, fold("with MG", ligand="MG"))
    assert Worker(s).run(once=True) == 1
    second = jobs.get_job(conn, alice, second.id)
    assert second.state is JobState.SUCCEEDED
    assert second.reused_chains() == [{"chains": ["A"], "job_id": first.id}]
    text = log_text(conn, second.id)
    assert f"MSA for chain A reused from job #{first.id}: its search is skipped." in text
    assert searched(conn, second.id) == 0 and "Skipping data pipeline..." in text
    assert [x["phase"] for x in attempts(conn, second.id)] == ["inference"], "no data-pipeline stage at all"
    # The input AF3 ran on carries the first job's MSAs and templates, byte for byte.
    data = json.loads(Path(first.data_json).read_text())["sequences"][0]["protein"]
    given = json.loads((s.jobs_dir / str(second.id) / "input-attempt-1.json").read_text())["sequences"][0]["protein"]
    assert given["unpairedMsa"] == data["unpairedMsa"] and given["pairedMsa"] == data["pairedMsa"]
    assert given["templates"] == data["templates"]
    assert json.loads(Path(second.input_path).read_text()) == fold("with MG", ligand="MG"), "the job's own input " \
        "stays as submitted"


def test_two_jobs_with_one_protein_search_it_once(settings, conn, alice, running_worker):
    s = two_stage(settings, speed=200)
    a = jobs.submit(conn, s, alice, fold("ATP"))
    b = jobs.submit(conn, s, alice, fold("MG", ligand="MG"))  # queued while A's search runs: it waits for it
    running_worker(s)
    wait_for(lambda: all(jobs.get_job(conn, alice, j.id).is_finished for j in (a, b)), 60, "both jobs")
    assert [jobs.get_job(conn, alice, j.id).state for j in (a, b)] == [JobState.SUCCEEDED] * 2
    assert searched(conn, a.id) + searched(conn, b.id) == 4, "the protein was searched once"
    assert jobs.get_job(conn, alice, b.id).reused_chains() == [{"chains": ["A"], "job_id": a.id}]


def test_another_users_identical_chain_is_not_reused_by_default(settings, conn, alice, bob):
    s = two_stage(settings)
    jobs.submit(conn, s, alice, fold("alice's"))
    assert Worker(s).run(once=True) == 1
    theirs = jobs.submit(conn, s, bob, fold("bob's", ligand="MG"))
    assert Worker(s).run(once=True) == 1
    theirs = jobs.get_job(conn, bob, theirs.id)
    assert theirs.state is JobState.SUCCEEDED and not theirs.reused_chains()
    assert searched(conn, theirs.id) == 4 and not any("reused" in t for t in log_text(conn, theirs.id))
    # Lab-wide, an admin's choice (FOLDDECK_MSA_CACHE_SCOPE=lab), the next one reuses (alice's or bob's own entry).
    lab = s.with_overrides(msa_cache_scope="lab")
    again = jobs.submit(conn, lab, bob, fold("bob's again", ligand="ZN"))
    assert Worker(lab).run(once=True) == 1
    assert searched(conn, again.id) == 0 and jobs.get_job(conn, bob, again.id).reused_chains()


def test_the_admins_lab_wide_switch_lets_a_user_reuse_anothers_chain(settings, conn, alice, bob, admin):
    from services.operations import admin as admin_service

    s = two_stage(settings)  # FOLDDECK_MSA_CACHE_SCOPE left at "user"
    first = jobs.submit(conn, s, alice, fold("alice's"))
    assert Worker(s).run(once=True) == 1
    admin_service.set_msa_cache_scope(conn, s, admin, True)  # the switch on /admin/queue
    theirs = jobs.submit(conn, s, bob, fold("bob's", ligand="MG"))
    assert Worker(s).run(once=True) == 1
    assert jobs.get_job(conn, bob, theirs.id).reused_chains() == [{"chains": ["A"], "job_id": first.id}]
    assert searched(conn, theirs.id) == 0
    admin_service.set_msa_cache_scope(conn, s, admin, False)
    # back to per user: bob has no entry of his own for that protein (he reused alice's), so he searches
    mine = jobs.submit(conn, s, bob, fold("bob's own", ligand="ZN"))
    assert Worker(s).run(once=True) == 1
    assert searched(conn, mine.id) == 4 and not jobs.get_job(conn, bob, mine.id).reused_chains()


def test_search_again_opts_out_of_the_cache(settings, conn, alice):
    s = two_stage(settings)
    jobs.submit(conn, s, alice, fold("first"))
    assert Worker(s).run(once=True) == 1
    fresh = jobs.submit(conn, s, alice, fold("fresh", ligand="MG"), reuse_msa=False)
    assert Worker(s).run(once=True) == 1
    fresh = jobs.get_job(conn, alice, fresh.id)
    assert fresh.state is JobState.SUCCEEDED and fresh.msa_reuse == 0 and not fresh.reused_chains()
    assert searched(conn, fresh.id) == 4


def test_retry_after_an_inference_failure_starts_from_the_saved_data_json(settings, conn, alice):
    failing = two_stage(settings).with_overrides(af3_command=f"{SIM} --speed=0 --fail_at=inference",
                                                 msa_cache_mb=0)
    job = jobs.submit(conn, failing, alice, fold("oom"))
    Worker(failing).run(once=True)
    job = jobs.get_job(conn, alice, job.id)
    assert job.state is JobState.FAILED and "Out of memory" in job.error and Path(job.data_json).is_file()
    before = joblog.last_seq(conn, job.id)
    jobs.retry_job(conn, alice, job.id)
    ok = two_stage(settings, msa_cache_mb=0)
    assert Worker(ok).run(once=True) == 1
    job = jobs.get_job(conn, alice, job.id)
    assert job.state is JobState.SUCCEEDED
    assert [x["phase"] for x in attempts(conn, job.id)] == ["data", "inference", "inference"]
    after = [x.text for x in joblog.read_log(conn, job.id, before, 100_000)]
    assert any(t.startswith("Inference starts from the saved data pipeline output (oom_data.json)") for t in after)
    assert not any("Running data pipeline for chain" in t for t in after), "the retry did not search again"


# Runs the simulator; an inference (`--norun_data_pipeline`) first waits at the gate until the release file exists.
GATE = """#!/bin/sh
case " $* " in *" --norun_data_pipeline"*)
  i=0; while [ ! -e "$(dirname "$0")/release" ] && [ $i -lt 2400 ]; do i=$((i+1)); sleep 0.05; done;;
esac
exec "$@"
"""


@pytest.mark.service  # real worker processes, one killed with SIGKILL
def test_a_worker_killed_between_the_stages_resumes_from_the_data_json(tmp_path, settings, conn, alice):
    """Kill -9 the worker while one job waits for the GPU with its _data.json and the other's inference runs:
    a new worker runs both inferences from the saved files; nothing is searched twice.

    Inference is held at a gate (a release file) until the worker is killed, so the second search always
    ends while the first job holds the GPU, whichever search ends first, however loaded the machine."""
    gate = tmp_path / "gate.sh"
    gate.write_text(GATE)
    s = two_stage(settings, msa_cache_mb=0)
    s = s.with_overrides(af3_command=f"sh {gate} {s.af3_command}")
    a = jobs.submit(conn, s, alice, fold("A", KINASE[:20], seeds=tuple(range(1, 9))))
    b = jobs.submit(conn, s, alice, fold("B", KINASE[:24]))
    env = dict(os.environ, FOLDDECK_DATA_DIR=str(s.data_dir), FOLDDECK_LEASE_SECONDS="5", FOLDDECK_LOCAL_SLOTS="1",
               FOLDDECK_LOCAL_CPU_SLOTS="2", FOLDDECK_AF3_COMMAND=s.af3_command, FOLDDECK_MSA_CACHE_MB="0",
               PYTHONPATH=str(ROOT))
    env.pop("FOLDDECK_HOSTS_FILE", None)

    def start(log: str) -> subprocess.Popen:
        with open(tmp_path / log, "wb") as out:
            return subprocess.Popen([sys.executable, "-m", "services.running.worker"], cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    worker = start("worker1.log")
    try:
        # whichever search ends first takes the GPU and is held at the gate; the other then waits for the GPU
        def split() -> tuple | None:
            now = {j.id: jobs.get_job(conn, alice, j.id) for j in (a, b)}
            for held, other in ((a.id, b.id), (b.id, a.id)):
                if now[held].phase == "inference" and now[held].state is JobState.RUNNING \
                        and now[other].waiting_for_gpu:
                    return held, other
            return None

        held, between = wait_for(split, 180, "one job held in inference, the other between its stages")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        (tmp_path / "release").touch()  # from here on every inference runs at once
        worker = start("worker2.log")
        wait_for(lambda: all(jobs.get_job(conn, alice, j.id).is_finished for j in (a, b)), 240, "both jobs")
    finally:
        worker.kill()
        worker.wait(10)
    for j in (a, b):
        assert jobs.get_job(conn, alice, j.id).state is JobState.SUCCEEDED, (tmp_path / "worker2.log").read_text()
        assert searched(conn, j.id) == 4, "searched once"
        phases = [x["phase"] for x in attempts(conn, j.id)]
        assert phases[0] == "data" and set(phases[1:]) == {"inference"}
    assert len(attempts(conn, held)) == 3, "the held inference was lost with the worker and ran again"
    assert any(t.startswith("Inference starts from the saved data pipeline output") for t in log_text(conn, between))


def test_a_job_with_nothing_to_search_goes_straight_to_the_gpu(settings, conn, alice):
    s = two_stage(settings)
    dna = {"dialect": "alphafold3", "version": 1, "name": "dna", "modelSeeds": [1],
           "sequences": [{"dna": {"id": "A", "sequence": "GATTACA"}}, {"ligand": {"id": "B", "ccdCodes": ["MG"]}}]}
    job = jobs.submit(conn, s, alice, dna)
    assert Worker(s).run(once=True) == 1
    assert [x["phase"] for x in attempts(conn, job.id)] == [""]
    assert jobs.get_job(conn, alice, job.id).state is JobState.SUCCEEDED


def test_one_stage_hosts_keep_running_both_stages_in_one_slot(settings, conn, alice):
    s = settings.with_overrides(af3_command=f"{SIM} --speed=0", local_cpu_slots=0)
    job = jobs.submit(conn, s, alice, fold("one"))
    assert Worker(s).run(once=True) == 1
    assert [x["phase"] for x in attempts(conn, job.id)] == [""]
    assert jobs.get_job(conn, alice, job.id).state is JobState.SUCCEEDED
    # ...and its searched chain is cached all the same.
    assert msa_cache.stats(conn, s).entries == 1


def test_a_queued_job_says_which_slot_or_search_it_waits_for(settings, conn, alice):
    from services.jobs.rules import waiting

    s = two_stage(settings)
    hosts = load_hosts(s)
    first = jobs.submit(conn, s, alice, fold("first"))
    same = jobs.submit(conn, s, alice, fold("same protein", ligand="MG"))
    other = jobs.submit(conn, s, alice, fold("other", KINASE[:40]))
    third = jobs.submit(conn, s, alice, fold("third", KINASE[:30]))
    claimed = [jobs.claim_job(conn, s, "w", hosts) for _ in range(3)]
    # first searches its protein; same waits for that search rather than repeat it; other and third fill the
    # two CPU slots... other takes the second one, and nothing else may start a search.
    assert [(j.id, j.phase) for j in claimed if j] == [(first.id, "data"), (other.id, "data")]
    # no worker runs here yet: that blocks everything, and the reason says so first (issue 23)
    assert waiting.reason(conn, s, jobs.get_job(conn, alice, same.id)) == wording.NO_WORKER
    jobs.register_worker(conn, "w", "node1", 1234)
    why = waiting.reasons(conn, s, [jobs.get_job(conn, alice, j.id) for j in (same, third)])
    assert why[same.id] == f"waiting for job #{first.id}'s MSA search of the same chain (it is reused, not " \
                           "searched twice)"
    assert why[third.id] == "waiting for a free CPU slot for its MSA search"
    local = jobs.slots_per_host(s, conn)["local"]  # the admin queue's slot bars: searches hold no GPU
    assert (local.running, local.slots, local.searching, local.cpu_slots) == (0, 1, 2, 2)
    data = s.jobs_dir / "first_data.json"
    data.write_text("{}")
    assert stages.finish_data_stage(conn, claimed[0], str(data), 3.0)
    gpu_wait = jobs.get_job(conn, alice, first.id)
    assert gpu_wait.waiting_for_gpu and gpu_wait.progress == 0.45
    # the GPU is free, so the claim would start its inference now: the reason is the claim's verdict (issue 23)
    assert waiting.reason(conn, s, gpu_wait) == wording.STARTING
    # the next claim gives the GPU to first's inference (it keeps its place in the queue)
    nxt = jobs.claim_job(conn, s, "w", hosts)
    assert (nxt.id, nxt.phase) == (first.id, "inference")
    other_data = s.jobs_dir / "other_data.json"
    other_data.write_text("{}")
    assert stages.finish_data_stage(conn, claimed[1], str(other_data), 3.0)
    assert waiting.reason(conn, s, jobs.get_job(conn, alice, other.id)) == "waiting for GPU: its MSA search is done"


@pytest.mark.service
def test_two_stages_on_an_ssh_host_search_there_and_infer_from_the_fetched_data_json(settings, conn, alice, sshd,
                                                                                     tmp_path):
    remote_sim = (f"cd {ROOT} && {ROOT}/.venv/bin/python -m services.af3sim --json_path={{input}} "
                  "--output_dir={output} --speed=0")
    host = Host(name="sshbox", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                work_dir=str(tmp_path / "remote"), slots=1, cpu_slots=1, af3_command=remote_sim)
    s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]), local_slots=0)
    job = jobs.submit(conn, s, alice, fold("over ssh"))
    assert Worker(s, hosts=[host]).run(once=True) == 1
    job = jobs.get_job(conn, alice, job.id)
    assert job.state is JobState.SUCCEEDED, job.error
    assert [x["phase"] for x in attempts(conn, job.id)] == ["data", "inference"]
    # the data stage's _data.json came back to this machine; inference uploaded it as its input
    assert Path(job.data_json).is_relative_to(s.jobs_dir / str(job.id) / "attempt-1")
    assert (tmp_path / "remote" / f"job-{job.id}" / "attempt-2" / "input.json").read_text() == \
        Path(job.data_json).read_text()
    again = jobs.submit(conn, s, alice, fold("again over ssh", ligand="MG"))
    assert Worker(s, hosts=[host]).run(once=True) == 1
    again = jobs.get_job(conn, alice, again.id)
    assert again.state is JobState.SUCCEEDED and again.reused_chains() == [{"chains": ["A"], "job_id": job.id}]
    assert [x["phase"] for x in attempts(conn, again.id)] == ["inference"] and searched(conn, again.id) == 0


@pytest.mark.service
def test_a_cpu_only_ssh_host_searches_and_the_local_gpu_infers(settings, conn, alice, sshd, tmp_path):
    remote_sim = (f"cd {ROOT} && {ROOT}/.venv/bin/python -m services.af3sim --json_path={{input}} "
                  "--output_dir={output} --speed=0")
    cpu_node = Host(name="cpunode", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                    work_dir=str(tmp_path / "remote"), slots=0, cpu_slots=2, af3_command=remote_sim)
    s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]), af3_command=f"{SIM} --speed=0",
                                local_slots=1, local_cpu_slots=0)
    hosts = [*load_hosts(s), cpu_node]
    job = jobs.submit(conn, s, alice, fold("split"))
    assert Worker(s, hosts=hosts).run(once=True) == 1
    job = jobs.get_job(conn, alice, job.id)
    assert job.state is JobState.SUCCEEDED, job.error
    rows = conn.execute("SELECT phase, host FROM job_attempts WHERE job_id = ? ORDER BY attempt", (job.id,))
    assert [tuple(r) for r in rows] == [("data", "cpunode"), ("inference", "local")]


def test_a_full_disk_while_preparing_the_input_fails_the_job_with_the_reason(settings, conn, alice, monkeypatch):
    s = two_stage(settings)
    jobs.submit(conn, s, alice, fold("first"))
    assert Worker(s).run(once=True) == 1
    second = jobs.submit(conn, s, alice, fold("second", ligand="MG"))

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("services.running.attempt.os.replace", full)
    Worker(s).run(once=True)
    second = jobs.get_job(conn, alice, second.id)
    assert second.state is JobState.FAILED
    # A full disk is the worker's to report (issue 22 item 9), not a broken input: the reason says so.
    assert second.error.startswith("The disk is full:") and "[Errno 28] No space left on device" in second.error
    assert log_text(conn, second.id)[-1] == f"Job failed: {second.error}"


def _lost_data_attempt(conn, s, job, log_it: bool) -> None:
    """Claim `job` for its search as a worker that then dies: AF3 runs to its end, the worker records nothing."""
    claimed = jobs.claim_job(conn, s, "w-dead", load_hosts(s))
    assert (claimed.id, claimed.phase) == (job.id, "data")
    out = s.jobs_dir / str(job.id) / f"attempt-{claimed.attempts}"
    run = subprocess.run([sys.executable, "-m", "services.af3sim", f"--json_path={job.input_path}",
                          f"--output_dir={out}", "--speed=0", "--norun_inference"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    if log_it:  # the lines the worker had stored before it died, the last one included
        joblog.append_attempt_lines(conn, job.id, "w-dead", claimed.attempts, (run.stdout + run.stderr).splitlines())
    assert [j.id for j in jobs.reap_expired(conn, s, now=time.time() + s.lease_seconds + 10)] == [job.id]


def test_a_search_that_finished_before_its_worker_died_is_not_repeated(settings, conn, alice):
    s = two_stage(settings, msa_cache_mb=0)
    job = jobs.submit(conn, s, alice, fold("lost search"))
    _lost_data_attempt(conn, s, job, log_it=True)
    assert Worker(s).run(once=True) == 1
    done = jobs.get_job(conn, alice, job.id)
    assert done.state is JobState.SUCCEEDED and searched(conn, job.id) == 4, "searched once, by the lost attempt"
    assert [(a["phase"], a["outcome"]) for a in attempts(conn, job.id)] == [
        ("data", "worker lost"), ("data", "data done"), ("inference", "succeeded")]
    assert any(t.startswith("The MSA search of attempt-1 had finished before its worker stopped")
               for t in log_text(conn, job.id))
    assert Path(done.data_json).is_relative_to(s.jobs_dir / str(job.id) / "attempt-1")


def test_a_search_whose_end_was_never_logged_runs_again(settings, conn, alice):
    """No "Fold job ... done" line: the file may be half written (killed mid-write), so it is not trusted."""
    s = two_stage(settings, msa_cache_mb=0)
    job = jobs.submit(conn, s, alice, fold("cut search"))
    _lost_data_attempt(conn, s, job, log_it=False)
    assert Worker(s).run(once=True) == 1
    assert jobs.get_job(conn, alice, job.id).state is JobState.SUCCEEDED and searched(conn, job.id) == 4
    assert [a["phase"] for a in attempts(conn, job.id)] == ["data", "data", "inference"]
    assert not any("had finished before its worker stopped" in t for t in log_text(conn, job.id))
