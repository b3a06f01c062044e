"""Batched inference (issue 26): inference-ready jobs of one bucket folded by one simulator process, each
keeping its own attempt, output folder, log and state; a failing member fails alone and requeues the rest."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from services import jobs
from services.hosts import Host
from services.jobs import JobState, joblog
from services.running.batching import batch_command
from services.running.worker import Worker

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
PROTEIN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVV"


def _doc(lig: str, name: str | None = None) -> dict:
    return {"name": name or f"member {lig}", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
            "sequences": [{"protein": {"id": "A", "sequence": PROTEIN}}, {"ligand": {"id": "B", "ccdCodes": [lig]}}]}


def _searched(settings, conn, owner, ligands: list[str]) -> list[jobs.Job]:
    """Submit jobs and run only their data pipelines (a CPU-only host), so all wait for a GPU together.

    With the MSA cache on, the first job searches the shared protein and the others take it from the
    cache (no _data.json of their own): both kinds are inference-ready, as in a screen.
    """
    made = [jobs.submit(conn, settings, owner, _doc(lig)) for lig in ligands]
    cpu_only = Host(name="local", slots=0, cpu_slots=2, kind="local", work_dir=str(settings.jobs_dir))
    Worker(settings, hosts=[cpu_only], concurrency=1).run(once=True)
    found = [jobs.get_job(conn, owner, j.id) for j in made]
    assert all(j.state is JobState.QUEUED for j in found)
    return found


def _gpu(settings, batch: int) -> Worker:
    host = Host(name="local", slots=1, cpu_slots=2, kind="local", work_dir=str(settings.jobs_dir), batch_size=batch)
    return Worker(settings, hosts=[host], concurrency=1)


def _lines(conn, job_id: int) -> list[str]:
    return [line.text for line in joblog.read_log(conn, job_id, 0, 100_000)]


def test_batch_command_swaps_json_path_for_input_dir():
    assert batch_command(SIM) == SIM.replace("--json_path={input}", "--input_dir={input}")
    assert batch_command("run --json_path {input} -o {output}") == "run --input_dir {input} -o {output}"
    assert batch_command("wrapper.sh {input} {output}") is None  # batching stays off for such a host


def test_one_process_folds_the_bucket_and_each_job_keeps_its_own_folder_and_log(settings, conn, alice):
    s = settings.with_overrides(af3_command=SIM)
    members = _searched(s, conn, alice, ["ATP", "GTP", "NAD"])
    assert _gpu(s, batch=3).run(once=True) == 1  # one slot run: the lead and its two companions
    done = [jobs.get_job(conn, alice, j.id) for j in members]
    assert [j.state for j in done] == [JobState.SUCCEEDED] * 3, [(j.state, j.error) for j in done]
    for job, lig in zip(done, ["ATP", "GTP", "NAD"], strict=True):
        out = Path(job.output_path)
        assert out == s.jobs_dir / str(job.id) / f"attempt-{job.attempts}"
        assert len(list(out.glob("*/seed-1_sample-*/*_summary_confidences.json"))) == 5
        lines = _lines(conn, job.id)
        batch = next(i for i, t in enumerate(lines) if "one AlphaFold 3 process with 2 other job(s)" in t)
        starts = [t for t in lines[batch:] if t.startswith("Running fold job ")]
        assert starts == [f"Running fold job member {lig}..."]  # only its own part of the shared stream
        assert sum(t == "Building model from scratch..." for t in lines[batch:]) == 1  # the shared start-up
        assert lines[-1] == "Job succeeded."
    assert [p.name for p in (s.data_dir / "cache" / "jax").iterdir()]  # the compiled bucket is kept for later


def test_a_failing_member_fails_alone_and_the_members_after_it_go_back_to_the_queue(settings, conn, alice):
    s = settings.with_overrides(af3_command=SIM, msa_cache_mb=0)  # every job searches: each has a _data.json
    first, broken, last = _searched(s, conn, alice, ["ATP", "GTP", "NAD"])
    data = json.loads(Path(broken.data_json).read_text())
    del data["sequences"][0]["protein"]["unpairedMsa"]  # AF3 fails this one at featurisation
    Path(broken.data_json).write_text(json.dumps(data))
    _gpu(s, batch=3).run(once=True)
    states = [jobs.get_job(conn, alice, j.id) for j in (first, broken, last)]
    assert [j.state for j in states] == [JobState.SUCCEEDED, JobState.FAILED, JobState.QUEUED]
    assert "Protein chain 1 is missing unpaired MSA." in states[1].error
    assert states[2].waiting_for_gpu  # requeued with its search kept: it needs only inference
    _gpu(s, batch=3).run(once=True)
    assert jobs.get_job(conn, alice, last.id).state is JobState.SUCCEEDED


def test_jobs_of_other_users_join_only_when_the_admin_allows(settings, conn, alice, bob):
    s = settings.with_overrides(af3_command=SIM)
    mine = _searched(s, conn, alice, ["ATP"])[0]
    theirs = _searched(s, conn, bob, ["GTP"])[0]
    _gpu(s, batch=4).run(once=True)
    assert jobs.get_job(conn, bob, theirs.id).state is JobState.QUEUED  # a batch of alice's one
    assert jobs.get_job(conn, alice, mine.id).state is JobState.SUCCEEDED
    more = _searched(s, conn, alice, ["NAD"])[0]
    _gpu(s.with_overrides(batch_mixed_users=True), batch=4).run(once=True)
    assert {jobs.get_job(conn, u, j.id).state for u, j in ((bob, theirs), (alice, more))} == {JobState.SUCCEEDED}
    assert any("with 1 other job(s)" in t for t in _lines(conn, theirs.id))


def test_local_af3_runs_get_the_compilation_cache_and_wrappers_do_not(settings):
    from services.hosts import local_host
    from services.running.compile_cache import with_compile_cache

    local = local_host(settings)
    flagged = with_compile_cache(SIM, local, settings)
    cache = settings.data_dir / "cache" / "jax"
    assert flagged == SIM.replace("--json_path={input}", f"--json_path={{input}} --jax_compilation_cache_dir={cache}")
    shell = f"if test -e x; then echo no; else {SIM}; fi"  # a shell line keeps its shape
    assert with_compile_cache(shell, local, settings) == shell.replace(SIM, flagged)
    assert batch_command(flagged).count("--input_dir={input}") == 1
    assert with_compile_cache("wrapper.sh {input} {output}", local, settings) == "wrapper.sh {input} {output}"
    remote = Host(name="gpu1", address="10.0.0.2", user="af3")
    assert with_compile_cache(SIM, remote, settings) == SIM


def test_cancelling_one_member_stops_the_process_and_requeues_the_others(settings, conn, alice, running_worker):
    from tests.conftest import wait_for

    s = settings.with_overrides(af3_command=SIM)
    members = _searched(s, conn, alice, ["ATP", "GTP", "NAD"])
    slow = s.with_overrides(af3_command=SIM.replace("--speed=0", "--speed=1"))  # 12 s of start-up before any fold
    host = Host(name="local", slots=1, cpu_slots=0, kind="local", work_dir=str(s.jobs_dir), batch_size=3)
    running_worker(slow, hosts=[host], concurrency=1)
    wait_for(lambda: all(jobs.get_job(conn, alice, j.id).state is JobState.RUNNING for j in members), 30,
             "the three members running in one batch")
    jobs.cancel_job(conn, alice, members[1].id)
    wait_for(lambda: jobs.get_job(conn, alice, members[1].id).state is JobState.CANCELLED, 30, "the cancel")
    for job in (members[0], members[2]):
        ended = wait_for(lambda j=job: conn.execute(
            "SELECT outcome FROM job_attempts WHERE job_id = ? AND phase = 'inference' AND outcome IS NOT NULL "
            "ORDER BY attempt LIMIT 1", (j.id,)).fetchone(), 30, "the other members' batch attempt to end")
        assert ended[0] == "requeued"
        assert any("goes back to the queue" in t for t in _lines(conn, job.id))


def test_batch_size_is_a_host_setting_checked_in_the_hosts_file(settings, tmp_path):
    import pytest

    from services.hosts import load_hosts
    from services.platform.errors import SettingsError

    entry = '[[host]]\nname = "gpu1"\naddress = "10.0.0.2"\nuser = "af3"\nbatch_size = {}\n'
    (tmp_path / "hosts.toml").write_text(entry.format(8))
    s = settings.with_overrides(hosts_file=tmp_path / "hosts.toml", local_batch_size=4)
    assert {h.name: h.batch_size for h in load_hosts(s)} == {"local": 4, "gpu1": 8}
    (tmp_path / "hosts.toml").write_text(entry.format(0))
    with pytest.raises(SettingsError, match="'batch_size' must be an integer from 1 to 64"):
        load_hosts(s)
