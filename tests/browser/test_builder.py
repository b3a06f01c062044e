"""The builder as a person uses it: fill cards, see JSON and size, fix a flagged error, submit."""
import json

import pytest
from selenium.common.exceptions import ElementClickInterceptedException, TimeoutException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from dash_app.builder import entity_card as EC
from dash_app.builder.ids import BOND_ATOM
from services import jobs
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_until(dash_duo, condition, timeout=10):
    """Wait until `condition()` is truthy."""
    WebDriverWait(dash_duo.driver, timeout).until(lambda _driver: condition())


def field(dash_duo, kind, uid, **extra):
    """Return the element of a card field by its pattern-matching id, waiting for it to appear."""
    dom = EC.dom_id(EC.pid(kind, uid, **extra))
    find = lambda: dash_duo.driver.execute_script("return document.getElementById(arguments[0])", dom)  # noqa: E731
    wait_until(dash_duo, find, timeout=10)  # By.ID cannot take the quotes of a JSON id in selenium 4.2
    return find()


def wait_text(dash_duo, kind, uid, text):
    """Wait until a card element's text equals `text`."""
    wait_until(dash_duo, lambda: field(dash_duo, kind, uid).text == text, timeout=10)


def click(dash_duo, element):
    """Scroll an element to the middle of the window and click it (the 900 px window hides the lower form)."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    try:
        element.click()
    except ElementClickInterceptedException:  # the sticky live panel can sit over a scrolled element
        dash_duo.driver.execute_script("arguments[0].click();", element)


def replace_text(element, text):
    """Select everything in a field and type `text` (React sees real key events)."""
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE)
    element.send_keys(text)


def test_builder001_protein_ligand_fix_error_submit(live, settings):
    from dash_app.pages import builder as page  # importable only once the app has registered its pages

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/builder")
    dash_duo.wait_for_element(f"#{page.NAME}", timeout=10).send_keys("kinase with ATP")
    dash_duo.wait_for_text_to_equal(f"#{page.FOLDER}", "kinase_with_ATP", timeout=10)

    seq = field(dash_duo, EC.SEQ, 0)
    seq.send_keys("MKTAYIAK1QRQISFVKSHFSRQ")  # a deliberate typo: the digit 1
    dash_duo.wait_for_contains_text(".fd-seq-bad", "'1' at 9", timeout=10)
    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "Protein 1 · sequence", timeout=10)  # the touched field

    click(dash_duo, dash_duo.find_element(f"#{page.ADD['ligand']}"))
    field(dash_duo, EC.CCD, 1).send_keys("ATP")
    dash_duo.wait_for_contains_text(f"#{page.PREVIEW}", '"ATP"', timeout=10)

    # clicking the problem puts the cursor in the sequence field
    click(dash_duo, dash_duo.find_element(f"#{page.PROBLEMS} button"))
    wait_until(dash_duo, lambda: dash_duo.driver.switch_to.active_element == field(dash_duo, EC.SEQ, 0), timeout=20)
    replace_text(field(dash_duo, EC.SEQ, 0), "MKTAYIAKQRQISFVKSHFSRQ")
    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "No problems", timeout=10)
    dash_duo.wait_for_contains_text("#builder-size-text", "53 tokens", timeout=10)  # 22 residues + 31 ATP atoms
    dash_duo.wait_for_contains_text("#builder-size-text", "bucket 128", timeout=10)
    preview = json.loads(dash_duo.find_element(f"#{page.PREVIEW}").text)
    assert preview["sequences"] == [{"protein": {"id": "A", "sequence": "MKTAYIAKQRQISFVKSHFSRQ"}},
                                    {"ligand": {"id": "B", "ccdCodes": ["ATP"]}}]

    wait_until(dash_duo, lambda: not dash_duo.find_element(f"#{page.SUBMIT}").get_attribute("disabled"), timeout=10)
    assert dash_duo.find_element(f"#{page.TERMS_ACCEPT}").is_selected()  # alice accepted before: ticked for her
    click(dash_duo, dash_duo.find_element(f"#{page.SUBMIT}"))
    wait_until(dash_duo, lambda: "/jobs/" in dash_duo.driver.current_url, timeout=10)

    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    found, total = jobs.list_jobs(conn, alice)
    assert total == 1 and dash_duo.driver.current_url.endswith(f"/jobs/{found[0].id}")
    assert found[0].read_input()["sequences"] == preview["sequences"]
    assert alice.accepted_terms_at is not None


def test_builder002_fasta_paste_creates_cards(live):
    from dash_app.pages import builder as page

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/builder")
    dash_duo.wait_for_element("#builder-start .accordion-button", timeout=10).click()
    dash_duo.wait_for_element(f"#{page.FASTA_TEXT}", timeout=10).send_keys(
        ">heavy\nMKTAYIAKQR\n>heavy copy\nMKTAYIAKQR\n>site\nACGTACGT\n")
    click(dash_duo, dash_duo.find_element(f"#{page.FASTA_APPLY}"))
    dash_duo.wait_for_contains_text(f"#{page.CARDS}", "DNA 2", timeout=10)
    cards = dash_duo.find_elements(".fd-entity-card")
    assert len(cards) == 2
    # the blank protein card was replaced; the identical records became two copies (chains A, B)
    assert field(dash_duo, EC.SEQ, 1).get_attribute("value") == "MKTAYIAKQR"
    assert field(dash_duo, EC.COPIES, 1).get_attribute("value") == "2"
    wait_text(dash_duo, EC.CHAINS, 1, "Chains A, B")
    wait_text(dash_duo, EC.CHAINS, 2, "Chains C")
    preview = json.loads(dash_duo.find_element(f"#{page.PREVIEW}").text)
    assert preview["sequences"][1] == {"dna": {"id": "C", "sequence": "ACGTACGT"}}


def open_dropdown(dash_duo, dropdown):
    """Open a dcc.Dropdown (dash 4: a button with a popover), clicking again if a closing popover ate the click."""
    for _ in range(3):
        click(dash_duo, dropdown)
        try:
            wait_until(dash_duo, lambda: dropdown.get_attribute("aria-expanded") == "true", timeout=2)
            return
        except TimeoutException:
            continue
    raise AssertionError(f"dropdown {dropdown.get_attribute('id')} does not open")


def close_dropdown(dash_duo, dropdown, escape=False):
    """Wait for a dropdown to close (pressing Escape first when asked)."""
    if escape:
        dash_duo.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until(dash_duo, lambda: dropdown.get_attribute("aria-expanded") == "false", timeout=20)


def choose(dash_duo, dropdown, label_start):
    """Open a dcc.Dropdown, search for `label_start` and click the first option whose label starts with it."""
    open_dropdown(dash_duo, dropdown)
    search = lambda: dash_duo.driver.switch_to.active_element  # noqa: E731  (focus moves to the popover's search)
    wait_until(dash_duo, lambda: "dash-dropdown-search" in (search().get_attribute("class") or ""), timeout=20)
    search().send_keys(label_start)

    def option():  # read in one script: the list re-renders while the search filters it
        return dash_duo.driver.execute_script(
            "return [...document.querySelectorAll('[role=option]')].find(o => o.innerText.startsWith(arguments[0]))",
            label_start)

    wait_until(dash_duo, option, timeout=20)
    click(dash_duo, option())
    close_dropdown(dash_duo, dropdown)


def options_of(dash_duo, dropdown) -> list[str]:
    """Return the labels a dcc.Dropdown offers (opened, read, closed with Escape)."""
    open_dropdown(dash_duo, dropdown)
    wait_until(dash_duo, lambda: dash_duo.find_elements("[role=option]"), timeout=20)
    labels = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('[role=option]')].map(o => o.innerText)")
    close_dropdown(dash_duo, dropdown, escape=True)
    return labels


def test_builder003_common_ligand_ion_and_a_covalent_bond(live):
    from dash_app.pages import builder as page

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/builder")
    dash_duo.wait_for_element(f"#{page.NAME}", timeout=10).send_keys("kinase ATP Mg")
    field(dash_duo, EC.SEQ, 0).send_keys("MKTAYCIAK")
    click(dash_duo, dash_duo.find_element(f"#{page.ADD['ligand']}"))
    choose(dash_duo, field(dash_duo, EC.LIG_PICK, 1), "ATP")
    wait_until(dash_duo, lambda: field(dash_duo, EC.CCD, 1).get_attribute("value") == "ATP")
    click(dash_duo, dash_duo.find_element(f"#{page.ADD['ion']}"))
    choose(dash_duo, field(dash_duo, EC.LIG_PICK, 2), "MG")
    dash_duo.wait_for_contains_text(f"#{page.PREVIEW}", '"MG"', timeout=10)

    click(dash_duo, dash_duo.find_element(f"#{page.BOND_ADD}"))
    part = lambda kind, side: field(dash_duo, kind, 0, side=side)  # noqa: E731
    assert options_of(dash_duo, part(page.BOND_CHAIN, "a")) == ["A (Protein, 9)", "B (Ligand, 1)", "C (Ion, 1)"]
    choose(dash_duo, part(page.BOND_CHAIN, "a"), "A (")
    assert options_of(dash_duo, part(page.BOND_RES, "a"))[5] == "6 C"  # only residues of chain A, with letters
    choose(dash_duo, part(page.BOND_RES, "a"), "6 C")
    part(BOND_ATOM, "a").send_keys("SG")
    choose(dash_duo, part(page.BOND_CHAIN, "b"), "B (")
    assert options_of(dash_duo, part(page.BOND_RES, "b")) == ["1 ATP"]
    choose(dash_duo, part(page.BOND_RES, "b"), "1 ATP")
    part(BOND_ATOM, "b").send_keys("PG")

    dash_duo.wait_for_contains_text(f"#{page.PROBLEMS}", "No problems", timeout=10)
    preview = json.loads(dash_duo.find_element(f"#{page.PREVIEW}").text)
    assert preview["sequences"][1:] == [{"ligand": {"id": "B", "ccdCodes": ["ATP"]}},
                                        {"ligand": {"id": "C", "ccdCodes": ["MG"]}}]
    assert preview["bondedAtomPairs"] == [[["A", 6, "SG"], ["B", 1, "PG"]]]
    assert dash_duo.get_logs() == []
