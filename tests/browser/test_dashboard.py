"""What a person does on the dashboard: watch jobs finish, filter, search, sort, cancel; an expired tab."""
from __future__ import annotations

import os
import threading

import pytest
from selenium.webdriver.common.by import By

from services import jobs
from services.people import users
from tests.browser.conftest import browser_login
from tests.browser.test_job_page import wait_until, worker  # noqa: F401 (worker is a fixture)
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AF3 = {"name": "x", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKVLA"}}],
       "dialect": "alphafold3", "version": 1}
SHOTS = os.environ.get("FOLDDECK_SHOTS")  # a folder: save screenshots there to look at the grid


def _cell(dash_duo, job_id: int, col: str):
    return dash_duo.find_element(f'.fd-job-grid .ag-row[row-id="{job_id}"] .ag-cell[col-id="{col}"]')


def _text(dash_duo, job_id: int, col: str) -> str:
    """Return a cell's text, read in one script call (the grid re-renders cells between Selenium calls)."""
    return dash_duo.driver.execute_script(
        f"var c=document.querySelector('.fd-job-grid .ag-row[row-id=\"{job_id}\"] .ag-cell[col-id=\"{col}\"]');"
        "return c ? c.innerText.trim() : null;")


def _row_ids(dash_duo) -> list[int]:
    """Return the job ids of the grid's rows, top to bottom."""
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.fd-job-grid .ag-center-cols-container .ag-row'))"
        ".sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))"
        ".map(r => parseInt(r.getAttribute('row-id'), 10));")


def _name_sort(dash_duo) -> str | None:
    """Return the name header's aria-sort ("ascending", "descending", "none")."""
    return dash_duo.driver.execute_script(
        "const h = document.querySelector('.ag-header-cell[col-id=\"name\"]');"
        "return h && h.getAttribute('aria-sort');")


def _cut_off(dash_duo, job_id: int) -> list[str]:
    """Return the columns of a row whose cell text does not fit (shown with an ellipsis)."""
    return dash_duo.driver.execute_script(
        f"return Array.from(document.querySelectorAll('.fd-job-grid .ag-row[row-id=\"{job_id}\"] .ag-cell'))"
        ".filter(c => c.scrollWidth > c.clientWidth).map(c => c.getAttribute('col-id'));")


def _submit(conn, settings, name: str, owner: str = "alice") -> jobs.Job:
    return jobs.submit(conn, settings, users.get_by_name(conn, owner), AF3, name=name)


def test_dashboard001_watch_filter_search_cancel(live, settings, conn, worker):  # noqa: F811
    dash_duo = live
    apo = _submit(conn, settings, "lysozyme-apo")
    holo = _submit(conn, settings, "lysozyme-holo")
    browser_login(dash_duo, "alice", USER_PASSWORD, "/")
    wait_until(lambda: _row_ids(dash_duo) == [holo.id, apo.id], timeout=10)  # newest first
    assert "in queue" in _text(dash_duo, apo.id, "stage")
    # cancel the newer queued job from the row actions, through the confirm dialog
    _cell(dash_duo, holo.id, "state").click()  # selects the row (the name cell opens the job)
    wait_until(lambda: dash_duo.find_element("#dashboard-cancel").is_enabled(), timeout=20)
    dash_duo.find_element("#dashboard-cancel").click()
    dash_duo.wait_for_element("#dashboard-cancel-confirm", timeout=20).click()
    dash_duo.wait_for_contains_text("#dashboard-alert", f"Job #{holo.id} was cancelled.", timeout=10)
    wait_until(lambda: _text(dash_duo, holo.id, "state") == "cancelled", timeout=10)
    # the still-selected row is cancelled now: Cancel goes grey and Retry becomes possible
    wait_until(lambda: dash_duo.find_element("#dashboard-retry").is_enabled(), timeout=20)
    assert not dash_duo.find_element("#dashboard-cancel").is_enabled()
    # a worker runs the other one: its state changes without a reload
    marker = dash_duo.driver.execute_script("return window.__fdNoReload = 1")
    worker(400)
    wait_until(lambda: _text(dash_duo, apo.id, "state") == "succeeded", timeout=20)
    assert dash_duo.driver.execute_script("return window.__fdNoReload") == marker
    assert dash_duo.driver.execute_script("return window.innerWidth") == 1366
    assert [c for c in _cut_off(dash_duo, apo.id) if c != "stage"] == []  # 'succeeded', times: all whole
    assert "fd-st-succeeded" in _cell(dash_duo, apo.id, "state").get_attribute("class")
    if SHOTS:
        dash_duo.driver.save_screenshot(os.path.join(SHOTS, "dashboard-1366.png"))
    # filter by state, then search by name
    dash_duo.find_element(f"label[for='{_radio_id(dash_duo, 'cancelled')}']").click()
    wait_until(lambda: _row_ids(dash_duo) == [holo.id], timeout=10)
    dash_duo.find_element(f"label[for='{_radio_id(dash_duo, 'all')}']").click()
    wait_until(lambda: _row_ids(dash_duo) == [holo.id, apo.id], timeout=10)
    dash_duo.find_element("#dashboard-search").send_keys("apo")
    wait_until(lambda: _row_ids(dash_duo) == [apo.id], timeout=10)
    assert dash_duo.find_element("#dashboard-summary").text == "Jobs 1–1 of 1"
    assert dash_duo.get_logs() == []


