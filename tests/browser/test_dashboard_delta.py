"""The dashboard's row transactions in a real browser: only changed rows travel, and the grid stays right.

Every tick answer the page receives is recorded (a fetch wrapper); the grid's rows, in screen order
and cell by cell, are compared with the page drawn whole from the database (`load_page`).
"""
from __future__ import annotations

import json

import pytest

from dash_app.components.jobs.job_grid import load_page
from services import jobs
from services.people import users
from tests.browser.conftest import browser_login
from tests.browser.test_dashboard import AF3, _cell, _row_ids, _text
from tests.browser.test_job_page import wait_until
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Keep each /_dash-update-component answer of the grid tick (the body dash-renderer receives).
RECORD = """
window.__fdTicks = [];
const orig = window.fetch;
window.fetch = function (url, opts) {
  return orig.apply(this, arguments).then(function (r) {
    const body = opts ? String(opts.body) : '';
    if (String(url).indexOf('_dash-update-component') >= 0 && body.indexOf('dashboard-grid') >= 0) {
      r.clone().text().then(function (t) { window.__fdTicks.push({status: r.status, body: t}); });
    }
    return r;
  });
};
"""
COLUMNS = ("name", "state", "stage", "tokens", "submitted")


def _grid(dash_duo) -> list[dict]:
    """Return the rows the grid shows, top to bottom, as the cells' text."""
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.fd-job-grid .ag-center-cols-container .ag-row'))"
        ".sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))"
        ".map(r => { const o = {id: parseInt(r.getAttribute('row-id'), 10)};"
        f"  {list(COLUMNS)}.forEach(c => {{ const x = r.querySelector('.ag-cell[col-id=\"' + c + '\"]');"
        "    o[c] = x ? x.innerText.trim() : null; }); return o; });")


def _oracle(conn, user) -> list[dict]:
    return [{"id": r["id"], **{c: str(r[c]) for c in COLUMNS}} for r in load_page(conn, user).rows]


def _answers(dash_duo) -> list[dict]:
    return [json.loads(t["body"])["response"].get("dashboard-grid", {})
            for t in dash_duo.driver.execute_script("return window.__fdTicks") if t["status"] == 200]


def test_dashboard101_ticks_send_rows_not_pages(live, settings, conn):
    dash_duo = live
    alice = users.get_by_name(conn, "alice")
    made = [jobs.submit(conn, settings, alice, AF3, name=f"delta-{i:02d}") for i in range(52)]
    browser_login(dash_duo, "alice", USER_PASSWORD, "/")
    wait_until(lambda: len(_row_ids(dash_duo)) == 50, timeout=10)
    dash_duo.driver.execute_script(RECORD)
    # select the newest queued row (no other row's queue place hangs on it); a change elsewhere cancels it
    target = made[-1]
    _cell(dash_duo, target.id, "tokens").click()
    wait_until(lambda: dash_duo.find_element("#dashboard-cancel").is_enabled(), timeout=20)
    jobs.cancel_job(conn, alice, target.id)
    wait_until(lambda: _text(dash_duo, target.id, "state") == "cancelled", timeout=15)
    sent = [a for a in _answers(dash_duo) if a]
    assert sent and all("rowData" not in a for a in sent)  # no page was re-sent
    assert [r["id"] for a in sent for r in a["rowTransaction"].get("update", [])] == [target.id]
    # the selection survives the transaction and the actions follow the row's new state
    wait_until(lambda: dash_duo.find_element("#dashboard-retry").is_enabled(), timeout=10)
    assert not dash_duo.find_element("#dashboard-cancel").is_enabled()
    assert "Cancelled 1" in dash_duo.find_element("#dashboard-state").text
    wait_until(lambda: _grid(dash_duo) == _oracle(conn, alice), timeout=10)
    # two new jobs enter at the top, two old ones leave the page, in one transaction
    a = jobs.submit(conn, settings, alice, AF3, name="delta-new-a")
    b = jobs.submit(conn, settings, alice, AF3, name="delta-new-b")
    wait_until(lambda: _row_ids(dash_duo)[:2] == [b.id, a.id], timeout=15)
    wait_until(lambda: _grid(dash_duo) == _oracle(conn, alice), timeout=10)
    added = [a for a in _answers(dash_duo) if a.get("rowTransaction", {}).get("add")]
    assert added and all("rowData" not in a for a in _answers(dash_duo))
    # a header sort after the transactions: the server's order, drawn whole
    dash_duo.find_element('.ag-header-cell[col-id="name"] .ag-header-cell-label').click()
    wait_until(lambda: _row_ids(dash_duo) == [r["id"] for r in load_page(conn, alice, sort="name_asc").rows],
               timeout=10)
    assert dash_duo.get_logs() == []
