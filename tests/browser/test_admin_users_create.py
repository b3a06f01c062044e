"""Creating a user as an admin does it: the answer, an error above all, shows beside the form, in view."""
from __future__ import annotations

import pytest

from services.people import users
from tests.browser.conftest import browser_login
from tests.browser.test_job_page import wait_until
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IN_VIEW_NEAR = """const a = document.querySelector(arguments[0]).getBoundingClientRect();
const b = document.querySelector(arguments[1]).getBoundingClientRect();
return {inView: a.top >= 0 && a.bottom <= window.innerHeight && a.height > 0, gap: Math.abs(b.top - a.bottom)};"""


def click(dash_duo, element) -> None:
    """Scroll to an element at once (Bootstrap's smooth scrolling would still be moving) and click it."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def test_admin101_create_user_error_beside_the_form(live, conn):
    from dash_app.pages.admin import admin_users as page

    dash_duo = live
    dash_duo.driver.set_window_size(1366, 700)
    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/admin/users")
    dash_duo.wait_for_element(f"#{page.GRID} .ag-row", timeout=10)  # the page has its final height
    name = dash_duo.find_element(f"#{page.NEW_NAME}")
    name.send_keys("carol")
    dash_duo.find_element(f"#{page.NEW_PASSWORD}").send_keys("short")
    create = dash_duo.find_element(f"#{page.CREATE}")
    click(dash_duo, create)  # the form sits low on the page: scrolled to, as a person would
    dash_duo.wait_for_contains_text(f"#{page.CREATE_ALERT}", "characters", timeout=10)

    def where():
        return dash_duo.driver.execute_script(IN_VIEW_NEAR, f"#{page.CREATE_ALERT}", f"#{page.CREATE}")

    wait_until(lambda: where()["inView"], timeout=20)  # on screen, where the person clicked
    assert where()["gap"] < 40, where()  # right above the button
    assert dash_duo.find_element(f"#{page.ALERT}").text == ""  # not at the top of the page
    assert "carol" not in [u.username for u in users.list_users(conn)]
    password = dash_duo.find_element(f"#{page.NEW_PASSWORD}")
    password.send_keys("-long-enough-now")
    click(dash_duo, create)
    dash_duo.wait_for_contains_text(f"#{page.CREATE_ALERT}", "Created carol", timeout=10)
    wait_until(lambda: "carol" in [u.username for u in users.list_users(conn)], timeout=20)
    assert dash_duo.get_logs() == []
