"""The builder as a new user meets it: no red on a form nobody touched, seeds typed one after another
(Enter adds too), Submit on an incomplete form shows what is missing, a JSON file with one problem loads."""
from __future__ import annotations

import json

import pytest

from dash_app.builder import entity_card as EC
from dash_app.builder.ids import LOADED
from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.browser.test_builder import click, field, wait_until
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = ("return [...document.querySelectorAll('.fd-builder .text-danger, .fd-builder .bi-x-circle')]"
       ".filter(e => e.offsetParent !== null && (e.innerText || '').trim() || e.matches('.bi-x-circle'))"
       ".map(e => e.innerText || e.className);")


def _seeds(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('.fd-seed')].map(b => b.innerText.trim());")


def test_builder101_quiet_form_seeds_and_submit_attempt(live, settings):
    from dash_app.pages import builder as page

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/builder")
    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "Problems show here as you fill in the fields", timeout=10)
    assert dash_duo.driver.execute_script(RED) == []  # nothing in red on a form nobody touched
    box = dash_duo.find_element(f"#{page.SEED_INPUT}")
    box.send_keys("2")
    click(dash_duo, dash_duo.find_element(f"#{page.SEED_ADD}"))
    wait_until(dash_duo, lambda: _seeds(dash_duo) == ["1", "2"])
    wait_until(dash_duo, lambda: box.get_attribute("value") == "")  # cleared: the next digits are a new seed
    box.send_keys("3\n")  # Enter adds, as the button does
    wait_until(dash_duo, lambda: _seeds(dash_duo) == ["1", "2", "3"])
    assert box.get_attribute("value") == ""

    field(dash_duo, EC.SEQ, 0).send_keys("MKT1")  # typing shows that field's problem, and only that
    dash_duo.wait_for_contains_text(".fd-seq-bad", "'1' at 4", timeout=10)
    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "Protein 1 · sequence", timeout=10)
    assert "Job name" not in dash_duo.find_element(f"#{page.PROBLEMS}").text

    submit = dash_duo.find_element(f"#{page.SUBMIT}")
    wait_until(dash_duo, lambda: submit.is_enabled())
    click(dash_duo, submit)  # the attempt shows what is missing; nothing is queued and no terms are asked
    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "Job name", timeout=10)
    wait_until(dash_duo, lambda: not submit.is_enabled())
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_HINT}", "Fix 2 problems to submit", timeout=20)
    assert not dash_duo.driver.find_elements("css selector", ".modal.show")
    conn = db.connect(settings.db_path)
    assert jobs.list_jobs(conn, users.get_by_name(conn, "alice"))[1] == 0
    assert dash_duo.get_logs() == []


def test_builder102_json_file_with_one_problem_loads_marked(live, tmp_path):
    from dash_app.pages import builder as page

    doc = {"name": "kinase", "modelSeeds": [7], "dialect": "alphafold3", "version": 1,
           "sequences": [{"protein": {"id": "A", "sequence": "MKT1AQ"}}, {"ligand": {"id": "B", "ccdCodes": ["ATP"]}}]}
    path = tmp_path / "kinase.json"
    path.write_text(json.dumps(doc))
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/builder")
    dash_duo.wait_for_element(f"#{page.JSON_UPLOAD} input[type=file]", timeout=10).send_keys(str(path))
    dash_duo.wait_for_contains_text(f"#{LOADED}", "it has 1 problem", timeout=10)
    assert "sequences[0].protein.sequence:" in dash_duo.find_element(".fd-load-problems").text  # upload's words
    wait_until(dash_duo, lambda: field(dash_duo, EC.SEQ, 0).get_attribute("value") == "MKT1AQ")
    assert field(dash_duo, EC.CCD, 1).get_attribute("value") == "ATP"
    assert dash_duo.find_element(f"#{page.NAME}").get_attribute("value") == "kinase"
    dash_duo.wait_for_contains_text(".fd-seq-bad", "'1' at 4", timeout=10)  # marked at its field
    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "Protein 1 · sequence", timeout=10)
    assert dash_duo.get_logs() == []
