import pytest

from tests.browser.conftest import browser_login
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser]


def test_login001_admin_logs_in_sees_name_logs_out(live):
    dash_duo = live
    dash_duo.driver.get(dash_duo.server.url + "/")
    dash_duo.wait_for_element("#login-submit", timeout=10)  # the gate sent us to the login page
    assert "/login?next=/" in dash_duo.driver.current_url
    browser_login(dash_duo, "admin", ADMIN_PASSWORD)
    dash_duo.wait_for_text_to_equal("#nav-username", "admin", timeout=10)
    dash_duo.wait_for_text_to_equal("#nav-role", "admin", timeout=10)
    dash_duo.wait_for_contains_text("#dashboard-greeting", "admin", timeout=10)
    assert dash_duo.get_logs() == [], "the dashboard must load without browser console errors"
    dash_duo.find_element("#nav-logout").click()
    dash_duo.wait_for_element("#login-submit", timeout=10)
    dash_duo.driver.get(dash_duo.server.url + "/")
    dash_duo.wait_for_element("#login-submit", timeout=10)
    assert "/login?next=/" in dash_duo.driver.current_url


def test_login002_wrong_password_shows_message(live):
    dash_duo = live
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#username").send_keys("admin")
    dash_duo.find_element("#password").send_keys("not-the-password")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#login-error", "Wrong username or password", timeout=10)
