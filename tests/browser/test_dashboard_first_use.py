"""The dashboard as a new user meets it: one empty message, actions that look as usable as they are,
a paused queue said out loud, and Clone that opens the builder instead of queuing a copy."""
from __future__ import annotations

import os

import pytest

from services import jobs
from services.people import users
from tests.browser.conftest import browser_login
from tests.browser.test_dashboard import _cell, _radio_id, _row_ids, _text
from tests.browser.test_job_page import wait_until
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AF3 = {"name": "x", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKVLA"}}],
       "dialect": "alphafold3", "version": 1}
SHOTS = os.environ.get("FOLDDECK_SHOTS")
BUTTONS = {"open": "#dashboard-open", "cancel": "#dashboard-cancel", "retry": "#dashboard-retry",
           "clone": "#dashboard-clone"}


def _looks(dash_duo) -> dict[str, tuple[bool, float]]:
    """Return, per action button, (enabled, the opacity a person sees)."""
    return dash_duo.driver.execute_script(
        "const out = {}; for (const [k, sel] of Object.entries(arguments[0])) {"
        "  const b = document.querySelector(sel);"
        "  out[k] = [!b.disabled, parseFloat(getComputedStyle(b).opacity)]; } return out;", BUTTONS)


def _visible_empty_messages(dash_duo) -> list[str]:
    """Return the texts of every empty-state message a person can see."""
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#dashboard-empty, .ag-overlay-no-rows-center, .ag-overlay')]"
        ".filter(e => e.offsetParent !== null && e.innerText.trim()).map(e => e.innerText.trim());")


def test_dashboard101_new_user_one_message_actions_paused_and_clone(live, settings, conn):
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/")
    dash_duo.wait_for_contains_text("#dashboard-empty", "You have no jobs yet", timeout=10)
    wait_until(lambda: len(_visible_empty_messages(dash_duo)) == 1, timeout=20)
    assert dash_duo.find_element("#dashboard-empty a").get_attribute("href").endswith("/builder")  # not a 404

    alice, admin = users.get_by_name(conn, "alice"), users.get_by_name(conn, "admin")
    queued = jobs.submit(conn, settings, alice, AF3, name="queued one")
    stopped = jobs.submit(conn, settings, alice, AF3, name="stopped one")
    jobs.cancel_job(conn, alice, stopped.id)
    wait_until(lambda: _row_ids(dash_duo) == [stopped.id, queued.id], timeout=10)
    assert _text(dash_duo, queued.id, "stage") == "#1 in queue"
    jobs.pause_queue(conn, admin)  # no job row changes, yet the open page learns it
    wait_until(lambda: "queue paused by an admin" in (_text(dash_duo, queued.id, "stage") or ""), timeout=10)
    assert not _visible_empty_messages(dash_duo)

    looks = _looks(dash_duo)  # nothing selected: every action unusable, and it shows
    assert all(not on and alpha < 0.5 for on, alpha in looks.values()), looks
    _cell(dash_duo, queued.id, "state").click()
    wait_until(lambda: _looks(dash_duo)["cancel"][0], timeout=20)
    looks = _looks(dash_duo)
    assert looks["open"] == [True, 1] and looks["cancel"] == [True, 1] and looks["clone"] == [True, 1], looks
    assert not looks["retry"][0] and looks["retry"][1] < 0.5, looks  # a queued job cannot be retried
    if SHOTS:
        dash_duo.driver.save_screenshot(os.path.join(SHOTS, "dashboard-actions-queued.png"))
    dash_duo.find_element("#dashboard-cancel").click()
    dash_duo.wait_for_text_to_equal("#dashboard-cancel-keep", "Keep it queued", timeout=20)
    assert "never starts" in dash_duo.find_element("#dashboard-cancel-body").text
    dash_duo.find_element("#dashboard-cancel-keep").click()
    wait_until(lambda: not dash_duo.driver.find_elements("css selector", ".modal.show"), timeout=20)

    _cell(dash_duo, stopped.id, "state").click()
    wait_until(lambda: _looks(dash_duo)["retry"][0], timeout=20)
    looks = _looks(dash_duo)
    assert looks["retry"] == [True, 1] and not looks["cancel"][0] and looks["cancel"][1] < 0.5, looks
    # the selected job filtered off the page: nothing is seen selected, so nothing may look usable
    dash_duo.find_element(f"label[for='{_radio_id(dash_duo, 'queued')}']").click()
    wait_until(lambda: _row_ids(dash_duo) == [queued.id], timeout=10)
    wait_until(lambda: all(not on for on, _ in _looks(dash_duo).values()), timeout=20)

    _cell(dash_duo, queued.id, "state").click()
    wait_until(lambda: _looks(dash_duo)["clone"][0], timeout=20)
    dash_duo.find_element("#dashboard-clone").click()
    wait_until(lambda: dash_duo.driver.current_url.endswith(f"/builder?clone={queued.id}"), timeout=10)
    wait_until(lambda: dash_duo.find_element("#builder-name").get_attribute("value") == "queued one (copy)",
               timeout=10)
    assert jobs.list_jobs(conn, alice)[1] == 2  # nothing was queued by Clone
    assert dash_duo.get_logs() == []
