"""The comparison page (issue 29): the bundled protein-ligand sample on AlphaFold 3 and Boltz-2, side by side."""
from __future__ import annotations

import json
import sys

from services import jobs
from tests.conftest import dash_post
from tests.dash_app.test_second_user import callback_body, router_body
from tests.services.test_engines_run import SAMPLE, _fast, _run_until_finished


def test_af3_and_boltz_compared_with_affinity(app, user_client, settings, conn, alice):
    s = _fast(settings)
    made = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["af3", "boltz"], accept_terms=True)
    _run_until_finished(s, conn, alice, [j.id for j in made])
    page = dash_post(user_client, router_body(f"/jobs/{made[1].id}/compare")).get_data(as_text=True)
    for words in ("engines compared", "Top models superposed on chain A", "RMSD over polymer residues",
                  "Boltz-2 binding affinity", "AlphaFold 3: predicted aligned error",
                  "Boltz-2: predicted aligned error", "Interfaces (ipTM)", "Ligand B"):
        assert words in page, words
    compare_page = sys.modules["dash_app.pages.compare"]
    body = callback_body(app, f"{compare_page.BODY}.children",
                         {f"{compare_page.CHAIN}.value": "A", f"{compare_page.JOB}.data": made[0].id},
                         trigger=f"{compare_page.CHAIN}.value")
    again = dash_post(user_client, body).get_data(as_text=True)
    assert "Top models superposed on chain A" in again


def test_a_job_one_may_not_see_is_not_found(app, user_client, settings, conn, admin):
    (job,) = jobs.submit_with_engines(conn, _fast(settings), admin, SAMPLE, ["boltz"])
    page = dash_post(user_client, router_body(f"/jobs/{job.id}/compare")).get_data(as_text=True)
    assert "No such job." in page and "engines compared" not in page


def test_alone_in_its_group_the_page_says_what_it_waits_for(app, user_client, settings, conn, alice):
    (job,) = jobs.submit_with_engines(conn, _fast(settings), alice, SAMPLE, ["boltz"])
    page = dash_post(user_client, router_body(f"/jobs/{job.id}/compare")).get_data(as_text=True)
    assert "once two engines have finished" in page and "queued" in page


def test_a_boltz_jobs_page_shows_its_scores_and_affinity(app, user_client, settings, conn, alice):
    job_page = sys.modules["dash_app.pages.job"]
    s = _fast(settings)
    (job,) = jobs.submit_with_engines(conn, s, alice, SAMPLE, ["boltz"])
    (done,) = _run_until_finished(s, conn, alice, [job.id])
    cursor = {"job": job.id, "blocks": [], "last": 0, "cap": 5000}
    body = callback_body(app, f"{job_page.rv.BODY}.children",
                         {f"{job_page.rv.MOLSTAR_READY}.data": True,
                          json.dumps(job_page.cons.cid("cursor", job_page.KEY), sort_keys=True,
                                     separators=(",", ":")) + ".data": cursor})
    text = dash_post(user_client, body).get_data(as_text=True)
    assert "Predicted by Boltz-2" in text and "Boltz-2 binding affinity" in text and "compare engines" in text
    assert done.engine == "boltz"
