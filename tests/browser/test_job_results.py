"""What a structural biologist does with a finished job: see the 3D model, pick another sample,
draw a box on the PAE and see those residues selected in the viewer."""
from __future__ import annotations

import pytest

from dash_app.components.results import results_view as rv
from tests.browser.conftest import browser_login
from tests.conftest import ROOT, USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REAL = ROOT / "tests" / "fixtures" / "af3_outputs"


def _errors(dash_duo) -> list:
    return [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"]


def _plddt_y(dash_duo) -> list:
    """Return the plotted pLDDT values (plotly's full data: the figure's arrays arrive base64-encoded)."""
    return dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{rv.PLDDT} .js-plotly-plot'); "
        "return g && g._fullData && g._fullData.length ? Array.from(g._fullData[0].y) : null")


def _loaded_models(dash_duo) -> str | None:
    """Return the ids of the models Mol* holds (dash-molstar's `loadedStructures`, read through React), or None."""
    return dash_duo.driver.execute_script(
        f"const el = document.getElementById('{rv.VIEWER}'); if (!el) return null; "
        "const key = Object.keys(el).find(k => k.startsWith('__reactFiber$')); "
        "let f = key && el[key]; while (f && !(f.stateNode && f.stateNode.loadedStructures)) f = f.return; "
        "const m = f && f.stateNode.loadedStructures; "
        "return m && Object.keys(m).length ? JSON.stringify(m) : null")


def test_results001_structure_renders_and_sample_switch_changes_plots(live, done_job):
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{done_job.id}")
    dash_duo.wait_for_contains_text(f"#{rv.CARD}", "Ranking score", timeout=20)
    dash_duo.wait_for_element(f"#{rv.VIEWER} canvas", timeout=30)
    dash_duo.wait_for_element(f"#{rv.PLDDT} .js-plotly-plot", timeout=20)
    from dash.testing.wait import until

    until(lambda: _plddt_y(dash_duo), 20)
    first_model = until(lambda: _loaded_models(dash_duo), 30)
    before = _plddt_y(dash_duo)
    dash_duo.select_dcc_dropdown(f"#{rv.SAMPLE}", "seed 1 · sample 2")
    until(lambda: _plddt_y(dash_duo) not in (None, before), 20)
    assert len(_plddt_y(dash_duo)) == len(before) == 209
    # Mol* has parsed and shown the second model (a new model id): only then is the console complete
    until(lambda: _loaded_models(dash_duo) not in (None, first_model), 30)
    assert _errors(dash_duo) == []


def test_results002_pae_box_reaches_the_viewer_selection(live, done_job):
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{done_job.id}")
    dash_duo.wait_for_element(f"#{rv.VIEWER} canvas", timeout=30)
    from dash.testing.wait import until

    until(lambda: dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{rv.PAE} .js-plotly-plot'); return !!(g && g.data && g.data.length)"), 20)
    # what plotly emits when a person drags a box over tokens 10-20 (x) and 100-104 (y)
    dash_duo.driver.execute_script(
        f"document.querySelector('#{rv.PAE} .js-plotly-plot').emit('plotly_selected', "
        "{points: [], range: {x: [9.6, 20.2], y: [99.7, 104.1]}})")
    dash_duo.wait_for_contains_text(f"#{rv.LINKED}", "Selected: A 11–21, B 7–11", timeout=10)
    def viewer_selection():
        return dash_duo.driver.execute_script(f"return document.getElementById('{rv.VIEWER_SEL}').textContent")

    try:
        until(lambda: viewer_selection() == "A:11,B:5", 10)
    finally:
        print("VIEWER SELECTION", repr(viewer_selection()))
    assert _errors(dash_duo) == []


def test_results003_import_a_server_zip_and_see_its_structure(live, tmp_path):
    import zipfile

    from selenium.webdriver.common.by import By

    dash_duo = live
    archive = tmp_path / "fold_5b8c.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in (REAL / "server_fold_5b8c" / "Example").iterdir():
            zf.write(p, f"fold_5b8c/{p.name}")
    browser_login(dash_duo, "alice", USER_PASSWORD, "/import")
    frame = dash_duo.wait_for_element("#import-results-form", timeout=15)
    dash_duo.driver.switch_to.frame(frame)
    dash_duo.driver.find_element(By.ID, "import-file").send_keys(str(archive))
    dash_duo.driver.find_element(By.ID, "import-submit").click()
    dash_duo.driver.switch_to.default_content()
    dash_duo.wait_for_contains_text(f"#{rv.CARD}", "model 0", timeout=30)
    assert "Imported results" in dash_duo.find_element(f"#{rv.CARD}").text
    assert "/jobs/" in dash_duo.driver.current_url
    dash_duo.wait_for_element(f"#{rv.VIEWER} canvas", timeout=30)
    assert _errors(dash_duo) == []
