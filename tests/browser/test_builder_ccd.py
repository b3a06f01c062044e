"""The builder's CCD pickers as a person uses them: find a ligand by name, one-click shortcuts, an unknown code."""
import json

import pytest

from dash_app.builder import entity_card as EC
from tests.browser.conftest import browser_login
from tests.browser.test_builder import click, close_dropdown, field, open_dropdown, wait_until
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def search_and_pick(dash_duo, dropdown, typed, label_start):
    """Open a dcc.Dropdown, type `typed` into its search and click the first option starting with `label_start`."""
    open_dropdown(dash_duo, dropdown)
    search = lambda: dash_duo.driver.switch_to.active_element  # noqa: E731  (focus moves to the popover's search)
    wait_until(dash_duo, lambda: "dash-dropdown-search" in (search().get_attribute("class") or ""), timeout=20)
    search().send_keys(typed)

    def first():  # the server's ranked options arrive after the keystrokes; read them in one script
        return dash_duo.driver.execute_script(
            "const o = document.querySelector('[role=option]'); return o && o.innerText.startsWith(arguments[0])"
            " ? o : null", label_start)

    wait_until(dash_duo, first, timeout=10)
    click(dash_duo, first())
    close_dropdown(dash_duo, dropdown)


def test_builder004_pick_ligand_by_name_shortcut_and_unknown_code(live):
    from dash_app.pages import builder as page

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/builder")
    dash_duo.wait_for_element(f"#{page.NAME}", timeout=10).send_keys("globin with heme")
    field(dash_duo, EC.SEQ, 0).send_keys("MKTAYCIAK")
    click(dash_duo, dash_duo.find_element(f"#{page.ADD['ligand']}"))
    assert "wwPDB CCD bundled with biotite" in dash_duo.find_element(".fd-ccd-info").text

    search_and_pick(dash_duo, field(dash_duo, EC.LIG_PICK, 1), "heme", "HEM — PROTOPORPHYRIN IX")  # ranked first
    wait_until(dash_duo, lambda: field(dash_duo, EC.CCD, 1).get_attribute("value") == "HEM")
    dash_duo.wait_for_contains_text("#builder-size-text", "52 tokens", timeout=10)  # 9 residues + 43 heme atoms

    click(dash_duo, dash_duo.find_element(f"#{page.ADD['ligand']}"))
    click(dash_duo, field(dash_duo, EC.LIG_SHORT, 2, code="NAD"))
    wait_until(dash_duo, lambda: field(dash_duo, EC.CCD, 2).get_attribute("value") == "NAD")

    ccd = field(dash_duo, EC.CCD, 2)
    ccd.send_keys("\b\b\bQQQ9")
    wait_until(dash_duo, lambda: "'QQQ9' is not in" in field(dash_duo, EC.FIELD_PROBLEMS, 2, field="ccd").text)
    preview = json.loads(dash_duo.find_element(f"#{page.PREVIEW}").text)
    assert preview["sequences"][1] == {"ligand": {"id": "B", "ccdCodes": ["HEM"]}}
    assert dash_duo.get_logs() == []
