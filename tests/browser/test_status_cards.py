"""The status page in Chromium: a new sampler tick sends only the host cards that changed, and the page
ends up showing exactly the cards a fresh load draws."""
from __future__ import annotations

import json
import time

import pytest

from services.metrics.model import HostSnapshot
from services.metrics.store import SnapshotStore, cache_dir
from tests.browser.conftest import browser_login
from tests.browser.test_job_page import wait_until
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RECORD = """
window.__fdTicks = [];
const orig = window.fetch;
window.fetch = function (url, opts) {
  return orig.apply(this, arguments).then(function (r) {
    const body = opts ? String(opts.body) : '';
    if (String(url).indexOf('_dash-update-component') >= 0 && body.indexOf('status-cards') >= 0) {
      r.clone().text().then(function (t) { window.__fdTicks.push({status: r.status, body: t}); });
    }
    return r;
  });
};
"""
HOSTS = ("alpha", "beta", "gamma")


@pytest.fixture
def settings(settings):
    return settings.with_overrides(sample_interval=1.0)


def _put(store: SnapshotStore, cpu: dict[str, float]) -> None:
    now = time.time()
    store.put([HostSnapshot(host=h, ts=now, cpu_percent=c, mem_used_bytes=2**30, mem_total_bytes=4 * 2**30)
               for h, c in cpu.items()], now)


def _cards(dash_duo) -> dict[str, str]:
    return dash_duo.driver.execute_script(
        "const o = {}; document.querySelectorAll('#status-cards [data-host]').forEach("
        "  e => { o[e.getAttribute('data-host')] = e.innerText; }); return o;")


def test_status101_a_tick_patches_only_the_changed_card(live, settings):
    dash_duo = live
    store = SnapshotStore(cache_dir(settings.data_dir))
    try:
        _put(store, {"alpha": 11.0, "beta": 22.0, "gamma": 33.0})
        browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/status")
        wait_until(lambda: set(_cards(dash_duo)) == set(HOSTS), timeout=15)
        dash_duo.driver.execute_script(RECORD)
        # a tick that changes no card: its answer brings every card once (the cursor holds no card tokens yet)
        _put(store, {"alpha": 11.0, "beta": 22.0, "gamma": 33.0})
        wait_until(lambda: dash_duo.driver.execute_script(
            "return window.__fdTicks.filter(t => t.status === 200).length") >= 1, timeout=15)
        _put(store, {"alpha": 11.0, "beta": 77.0, "gamma": 33.0})  # only beta moved
        wait_until(lambda: "77 %" in _cards(dash_duo).get("beta", ""), timeout=15)
        patched = _cards(dash_duo)
        answers = [json.loads(t["body"])["response"].get("status-cards", {}).get("children")
                   for t in dash_duo.driver.execute_script("return window.__fdTicks") if t["status"] == 200]
        sent = [a for a in answers if a is not None]
        last = sent[-1]  # the answer that brought beta's change: a Patch of that card alone
        assert isinstance(last, dict) and [op["location"] for op in last["operations"]] == [[1]], last
        assert "11 %" in patched["alpha"] and "33 %" in patched["gamma"]
        dash_duo.driver.refresh()  # the oracle: the same tick drawn whole by a fresh load
        wait_until(lambda: set(_cards(dash_duo)) == set(HOSTS), timeout=15)
        assert _cards(dash_duo) == patched
        assert dash_duo.get_logs() == []
    finally:
        store.close()
