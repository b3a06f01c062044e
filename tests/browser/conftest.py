"""Browser fixtures: a live FoldDeck on a free loopback port, and a login helper."""
from __future__ import annotations

import threading

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import free_port


@pytest.fixture
def tolerate_runner_kill():
    """Ignore the SystemExit dash's ThreadedRunner raises in every thread started while its server ran.

    Its stop() kills all threads newer than the server (ours included, e.g. the application-log
    writer or an in-process worker) with an async SystemExit; that is the runner's shutdown, not
    a bug. Any other exception in a thread is still reported. Set up before dash_duo so it is
    torn down after dash_duo's stop().
    """
    previous = threading.excepthook

    def hook(args):
        if args.exc_type is not SystemExit:
            previous(args)

    threading.excepthook = hook
    yield
    threading.excepthook = previous


@pytest.fixture
def live(tolerate_runner_kill, dash_duo, app):
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
