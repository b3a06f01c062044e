"""Upload as a new user meets it: files that are not JSON are listed as refused, with the reason, and the
limits are stated in round figures of file size (per file and per drop)."""
from pathlib import Path

import pytest

from tests.browser.conftest import browser_login
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_upload101_non_json_files_are_refused_by_name(live, tmp_path):
    from dash_app.pages import upload as page

    fasta = tmp_path / "heavy.fasta"
    fasta.write_text(">heavy\nMKTAYIAKQR\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a job")
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/upload")
    dash_duo.wait_for_text_to_equal(f"#{page.P(page.__name__, 'limits-text')}",
                                    "Up to 10 MB per file and 15 MB per drop. Nothing is queued until you submit.",
                                    timeout=10)
    picker = dash_duo.wait_for_element(f"#{page.DROP} input[type=file]", timeout=10)
    picker.send_keys("\n".join(str(p) for p in (SAMPLES / "protein_only.json", fasta, notes)))
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (1)", timeout=10)
    errors = {e.text.split(":")[0]: e.text for e in dash_duo.find_elements(".fd-file-error")}
    assert set(errors) == {"heavy.fasta", "notes.txt"}, errors
    assert "Refused: heavy.fasta is not a .json file" in errors["heavy.fasta"]
    assert "Builder page" in errors["heavy.fasta"]
    assert [e.text.split(":")[0] for e in dash_duo.find_elements(".fd-file-ok")] == ["protein_only.json"]
    assert dash_duo.get_logs() == []
