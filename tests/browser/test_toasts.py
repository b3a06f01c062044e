"""A toast appears in the browser when the user's job ends (riding on the navbar's slow poll)."""
from __future__ import annotations

import sys
import time

import pytest

from services import jobs
from services.people import users
from services.platform import db, defaults
from tests.browser.conftest import browser_login
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
INPUT = {"name": "Toast test", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def test_toast001_job_end_shows_a_toast(monkeypatch, settings, live, running_worker):
    monkeypatch.setattr(defaults, "TOAST_POLL_MS", 1000)  # the navbar reads it when it renders
    dash_duo = live
    browser_login(dash_duo, "alice", USER_PASSWORD, "/account")
    dash_duo.wait_for_element("#toast-area", timeout=10)
    conn = db.connect(settings.db_path)
    alice, admin = users.get_by_name(conn, "alice"), users.get_by_name(conn, "admin")
    dash_duo.wait_for_element("#account-email", timeout=10)
    job = jobs.submit(conn, settings, alice, INPUT, accept_terms=True)
    running_worker(settings.with_overrides(af3_command=SIM))  # may finish before the first tick: still shown
    dash_duo.wait_for_contains_text("#toast-area", f"Job {job.id} (Toast test) succeeded.", timeout=30)
    jobs.mark_host_down(conn, "gpu9", "connection refused")  # admins only: alice sees nothing of it
    other = jobs.submit(conn, settings, alice, {**INPUT, "name": "Cancelled"}, accept_terms=True)
    jobs.cancel_job(conn, admin, other.id)  # an admin's cancel is news for the owner too
    dash_duo.wait_for_contains_text("#toast-area", "Cancelled", timeout=15)
    assert "gpu9" not in dash_duo.find_element("#toast-area").text  # written before the cancel: same tick or earlier
    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#account-email", timeout=10)
    time.sleep(2.5)  # a couple of ticks after the reload
    assert "Toast test" not in dash_duo.find_element("#toast-area").text  # shown once, not again after a reload
    assert dash_duo.get_logs() == []
