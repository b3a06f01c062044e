# ruff: noqa: F811 - the `slurm` fixture is imported from test_executor_slurm (one cluster per run)
"""Engine jobs through Slurm (issue 29): the REAL single-node Slurm of tests/support/slurm_ci.sh, here reached
through its login node (the REAL loopback sshd) with its own work dir, so the engine's input and the MSA file
it names go up over SFTP and the results come back the same way. The engine is the Boltz stand-in, which
fails when the MSA file its YAML names is not beside it. A Chai-1 stand-in runs on a cluster that shares
FoldDeck's storage (the Slurm commands run here)."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from services import jobs
from services.engines import registry
from services.jobs import JobState
from services.people import users
from services.platform import db
from tests.conftest import wait_for
from tests.services.test_engines_run import MSA_JOB
from tests.services.test_executor_slurm import INPUT, cluster_host, facts, make_settings, slurm  # noqa: F401
from tests.services.test_slurm_login_node import (  # noqa: F401
    SIM,
    accounts,
    login_host,
    settings_for,
    start_worker,
    workers,
)

pytestmark = [pytest.mark.service, pytest.mark.xdist_group("slurm")]

ROOT = Path(__file__).resolve().parents[2]
# no cd: Slurm runs the job in the attempt's folder, where the YAML's relative MSA path must hold
CHAI = f"PYTHONPATH={ROOT} {sys.executable} -m services.engines.sims chai fold {{input}} {{output}}"
BOLTZ = f"PYTHONPATH={ROOT} {sys.executable} -m services.engines.sims boltz predict {{input}} --out_dir {{output}}"


def test_boltz_runs_through_a_login_node_with_its_msa_beside_the_yaml(slurm, accounts, sshd, tmp_path, workers):
    settings = settings_for(tmp_path, sshd)
    conn = db.connect(settings.db_path)
    (job,) = jobs.submit_with_engines(conn, settings, users.get_by_name(conn, "alice"), MSA_JOB, ["boltz"])
    cluster_dir = tmp_path / "cluster-side"
    af3_only = login_host(sshd, cluster_dir, SIM)
    assert not af3_only.offers("boltz")  # without an `engines` table a Slurm host runs AlphaFold 3 only
    host = dataclasses.replace(af3_only, engines=(("af3", ""), ("boltz", BOLTZ)))
    start_worker(settings, host, workers)
    done = wait_for(lambda: (j := jobs.get_job(conn, users.get_by_name(conn, "alice"), job.id)).is_finished and j,
                    120, "the Boltz job to end in Slurm")
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.executor == "slurm"
    row = facts(settings, job.id)
    assert row.slurm_id is not None and "boltz predict" in row.script and "with_msa.yaml" in row.script
    run_dir = Path(row.run_dir)
    assert run_dir.is_relative_to(cluster_dir)  # the cluster's own work dir, not FoldDeck's
    assert (run_dir / "with_msa.yaml").is_file() and (run_dir / "msa_A.a3m").read_text().startswith(">query")
    assert not (run_dir / "data.sbatch").exists()  # one Slurm job: an engine has no separate data pipeline
    out = registry.get("boltz").read_outputs(Path(done.output_path), {})  # fetched back over SFTP
    assert out.samples and out.samples[0].chains == ["A", "B"] and out.samples[0].pae is not None


def test_chai_runs_on_a_cluster_that_shares_folddecks_storage(slurm, tmp_path, workers):
    settings = make_settings(tmp_path)
    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    (job,) = jobs.submit_with_engines(conn, settings, alice, INPUT, ["chai"])
    host = dataclasses.replace(cluster_host(tmp_path), engines=(("chai", CHAI),))
    start_worker(settings, host, workers)
    done = wait_for(lambda: (j := jobs.get_job(conn, alice, job.id)).is_finished and j, 120, "the Chai-1 job to end")
    assert done.state is JobState.SUCCEEDED, done.error
    run_dir = Path(facts(settings, job.id).run_dir)
    assert run_dir.is_relative_to(tmp_path / "shared") and (run_dir / "input.fasta").is_file()
    assert not (run_dir / "input.json").exists()  # the engine's input keeps its own name
    out = registry.get("chai").read_outputs(Path(done.output_path), {})
    assert out.samples and out.samples[0].chains == ["A"]
