"""Bytes a cold dashboard load transfers, from a real browser's network log (headless Chromium).

Used by bench/bench_polls.py. Logs in through the form, empties the browser's cache, opens `/` and
waits until the grid shows its rows, the icon font is loaded and the network has been idle for a
second; then sums Chromium's `encodedDataLength` (bytes on the wire, headers included) of every
request of that load: the page, its scripts and styles, the AG Grid chunk the grid loads afterwards,
the fonts, the layout and the first callbacks. Each item's Cache-Control is listed with it.
"""
from __future__ import annotations

import json
import time

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.conftest import CHROMIUM_BINARY, CHROMIUM_FLAGS


def _driver() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM_BINARY
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(options=options)


def _events(driver) -> list[dict]:
    return [json.loads(e["message"])["message"] for e in driver.get_log("performance")]


def _settle(driver, deadline_s: float = 60) -> list[dict]:
    """Return the network events until the grid has rows, the icon font is in and nothing moved for 1 s."""
    events: list[dict] = []
    deadline = time.monotonic() + deadline_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        new = _events(driver)
        events += new
        now = time.monotonic()
        if any(e["method"].startswith("Network.") for e in new):
            quiet_since = now
        ready = driver.execute_script(
            "return document.querySelectorAll('.fd-job-grid .ag-row').length > 0"
            " && document.fonts.check('16px bootstrap-icons') && document.fonts.status === 'loaded'")
        if ready and now - quiet_since >= 1.0:
            return events
        time.sleep(0.2)
    raise RuntimeError("the dashboard did not settle")


def _tally(events: list[dict]) -> dict:
    urls, sizes, cache, cached = {}, {}, {}, set()
    for e in events:
        p = e["params"]
        if e["method"] == "Network.requestWillBeSent":
            urls[p["requestId"]] = p["request"]["url"]
        elif e["method"] == "Network.responseReceived":
            r = p["response"]
            headers = {k.lower(): v for k, v in r.get("headers", {}).items()}
            cache[p["requestId"]] = headers.get("cache-control", "")
            if r.get("fromDiskCache") or r.get("fromMemoryCache"):
                cached.add(p["requestId"])
        elif e["method"] == "Network.requestServedFromCache":
            cached.add(p["requestId"])
        elif e["method"] == "Network.loadingFinished":
            sizes[p["requestId"]] = p["encodedDataLength"]
    items = sorted(((sizes[r], urls.get(r, "?"), cache.get(r, ""), r in cached) for r in sizes), reverse=True)
    return {"bytes": sum(s for s, _, _, c in items if not c), "requests": len(items), "items": items}


def measure(base_url: str, username: str, password: str) -> dict:
    """Return the cold dashboard load: bytes on the wire, requests, the largest items."""
    driver = _driver()
    try:
        driver.get(f"{base_url}/login")
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        deadline = time.monotonic() + 30
        while not driver.find_elements(By.CSS_SELECTOR, ".fd-job-grid .ag-row") and time.monotonic() < deadline:
            time.sleep(0.2)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.get("about:blank")
        _events(driver)  # drop what the login produced
        driver.get(f"{base_url}/")
        return {"cold": _tally(_settle(driver))}
    finally:
        driver.quit()


def report(found: dict, limit_mb: float = 1.2) -> list[str]:
    """Return the lines bench_polls prints about a cold load."""
    cold = found["cold"]
    lines = [f"cold dashboard load (Chromium's network log, cache emptied): {cold['bytes'] / 1e6:.2f} MB in "
             f"{cold['requests']} requests (target < {limit_mb} MB: "
             f"{'OK' if cold['bytes'] < limit_mb * 1e6 else 'MISSED'})"]
    for size, url, cache, _ in cold["items"][:8]:
        lines.append(f"    {size / 1e3:8.1f} KB  {url.split('?')[0][-70:]:<70}  {cache[:40]}")
    return lines