def _radio_id(dash_duo, value: str) -> str:
    """Return the element id of the state filter's radio input for `value`."""
    return dash_duo.driver.execute_script(
        f"return document.querySelector('#dashboard-state input[value=\"{value}\"]').id")


def test_dashboard002_admin_all_users_owner_column_and_sort(live, settings, conn):
    dash_duo = live
    a = _submit(conn, settings, "Beta-alice")
    b = _submit(conn, settings, "alpha-admin", owner="admin")
    c = _submit(conn, settings, "gamma-alice")
    dash_duo.driver.set_window_size(1920, 1000)
    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/")
    wait_until(lambda: _row_ids(dash_duo) == [b.id], timeout=10)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, '.ag-header-cell[col-id="owner"]')
    dash_duo.find_element("label[for='dashboard-all-users']").click()
    wait_until(lambda: _row_ids(dash_duo) == [c.id, b.id, a.id], timeout=10)
    dash_duo.wait_for_element('.ag-header-cell[col-id="owner"]', timeout=20)
    assert _text(dash_duo, b.id, "owner") == "admin" and _text(dash_duo, a.id, "owner") == "alice"
    # a header click sorts on the server (case-blind: the browser alone would put "Beta" before "alpha"),
    # name ascending, then descending, then back to newest first
    # Each click waits for the header to show the sort the server answered with: the answer re-sends the
    # column definitions, and a click that lands before them is applied to the old sort state.
    for order, aria in (([b.id, a.id, c.id], "ascending"), ([c.id, a.id, b.id], "descending"),
                        ([c.id, b.id, a.id], "none")):
        dash_duo.find_element('.ag-header-cell[col-id="name"] .ag-header-cell-label').click()
        wait_until(lambda order=order: _row_ids(dash_duo) == order, timeout=10)
        wait_until(lambda aria=aria: _name_sort(dash_duo) == aria, timeout=10)
        threading.Event().wait(0.5)  # let the grid apply the answered column definitions
    host = '.ag-header-cell[col-id="host"].ag-header-cell-sortable'
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, host)  # the service has no such sort
    assert [c for c in _cut_off(dash_duo, a.id) if c != "stage"] == []
    if SHOTS:
        dash_duo.driver.save_screenshot(os.path.join(SHOTS, "dashboard-1920.png"))
    assert dash_duo.get_logs() == []


def test_dashboard003_expired_session_goes_to_login(live, settings, conn):
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/")
    dash_duo.wait_for_element("#dashboard-greeting", timeout=10)
    users.set_active(conn, users.get_by_name(conn, "alice").id, False)
    wait_until(lambda: dash_duo.driver.current_url.endswith("/login?next=%2F")
               or dash_duo.driver.current_url.endswith("/login?next=/"), timeout=8)
    dash_duo.wait_for_element("#username", timeout=20)
