"""Two stages and MSA reuse (issue 16) as a person sees them: the second job with the same protein says,
live on its page, that chain A's MSA came from the first job, and its search was skipped."""
from __future__ import annotations

import pytest

from services import jobs
from services.people import users
from tests.browser.conftest import browser_login
from tests.browser.test_job_page import wait_until, worker  # noqa: F401 (worker is a fixture)
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KINASE = "GSHMSRKLSEIEFKKLGEGTFGVVYKAKNRETGEIVALKKIRLDTETEGVPSTAIREISLLKELNHPNIV"


def kinase(ligand: str) -> dict:
    return {"dialect": "alphafold3", "version": 1, "name": f"Kinase with {ligand}", "modelSeeds": [1],
            "sequences": [{"protein": {"id": "A", "sequence": KINASE}}, {"ligand": {"id": "B", "ccdCodes": [ligand]}}]}


def test_stage001_second_job_with_the_same_protein_reuses_its_msa(live, settings, conn, worker):  # noqa: F811
    dash_duo = live
    alice = users.get_by_name(conn, "alice")
    first = jobs.submit(conn, settings, alice, kinase("ATP"))
    running = worker(200)
    wait_until(lambda: jobs.get_job(conn, alice, first.id).state is jobs.JobState.SUCCEEDED, timeout=60)
    running.stop()
    second = jobs.submit(conn, settings, alice, kinase("MG"))
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{second.id}")
    dash_duo.wait_for_contains_text("#job-stage", "waiting", timeout=10)
    worker(200)  # the open page follows without a reload
    dash_duo.wait_for_contains_text("#job-state", "succeeded", timeout=60)
    dash_duo.wait_for_contains_text("#job-msa-reused", f"MSA for chain A reused from job #{first.id}", timeout=10)
    assert dash_duo.find_element("#job-steps").text.startswith("① MSA search: reused (chain A from job #")
    assert dash_duo.find_element("#job-steps").text.endswith("② Inference: done")
    dash_duo.wait_for_contains_text(".fd-console", f"reused from job #{first.id}: its search is skipped", timeout=10)
    # the first job searched and says nothing of reuse; its page shows its two stages done
    dash_duo.driver.get(f"{dash_duo.server.url}/jobs/{first.id}")
    dash_duo.wait_for_text_to_equal("#job-steps", "① MSA search: done · ② Inference: done", timeout=10)
    assert not dash_duo.driver.find_elements("css selector", "#job-msa-reused")
    assert dash_duo.get_logs() == []
