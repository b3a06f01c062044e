"""The admin calendar page creates a maintenance window (issue 18), and a queued job then says why it waits."""
from __future__ import annotations

from datetime import date

import pytest

from services import jobs
from services.operations import maintenance
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.conftest import ADMIN_PASSWORD
from tests.services.test_jobs import af3

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _type(dash_duo, selector: str, value: str) -> None:
    """Set a date/time input's value the way a picker does (typing into them is locale-dependent)."""
    el = dash_duo.find_element(selector)
    dash_duo.driver.execute_script(
        "const s = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
        "s.call(arguments[0], arguments[1]); arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        el, value)


def test_maintenance001_calendar_creates_a_window(live, settings):
    dash_duo = live
    conn = db.connect(settings.db_path)
    today = date.today().isoformat()
    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/admin/maintenance")
    dash_duo.wait_for_element(f"td[data-day='{today}']", timeout=15)
    _type(dash_duo, "#admin-maintenance-day", today)
    _type(dash_duo, "#admin-maintenance-start", "00:00")
    _type(dash_duo, "#admin-maintenance-end", "23:59")
    dash_duo.find_element("#admin-maintenance-note").send_keys("driver update")
    dash_duo.find_element("#admin-maintenance-create").click()
    dash_duo.wait_for_contains_text("#admin-maintenance-alert", "is in maintenance on", timeout=15)
    dash_duo.wait_for_contains_text(f"td[data-day='{today}']", "local 00:00", timeout=15)
    [w] = maintenance.windows(conn, 0, 1e12)
    assert w.host == "local" and w.note == "driver update" and w.created_by == "admin"
    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, alice, af3())
    from services.jobs.rules import waiting

    assert waiting.reason(conn, settings, job).startswith("waiting: local in maintenance until ")


def test_maintenance002_owner_renames_pins_and_deletes_from_the_job_page(live, settings):
    from tests.conftest import USER_PASSWORD
    from tests.services.test_jobs_manage import finished

    dash_duo = live
    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    job = finished(conn, settings, alice, "to delete")
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_element("#job-pin", timeout=15).click()
    dash_duo.wait_for_contains_text("#job-manage-alert", "Pinned", timeout=10)
    assert jobs.get_job(conn, alice, job.id).pinned
    dash_duo.find_element("#job-delete").click()
    dash_duo.wait_for_element("#job-delete-confirm", timeout=10).click()
    dash_duo.wait_for_element("#dashboard-greeting", timeout=15)
    assert conn.execute("SELECT COUNT(*) FROM jobs WHERE id = ?", (job.id,)).fetchone()[0] == 0
    assert not (settings.jobs_dir / str(job.id)).exists()
