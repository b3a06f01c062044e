"""What a person sees on a big job's page: the log arrives by the first poll, "load earlier" and the
filter work, a filter that hides every line says so; a plain user sent to an admin page in the app
sees the Admins-only page with the navbar."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from services import jobs
from services.jobs import joblog
from services.people import users
from services.platform import defaults
from tests.browser.conftest import browser_login
from tests.browser.test_job_page import _line_count, wait_until
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
AF3 = {"name": "big", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}


def test_console001_big_log_loads_by_poll_earlier_and_no_match(live, settings, conn):
    dash_duo = live
    job = jobs.submit(conn, settings, users.get_by_name(conn, "alice"), AF3)
    joblog.append_lines(conn, job.id, [f"row {i}" for i in range(1, 3001)])
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_contains_text(".fd-console", "row 3000", timeout=15)
    assert _line_count(dash_duo) == defaults.CONSOLE_FIRST_LINES
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, ".fd-console-loading")  # the placeholder went
    earlier = dash_duo.wait_for_element("#" + '{"key":"job","type":"console-earlier"}'.replace('"', '\\"')
                                        .replace("{", "\\{").replace("}", "\\}").replace(":", "\\:")
                                        .replace(",", "\\,"), timeout=20)
    earlier.click()
    wait_until(lambda: _line_count(dash_duo) == defaults.CONSOLE_FIRST_LINES + defaults.CONSOLE_EARLIER_LINES)
    note = dash_duo.find_element(".fd-console-nomatch")
    assert not note.is_displayed()
    dash_duo.find_element("#console-filter-job").send_keys("no such words")
    wait_until(lambda: note.is_displayed(), timeout=20)
    assert note.text == "No lines match \u201cno such words\u201d."
    dash_duo.find_element("#console-filter-job").send_keys(Keys.BACKSPACE * len("no such words"), "row 2999")
    wait_until(lambda: not note.is_displayed(), timeout=20)
    href = dash_duo.find_element("[download][href$='/log']").get_attribute("href")
    assert href.endswith(f"/api/jobs/{job.id}/log")
    assert dash_duo.get_logs() == []


def test_console002_admin_page_reached_inside_the_app_shows_admins_only(live, settings, conn):
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/")
    dash_duo.driver.execute_script("window.history.pushState({}, '', '/admin/users');"
                                   "window.dispatchEvent(new PopStateEvent('popstate'));")
    dash_duo.wait_for_element("#forbidden", timeout=15)
    assert "Admins only" in dash_duo.find_element("#forbidden").text
    assert dash_duo.find_element("#nav-username").text == "alice"
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#shell-navbar a[href^='/admin']")
