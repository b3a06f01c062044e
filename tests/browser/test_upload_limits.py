"""Upload limits as a person meets them: several files at once, one too large, more than one request carries."""
import dataclasses
import json
from pathlib import Path

import pytest

from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
CAP = 20 * 1024  # per-file cap for this test: small files keep it fast
REQUEST = 300 * 1024  # Flask's MAX_CONTENT_LENGTH here; minus the 256 KB headroom, 44 KB base64: 33 KB of files


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, upload_max_bytes=CAP)


@pytest.fixture
def app(app):
    app.server.config["MAX_CONTENT_LENGTH"] = REQUEST
    return app


def job_file(path: Path, name: str, size: int) -> Path:
    """Write a valid one-job AF3 file of exactly `size` bytes (padded with trailing spaces)."""
    doc = json.loads((SAMPLES / "protein_only.json").read_text())
    text = json.dumps({**doc, "name": name})
    path.write_text(text + " " * (size - len(text)))
    return path


def test_upload002_oversized_and_overflowing_files_are_named_and_not_sent(live, settings, tmp_path):
    from dash_app.pages import upload as page

    files = [job_file(tmp_path / "a.json", "job a", 15_000), job_file(tmp_path / "big.json", "job big", 25_000),
             job_file(tmp_path / "b.json", "job b", 15_000), job_file(tmp_path / "c.json", "job c", 15_000)]
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/upload")
    dash_duo.wait_for_contains_text(f"#{page.DROP}", "Up to 20 KB per file and 33 KB per drop", timeout=10)
    picker = dash_duo.wait_for_element(f"#{page.DROP} input[type=file]", timeout=10)
    picker.send_keys("\n".join(str(f) for f in files))
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (2)", timeout=10)
    errors = {e.text.split(":")[0]: e.text for e in dash_duo.find_elements(".fd-file-error")}
    assert set(errors) == {"big.json", "c.json"}
    assert "is 24 KB, more than the 20 KB allowed per file. It was not uploaded" in errors["big.json"]
    assert "Not uploaded: the files dropped together pass 33 KB" in errors["c.json"]
    assert sorted(e.text.split(":")[0] for e in dash_duo.find_elements(".fd-file-ok")) == ["a.json", "b.json"]

    button = dash_duo.find_element(f"#{page.SUBMIT_ALL}")
    # below the terms checkbox now, under the fold; "instant": Bootstrap's smooth scrolling would still be moving
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
    button.click()
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "2 job(s) queued", timeout=10)
    conn = db.connect(settings.db_path)
    found, _ = jobs.list_jobs(conn, users.get_by_name(conn, "alice"))
    assert sorted(j.name for j in found) == ["job a", "job b"]
    assert dash_duo.get_logs() == []  # no 413, no grid warnings
