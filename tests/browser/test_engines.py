"""One input, two engines, as a new user does it (issue 29): tick Boltz-2 beside AlphaFold 3, submit the bundled
protein-ligand sample, watch both run, open the comparison with both models, confidences and Boltz-2's affinity."""
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.browser.test_builder import click
from tests.conftest import USER_PASSWORD, wait_for
from tests.services.test_engines_run import _fast

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protein_ligand_ion.json"


def test_engines001_sample_on_af3_and_boltz_compared(live, settings, running_worker):
    from dash_app.pages import compare
    from dash_app.pages import upload as page

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/upload")
    dash_duo.wait_for_element(f"#{page.DROP} input[type=file]", timeout=10).send_keys(str(SAMPLE))
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (1)", timeout=10)
    boltz = dash_duo.driver.find_element(By.XPATH, "//label[contains(., 'Boltz-2')]")
    dash_duo.driver.execute_script("arguments[0].click();", boltz)  # a sticky bar may cover it at this size
    click(dash_duo, dash_duo.find_element(f"#{page.SUBMIT_ALL}"))
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "2 job(s) queued", timeout=10)
    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    made, _total = jobs.list_jobs(conn, alice, sort="submitted_asc")
    assert sorted(j.engine for j in made) == ["af3", "boltz"]
    running_worker(_fast(settings))
    wait_for(lambda: all(jobs.get_job(conn, alice, j.id).is_finished for j in made), timeout=60, what="both jobs")
    click(dash_duo, dash_duo.find_element(f"#{page.RESULT} a[href$='/compare']"))
    dash_duo.wait_for_contains_text(f"#{compare.BODY}", "Boltz-2 binding affinity", timeout=20)
    body = dash_duo.find_element(f"#{compare.BODY}").text
    assert "RMSD over polymer residues" in body and "Interfaces (ipTM)" in body
    assert len(dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{compare.BODY} .js-plotly-plot")) >= 3  # 3D + 2 PAE
    assert dash_duo.get_logs() == []
