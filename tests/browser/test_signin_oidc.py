"""A person signs in with the institution's OpenID Connect provider in the real browser: the button on the
login page, the provider's own login and consent pages (panva's oidc-provider on loopback), back to the
dashboard; an admin group member sees the admin pages; out of the group, the next sign-in shows a plain refusal."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from dash_app import create_app
from tests.conftest import free_port
from tests.support import oidc_server

pytestmark = [pytest.mark.browser, pytest.mark.service,
              pytest.mark.skipif(bool(oidc_server.available()), reason=str(oidc_server.available()))]

ACCOUNTS = {"dave-sub": {"preferred_username": "dave", "email": "dave@uni.example",
                         "groups": ["folddeck-users", "folddeck-admins"]}}


@pytest.fixture
def oidc_live(tolerate_runner_kill, dash_duo, settings, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = oidc_server.start(tmp_path / "op", [base + "/login/oidc/callback"], ACCOUNTS, [base + "/login"])
    s = settings.with_overrides(oidc_discovery_url=provider.discovery_url, oidc_client_id=oidc_server.CLIENT_ID,
                                oidc_client_secret=oidc_server.CLIENT_SECRET, oidc_label="Example University",
                                sso_login_group="folddeck-users", sso_admin_group="folddeck-admins")
    dash_duo.start_server(create_app(s), navigate=False, host="127.0.0.1", port=port)
    yield dash_duo, provider, base  # 127.0.0.1, the registered redirect (dash_duo's own url says localhost)
    provider.stop()


def at_provider(dash_duo, login: str) -> None:
    """Do what the person does on the provider's pages: type the login, then press Continue on consent."""
    dash_duo.wait_for_element("input[name=login]", timeout=15).send_keys(login)
    dash_duo.driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys("any-password")
    dash_duo.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    dash_duo.wait_for_contains_text("button[type=submit]", "Continue", timeout=15)
    dash_duo.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_signin001_new_person_signs_in_with_the_institution_and_is_admin(oidc_live):
    dash_duo, provider, base = oidc_live
    dash_duo.driver.get(base + "/")
    dash_duo.wait_for_contains_text("#login-sso", "Sign in with Example University", timeout=10)
    dash_duo.find_element("#login-sso").click()
    at_provider(dash_duo, "dave-sub")
    dash_duo.wait_for_text_to_equal("#nav-username", "dave", timeout=15)
    dash_duo.wait_for_text_to_equal("#nav-role", "admin", timeout=10)
    dash_duo.wait_for_contains_text("#dashboard-greeting", "dave", timeout=10)
    dash_duo.wait_for_element("#nav-admin_users", timeout=10)  # the admin pages are in the menu
    # out of the group at the provider; after logging out, the next sign-in is refused in plain words
    provider.set_accounts({"dave-sub": {**ACCOUNTS["dave-sub"], "groups": ["alumni"]}})
    dash_duo.find_element("#nav-logout").click()  # FoldDeck's session ends; the provider asks to confirm its own
    dash_duo.driver.get(base + "/login")
    dash_duo.wait_for_element("#login-sso", timeout=10)
    dash_duo.find_element("#login-sso").click()  # the provider still knows dave: straight back with his new groups
    dash_duo.wait_for_contains_text("#login-error", "not in the group allowed to use FoldDeck", timeout=15)
    dash_duo.driver.get(base + "/")
    dash_duo.wait_for_element("#login-sso", timeout=10)
    assert "/login?next=/" in dash_duo.driver.current_url
