"""Status page in Chromium: local + a real SSH host with 2 fake GPUs + a host that is down."""
from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from services import jobs
from services.operations.sampler import Sampler
from services.platform import db
from tests.browser.conftest import browser_login
from tests.conftest import ADMIN_PASSWORD, free_port

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow]


@pytest.fixture
def settings(settings, sshd):
    """Settings with two SSH hosts (one reachable, one with nothing listening) and a 1 s tick."""
    hosts = settings.data_dir / "hosts.toml"
    hosts.write_text(f"""
[[host]]
name = "gpu1"
address = "{sshd['host']}"
port = {sshd['port']}
user = "{sshd['user']}"
key_file = "{sshd['key']}"

[[host]]
name = "dead"
address = "127.0.0.1"
port = {free_port()}
user = "nobody"
""")
    return settings.with_overrides(sample_interval=1.0, known_hosts=Path(sshd["known_hosts"]))


@pytest.fixture
def sampler(settings):
    s = Sampler(settings)
    s.tick()
    stop = threading.Event()
    thread = threading.Thread(target=s.run_forever, args=(stop,), daemon=True)
    thread.start()
    yield s
    stop.set()
    thread.join(5)
    s.close()


def card_text(dash_duo, host: str, css: str) -> str:
    """Return a card element's text in one script call (cards re-render every sampler tick: no stale handle)."""
    dash_duo.wait_for_element(f'[data-host="{host}"] {css}', timeout=10)
    return dash_duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", f'[data-host="{host}"] {css}')


def trace_len(dash_duo, chart: str) -> int:
    return dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{chart} .js-plotly-plot'); "
        "return g && g.data.length ? g.data[0].x.length : -1;")


def last_x(dash_duo, chart: str):
    return dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{chart} .js-plotly-plot'); "
        "return g && g.data.length ? g.data[0].x[g.data[0].x.length - 1] : null;")


def test_status001_cards_charts_and_a_down_host(live, sampler, settings):
    dash_duo = live
    # a worker failed to reach "dead": it rests, and the card says until when
    jobs.mark_host_down(db.connect(settings.db_path), "dead", "connection refused")
    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/status")
    dash_duo.wait_for_text_to_equal('[data-host="local"] .fd-host-state', "up", timeout=45)
    dash_duo.wait_for_text_to_equal('[data-host="gpu1"] .fd-host-state', "up", timeout=45)
    dash_duo.wait_for_text_to_equal('[data-host="dead"] .fd-host-state', "down", timeout=45)
    assert "cannot connect" in card_text(dash_duo, "dead", ".fd-host-reason")
    assert card_text(dash_duo, "dead", ".fd-host-resting") == "resting"
    assert "connection refused · retrying at" in card_text(dash_duo, "dead", ".fd-host-backoff")
    assert dash_duo.find_elements('[data-host="gpu1"] .fd-host-resting') == []
    assert dash_duo.find_elements("#status-sampler-alert") == []  # the sampler ticks every second
    assert len(dash_duo.find_elements('[data-host="gpu1"] .fd-gpu')) == 2
    assert "°C" in card_text(dash_duo, "gpu1", ".fd-gpu-temp-power")
    assert "no GPU" in card_text(dash_duo, "local", ".fd-gpu-note")
    # local is the default chart host: CPU history drawn, then extended live by extendData
    dash_duo.wait_for_element("#status-chart-cpu .js-plotly-plot", timeout=15)
    first = trace_len(dash_duo, "status-chart-cpu")
    assert first >= 1
    WebDriverWait(dash_duo.driver, 15).until(lambda _: trace_len(dash_duo, "status-chart-cpu") >= first + 2)
    # the newest point reads as the server's local wall clock, like every other time in the UI
    newest = datetime.strptime(last_x(dash_duo, "status-chart-cpu"), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    assert abs(newest - time.time()) < 10
    assert not dash_duo.find_element("#status-gpu-section").is_displayed()  # local has no GPU
    # switching to gpu1 draws one line per GPU
    dash_duo.select_dcc_dropdown("#status-host", value="gpu1")
    WebDriverWait(dash_duo.driver, 15).until(lambda _: dash_duo.driver.execute_script(
        "const g = document.querySelector('#status-chart-gpu-util .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name).join(',') : '';") == "GPU 0,GPU 1")
    assert dash_duo.find_element("#status-gpu-section").is_displayed()
    assert dash_duo.get_logs() == [], "browser console errors"


def test_status002_plain_user_sees_page(live, sampler):
    from tests.conftest import USER_PASSWORD

    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/status")
    dash_duo.wait_for_text_to_equal('[data-host="gpu1"] .fd-host-state', "up", timeout=45)
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".fd-gpu-procs") == []
