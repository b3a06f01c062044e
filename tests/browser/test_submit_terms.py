"""The AlphaFold 3 terms as a newcomer meets them on the upload page: unticked, refused; ticked, queued and recorded."""
from pathlib import Path

import pytest

from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def click(dash_duo, selector: str) -> None:
    """Scroll the element to the middle of the window (instantly: Bootstrap scrolls smoothly) and click it."""
    element = dash_duo.wait_for_element(selector, timeout=10)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def test_terms001_upload_needs_the_terms_ticked(live, settings):
    from dash_app.pages import upload as page

    conn = db.connect(settings.db_path)
    users.create_user(conn, "newcomer", "newcomer-password-1")
    dash_duo = live
    browser_login(dash_duo, "newcomer", "newcomer-password-1", "/upload")
    box = dash_duo.wait_for_element(f"#{page.TERMS}", timeout=10)
    assert not box.is_selected() and "terms of use" in dash_duo.find_element(".fd-terms").text
    dash_duo.find_element(f"#{page.DROP} input[type=file]").send_keys(str(SAMPLES / "server_two_jobs.json"))
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (2)", timeout=10)

    click(dash_duo, f"#{page.SUBMIT_ALL}")
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "accept the AlphaFold 3 model-parameter terms", timeout=10)
    newcomer = users.get_by_name(conn, "newcomer")
    assert jobs.list_jobs(conn, newcomer)[1] == 0

    click(dash_duo, f"#{page.TERMS}")
    click(dash_duo, f"#{page.SUBMIT_ALL}")
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "2 job(s) queued", timeout=10)
    found, total = jobs.list_jobs(conn, newcomer)
    assert total == 2 and {j.terms_via for j in found} == {"upload"}
    assert users.get_by_name(conn, "newcomer").accepted_terms_at == found[0].terms_accepted_at


def test_terms002_every_bundled_sample_uploads_while_the_ccd_index_is_built(live, settings, tmp_path, monkeypatch):
    """A newcomer on a fresh install drops all four sample files at once, before the CCD index exists (the
    ligand/ion sample needs it): every job is checked and queued, none is lost."""
    from dash_app.pages import upload as page
    from services.af3.chem import ccd

    monkeypatch.setattr(ccd, "_loaded", {})  # this process has no index in memory...
    monkeypatch.setattr(ccd, "_recent", {})
    monkeypatch.setitem(ccd._config, "data_dir", tmp_path / "fresh")  # ...and none is on disk: the check builds it
    conn = db.connect(settings.db_path)
    users.create_user(conn, "newcomer", "newcomer-password-1")
    dash_duo = live
    browser_login(dash_duo, "newcomer", "newcomer-password-1", "/upload")
    files = sorted(SAMPLES.glob("*.json"))
    dash_duo.wait_for_element(f"#{page.DROP} input[type=file]", timeout=10).send_keys("\n".join(map(str, files)))
    dash_duo.wait_for_contains_text(f"#{page.SUBMIT_ALL}", "Submit all valid (5)", timeout=60)
    click(dash_duo, f"#{page.TERMS}")
    click(dash_duo, f"#{page.SUBMIT_ALL}")
    dash_duo.wait_for_contains_text(f"#{page.RESULT}", "5 job(s) queued", timeout=20)
    found, total = jobs.list_jobs(conn, users.get_by_name(conn, "newcomer"))
    assert total == 5 and "Kinase fragment with ATP and Mg" in {j.name for j in found}
    assert list((tmp_path / "fresh" / "cache" / "ccd").glob("*.idx")), "the index was built by this upload"
    assert dash_duo.get_logs() == []
