# ruff: noqa: F811 - the `slurm`, `accounts` and `sshd` fixtures are imported (one cluster per run)
"""Issue 25's "done when", as a person meets it: alice, mapped to her lab's Slurm account, uploads an input
in the browser; it runs through the REAL single-node Slurm reached only over the REAL loopback sshd (no
Slurm command on FoldDeck's PATH); her open job page follows its live log and Slurm's own line to
`succeeded` (the dashboard's Slurm column says where it runs), and `sacct` has the job under her account."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.browser.test_submit_terms import click
from tests.conftest import ROOT, USER_PASSWORD, wait_for
from tests.services.test_executor_slurm import facts, slurm  # noqa: F401
from tests.services.test_slurm_login_node import (  # noqa: F401
    accounts,
    login_host,
    map_person,
    no_slurm_here,
    sacct_of,
    start_worker,
    workers,
)

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow, pytest.mark.xdist_group("slurm")]
# Says it started, then waits for the test's `release` file in its run dir: the page must show that line live.
GATED = ("echo started on the cluster; d=$(dirname {input}); while [ ! -e $d/release ]; do sleep 0.2; done; "
         f"cd {ROOT} && {sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} "
         "--speed=0 --num_diffusion_samples=1")


def test_slurm001_a_mapped_user_submits_in_the_browser_and_slurm_runs_it_over_ssh(
        live, settings, slurm, accounts, sshd, no_slurm_here, workers, tmp_path):
    from dash_app.pages import upload as page

    dash_duo = live
    map_person(settings, "alice", account="fd_lab_a")
    host = login_host(sshd, tmp_path / "cluster-work", GATED)
    start_worker(settings.with_overrides(known_hosts=Path(sshd["known_hosts"])), host, workers)
    browser_login(dash_duo, "alice", USER_PASSWORD, "/upload")
    dash_duo.find_element(f"#{page.DROP} input[type=file]").send_keys(
        str(ROOT / "tests/fixtures/af3/protein_only.json"))
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (1)", timeout=15)
    click(dash_duo, f"#{page.SUBMIT_ALL}")
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "1 job(s) queued", timeout=15)
    conn = db.connect(settings.db_path)
    (job,), _ = jobs.list_jobs(conn, users.get_by_name(conn, "alice"))

    dash_duo.driver.get(f"{dash_duo.server.url}/")  # the dashboard's Slurm column says what Slurm says
    dash_duo.wait_for_contains_text('.ag-cell[col-id="slurm"]', "running in Slurm on", timeout=120)
    dash_duo.driver.get(f"{dash_duo.server.url}/jobs/{job.id}")
    # live: the command's first line and Slurm's node while the job still waits for `release` on the cluster
    dash_duo.wait_for_contains_text(".fd-console", "started on the cluster", timeout=60)
    dash_duo.wait_for_contains_text("#job-slurm", "running in Slurm on", timeout=60)
    assert dash_duo.find_element("#job-state").text.strip().endswith("running")
    Path(facts(settings, job.id).run_dir, "release").touch()
    dash_duo.wait_for_contains_text("#job-state", "succeeded", timeout=180)
    dash_duo.wait_for_contains_text(".fd-console", "Job succeeded.", timeout=30)
    row = facts(settings, job.id)
    assert "#SBATCH --account=fd_lab_a" in row.script
    assert sacct_of(row, "Account,WCKey,State") == ["fd_lab_a", "alice", "COMPLETED"]
    assert list((settings.jobs_dir / str(job.id) / "attempt-1").glob("*/seed-1_sample-0/*summary_confidences.json"))
    wait_for(lambda: dash_duo.get_logs() == [], 5, "no browser errors")
