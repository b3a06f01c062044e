"""Upload as a person does it: drop a server file with two jobs plus a broken file, review, submit."""
from pathlib import Path

import pytest

from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_upload001_two_valid_rows_one_error_submit(live, settings, tmp_path):
    from dash_app.pages import upload as page  # importable only once the app has registered its pages

    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n  "sequences": [,]}')
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/upload")
    picker = dash_duo.wait_for_element(f"#{page.DROP} input[type=file]", timeout=10)
    picker.send_keys(f"{SAMPLES / 'server_two_jobs.json'}\n{broken}")
    dash_duo.wait_for_contains_text(".fd-file-error", "broken.json", timeout=10)
    assert "line 2, column" in dash_duo.find_element(".fd-file-error").text
    dash_duo.wait_for_contains_text(".fd-file-ok", "2 job(s), 2 valid", timeout=10)
    dash_duo.wait_for_contains_text(f"#{page.GRID}", "Server job 2: protein-DNA", timeout=10)
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (2)", timeout=10)
    dash_duo.find_element(f"#{page.SUBMIT_ALL}").click()
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "2 job(s) queued", timeout=10)

    conn = db.connect(settings.db_path)
    found, total = jobs.list_jobs(conn, users.get_by_name(conn, "alice"), sort="submitted_asc")
    assert total == 2
    assert [j.name for j in found] == ["Server job 1: dimer with ATP", "Server job 2: protein-DNA"]
    assert all(j.state == jobs.JobState.QUEUED for j in found)
    assert dash_duo.get_logs() == []  # the grid (rows, selection checkboxes) logs no warnings or errors
