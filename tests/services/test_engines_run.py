"""One input, several engines, through the real queue and worker (issue 29): grouped jobs that run on their own."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from services import jobs
from services.engines import registry
from services.hosts import Host
from services.jobs import JobState
from services.platform.errors import InvalidInput, TermsNotAccepted
from services.running.worker import Worker
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "data" / "samples" / "protein_ligand_ion.json").read_text())
AF3_SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
BOLTZ_SIM = f"{sys.executable} -m services.engines.sims boltz predict {{input}} --out_dir {{output}} --seconds=0"


def _fast(settings, **more):
    return settings.with_overrides(**{"af3_command": AF3_SIM, "boltz_command": BOLTZ_SIM, **more})


def _run_until_finished(settings, conn, owner, ids: list[int], rounds: int = 8) -> list[jobs.Job]:
    """Let a one-slot worker claim jobs until every job in `ids` has finished (AF3 takes two: search, inference)."""
    for _ in range(rounds):
        found = [jobs.get_job(conn, owner, i) for i in ids]
        if all(j.is_finished for j in found):
            return found
        Worker(settings, concurrency=1).run(once=True)
    raise AssertionError(f"not finished after {rounds} claims: {[(j.id, j.state) for j in found]}")


def test_sample_on_alphafold3_and_boltz_runs_as_two_grouped_jobs(settings, conn, alice):
    s = _fast(settings)
    made = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["af3", "boltz"], via="api")
    assert [j.engine for j in made] == ["af3", "boltz"]
    assert made[0].engine_group == made[1].engine_group == made[0].id
    done = _run_until_finished(s, conn, alice, [j.id for j in made])
    assert [j.state for j in done] == [JobState.SUCCEEDED, JobState.SUCCEEDED], [j.error for j in done]
    af3_out = registry.get("af3").read_outputs(Path(done[0].output_path), {})
    boltz_out = registry.get("boltz").read_outputs(Path(done[1].output_path), {})
    assert len(af3_out.samples) == 5 and af3_out.samples[0].score.best
    assert boltz_out.samples and boltz_out.samples[0].chains == ["A", "B", "C", "D", "E"]
    assert "affinity_probability_binary" in boltz_out.affinity
    engine_input = next((settings.jobs_dir / str(made[1].id)).glob("boltz-input-*/*.yaml"))
    assert "affinity" in engine_input.read_text()  # what the Boltz command was given: Boltz's own YAML
    assert done[1].attempts == 1  # Boltz searches in its own run: never routed through AF3's data stage


def test_an_engine_that_cannot_run_the_job_refuses_it_and_nothing_is_queued(settings, conn, alice):
    with pytest.raises(InvalidInput) as err:
        jobs.submit_with_engines(conn, _fast(settings), alice, SAMPLE, ["af3", "boltz", "chai"])
    assert any(p.startswith("Chai-1: ") and "ATP" in p for p in err.value.problems)
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_a_boltz_failure_is_explained_in_its_own_words(settings, conn, alice):
    # Boltz's own message (boltz/main.py) when a chain has no MSA and no server is asked
    fail = ("echo \"ValueError: Missing MSA's in input and --use_msa_server flag not set.\" >&2; exit 1 "
            "# {input} {output}")
    s = _fast(settings, boltz_command=fail)
    (job,) = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["boltz"])
    (done,) = _run_until_finished(s, conn, alice, [job.id])
    assert done.state is JobState.FAILED and done.exit_code == 1
    assert done.error.startswith("Boltz-2: a chain has no MSA and the command does not ask Boltz to search")


def test_a_boltz_run_without_results_fails(settings, conn, alice):
    s = _fast(settings, boltz_command="mkdir -p {output}/boltz_results_x # {input}")
    (job,) = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["boltz"])
    (done,) = _run_until_finished(s, conn, alice, [job.id])
    assert done.state is JobState.FAILED and done.exit_code == 0
    assert done.error == "Boltz-2 exited without results: Boltz wrote no confidence_*_model_N.json files."


def test_other_engines_do_not_need_the_alphafold3_terms(settings, conn):
    from services.people import users

    carol = users.create_user(conn, "carol", "a long enough password 1", users.Role.USER)
    (job,) = jobs.submit_with_engines(conn, _fast(settings), carol, SAMPLE, ["boltz"])
    assert job.terms_accepted_at is None and job.engine == "boltz" and job.engine_group is None
    with pytest.raises(TermsNotAccepted):
        jobs.submit_with_engines(conn, _fast(settings), carol, SAMPLE, ["af3", "boltz"])


def test_a_running_boltz_job_shows_boltz_stage(settings, conn, alice, running_worker, tmp_path):
    gate = tmp_path / "release"
    held = (f"echo 'Running structure prediction for 1 input.'; while [ ! -f {gate} ]; do sleep 0.05; done; "
            + BOLTZ_SIM)
    s = _fast(settings, boltz_command=held)
    (job,) = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["boltz"])
    running_worker(s)
    wait_for(lambda: jobs.get_job(conn, alice, job.id).stage == "structure prediction", what="Boltz's stage")
    seen = jobs.get_job(conn, alice, job.id)
    assert seen.state is JobState.RUNNING and 0 < seen.progress < 1 and seen.progress_detail == "Boltz-2"
    gate.touch()
    wait_for(lambda: jobs.get_job(conn, alice, job.id).is_finished, what="the job's end")
    assert jobs.get_job(conn, alice, job.id).state is JobState.SUCCEEDED


MSA_JOB = {"dialect": "alphafold3", "version": 1, "name": "with msa", "modelSeeds": [3], "sequences": [
    {"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA", "pairedMsa": "", "templates": [],
                 "unpairedMsa": ">query\nMKVLAAGIVALLLA\n>hit\nMKVLSAGIVALLLA\n"}},
    {"ligand": {"id": "B", "ccdCodes": ["ATP"]}}]}


def test_boltz_runs_on_an_ssh_host_that_offers_it_with_its_msa_beside_the_yaml(settings, conn, alice, sshd,
                                                                               tmp_path):
    # run where FoldDeck put the input (no cd): the YAML names its MSA file relative to there, as Boltz reads it
    remote = (f"PYTHONPATH={ROOT} {ROOT}/.venv/bin/python -m services.engines.sims boltz predict {{input}} "
              "--out_dir {output}")
    s = settings.with_overrides(known_hosts=Path(sshd["known_hosts"]))
    plain = Host(name="af3box", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                 work_dir=str(tmp_path / "remote"), slots=1)
    (job,) = jobs.submit_with_engines(conn, s, alice, MSA_JOB, ["boltz"])
    assert Worker(s, hosts=[plain], concurrency=1).run(once=True) == 0  # it does not offer Boltz: nothing claimed
    assert jobs.get_job(conn, alice, job.id).state is JobState.QUEUED
    boltz_box = dataclasses.replace(plain, name="boltzbox", engines=(("af3", ""), ("boltz", remote)))
    assert Worker(s, hosts=[boltz_box], concurrency=1).run(once=True) == 1
    done = jobs.get_job(conn, alice, job.id)
    assert done.state is JobState.SUCCEEDED, done.error
    assert (done.host, done.executor) == ("boltzbox", "ssh")
    run_dir = tmp_path / "remote" / f"job-{job.id}" / "attempt-1"
    assert (run_dir / "with_msa.yaml").is_file() and (run_dir / "msa_A.a3m").read_text().startswith(">query")
    out = registry.get("boltz").read_outputs(Path(done.output_path), {})
    assert out.samples and out.samples[0].chains == ["A", "B"]  # fetched back from the host
    # with its PAE array (.npz: the reader needs it; the AF3 viewer's file endings alone left it on the host)
    assert list(Path(done.output_path).rglob("pae_*.npz")) and not out.confidences(out.samples[0]).note


def test_an_engine_failure_without_known_words_quotes_its_last_line(settings, conn, alice):
    s = _fast(settings, boltz_command="echo 'ERROR: the weights are missing' >&2; exit 3 # {input} {output}")
    (job,) = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["boltz"])
    (done,) = _run_until_finished(s, conn, alice, [job.id])
    assert done.error == "Boltz-2 exited with status 3: ERROR: the weights are missing"


def test_the_msa_is_searched_once_and_handed_to_boltz(settings, conn, alice):
    s = _fast(settings)
    af3_job, boltz_job = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["af3", "boltz"])
    _run_until_finished(s, conn, alice, [af3_job.id, boltz_job.id])
    af3_done = jobs.get_job(conn, alice, af3_job.id)
    searched = json.loads(Path(af3_done.data_json).read_text())  # AF3's own record of what its search found
    chain_a = next(e["protein"] for e in searched["sequences"] if "protein" in e)
    yaml_path = next((settings.jobs_dir / str(boltz_job.id)).glob("boltz-input-*/*.yaml"))
    msa_file = yaml_path.parent / "msa_A.a3m"
    assert "msa: ./msa_A.a3m" in yaml_path.read_text()
    assert msa_file.read_text() == chain_a["unpairedMsa"]
    log = [line.text for line in jobs.joblog.read_log(conn, boltz_job.id)]
    assert any(f"MSA for chain A taken from job #{af3_job.id}'s search" in t for t in log)


def test_four_engines_on_one_input_run_on_their_own_and_compare(settings, conn, alice):
    from services.operations.engine_compare import compare_group

    s = settings.with_overrides(af3_command=AF3_SIM, boltz_command=BOLTZ_SIM)  # Protenix, OpenFold3: stand-ins
    made = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["af3", "boltz", "protenix", "openfold3"])
    assert len({j.engine_group for j in made}) == 1
    done = _run_until_finished(s, conn, alice, [j.id for j in made], rounds=12)
    assert [j.state for j in done] == [JobState.SUCCEEDED] * 4, [j.error for j in done]
    view = compare_group(conn, s, alice, made[2].id)
    assert [r.engine.name for r in view.runs] == ["af3", "boltz", "protenix", "openfold3"]
    assert [side.label for side in view.comparison.sides] == ["AlphaFold 3", "Boltz-2", "Protenix", "OpenFold3"]
    assert all(v is not None for row in view.comparison.rmsd for v in row)
    assert {r["chains"] for r in view.comparison.interfaces} >= {"A–B", "A–E"}
