"""Browser fixtures: a live FoldDeck on a free loopback port, and a login helper."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import free_port


@pytest.fixture
def live(dash_duo, app):
    """Start the app for dash_duo and return the runner (base URL: `dash_duo.server.url`)."""
    dash_duo.start_server(app, navigate=False, host="127.0.0.1", port=free_port())
    return dash_duo


def browser_login(dash_duo, username: str, password: str, path: str = "/") -> None:
    """Log in through the real form, landing on `path`."""
    dash_duo.driver.get(f"{dash_duo.server.url}/login?next={path}")
    dash_duo.wait_for_element("#username", timeout=10).send_keys(username)
    dash_duo.driver.find_element(By.ID, "password").send_keys(password)
    dash_duo.driver.find_element(By.ID, "login-submit").click()
    dash_duo.wait_for_element("#nav-username", timeout=15)
