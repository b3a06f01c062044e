"""What an admin does in the browser: find a user's failed logins and disable that user; pause the
queue, watch a submitted job wait, resume and watch it run (a real worker runs the simulator); cancel
a job only after confirming the dialog that names it and its owner."""
from __future__ import annotations

import threading
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from services import jobs
from services.hosts import Host
from services.people import users
from services.platform import applog, db, heartbeat
from services.running.worker import Worker
from tests.browser.conftest import browser_login
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_until(predicate, timeout: float = 20, what: str = "condition") -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_admin001_failed_logins_then_disable_user(live, app, settings):
    dash_duo = live
    conn = db.connect(settings.db_path)
    alice_session = app.server.test_client()
    assert login(alice_session, "alice", USER_PASSWORD).status_code == 302
    for address in ("10.0.0.7", "10.0.0.8"):
        assert users.authenticate(conn, "alice", "guessing-wrong", address) is None
    users.authenticate(conn, "admin", "also-wrong-pw", "10.0.0.9")  # someone else's failure: filtered out
    assert applog.flush()

    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/admin/logs")
    dash_duo.wait_for_contains_text("#admin-logs-page-info", "of", timeout=10)
    dash_duo.driver.find_element(By.XPATH, "//*[@id='admin-logs-levels']//label[text()='Warning']").click()
    dash_duo.find_element("#admin-logs-user").send_keys("alice", Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#admin-logs-page-info", "1–2 of 2", timeout=10)
    grid = dash_duo.find_element("#admin-logs-grid").text
    assert "login failed for alice from 10.0.0.8: wrong password" in grid and "10.0.0.7" in grid
    assert "admin from 10.0.0.9" not in grid
    assert dash_duo.find_element("#admin-logs-count-warning").text == "Warning 2"
    assert dash_duo.find_element("#admin-logs-count-info").text == "Info 0"  # only the chosen level counts

    dash_duo.driver.get(dash_duo.server.url + "/admin/users")
    cell = "//*[@id='admin-users-grid']//div[@col-id='username' and normalize-space()='alice']"
    wait_until(lambda: dash_duo.driver.find_elements(By.XPATH, cell), what="alice in the users grid")
    dash_duo.driver.find_element(By.XPATH, cell).click()
    dash_duo.wait_for_text_to_equal("#admin-users-manage-title", "alice", timeout=10)
    dash_duo.wait_for_text_to_equal("#admin-users-toggle", "Disable", timeout=10)
    dash_duo.find_element("#admin-users-toggle").click()
    dash_duo.wait_for_contains_text("#admin-users-alert", "alice is now disabled", timeout=10)
    dash_duo.wait_for_text_to_equal("#admin-users-state-badge", "disabled", timeout=10)

    assert alice_session.get("/_dash-layout").status_code == 401  # her next request is refused
    assert alice_session.get("/").status_code == 302
    assert applog.flush()
    audit, _ = applog.query(conn, applog.LogFilters(source="admin"), 0, 5)
    assert audit[0].username == "admin" and audit[0].message == "admin: disable user 'alice' (ends their sessions)"


@pytest.fixture
def worker(settings):
    """A real worker on the local host (one slot) running the bundled AF3 simulator, beating as the worker
    process it stands for (services.platform.boot starts that heartbeat in `python -m services.running.worker`)."""
    w = Worker(settings, hosts=[Host(name="local", slots=1)], poll=0.2)
    beat = heartbeat.Heartbeat(settings.db_path, "worker").start()
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    yield w
    w.stop()
    thread.join(30)
    beat.stop()


def test_admin002_pause_queue_job_waits_then_resume_runs_it(live, settings, worker):
    dash_duo = live
    conn = db.connect(settings.db_path)
    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/admin/queue")
    dash_duo.wait_for_text_to_equal("#admin-queue-toggle", "Pause queue", timeout=10)
    wait_until(lambda: "local" in dash_duo.find_element("#admin-queue-slots").text, what="the local host's slots")
    dash_duo.find_element("#admin-queue-toggle").click()
    dash_duo.wait_for_contains_text("#admin-queue-status", "Paused by admin", timeout=10)
    dash_duo.wait_for_text_to_equal("#admin-queue-toggle", "Resume queue", timeout=10)

    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, alice, {"name": "waits-for-resume", "modelSeeds": [1], "dialect": "alphafold3",
                                              "version": 1, "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]})
    dash_duo.wait_for_contains_text("#admin-queue-grid", "waits-for-resume", timeout=10)
    time.sleep(1.5)  # several worker polls (0.2 s) while paused
    assert "queued" in dash_duo.find_element("#admin-queue-grid").text
    assert jobs.get_job(conn, alice, job.id).state is jobs.JobState.QUEUED
    assert "Queued 1" in dash_duo.find_element("#admin-queue-counts").text

    dash_duo.find_element("#admin-queue-toggle").click()
    dash_duo.wait_for_contains_text("#admin-queue-status", "Workers start queued jobs", timeout=10)
    wait_until(lambda: any(t in dash_duo.find_element("#admin-queue-counts").text
                           for t in ("Running 1", "Succeeded 1")),
               timeout=30, what="the job to run")
    wait_until(lambda: jobs.get_job(conn, alice, job.id).state is jobs.JobState.SUCCEEDED, timeout=60,
               what="the job to succeed")
    dash_duo.wait_for_contains_text("#admin-queue-counts", "Succeeded 1", timeout=10)


def test_admin003_cancel_asks_first_then_cancels_on_ok(live, settings):
    dash_duo = live
    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, alice, {"name": "cancel-me", "modelSeeds": [1], "dialect": "alphafold3",
                                              "version": 1, "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]})
    browser_login(dash_duo, "admin", ADMIN_PASSWORD, "/admin/queue")
    cell = "//*[@id='admin-queue-grid']//div[@col-id='name' and normalize-space()='cancel-me']"
    wait_until(lambda: dash_duo.driver.find_elements(By.XPATH, cell), what="the job in the queue grid")
    dash_duo.driver.find_element(By.XPATH, cell).click()

    dash_duo.find_element("#admin-queue-cancel").click()
    dialog = WebDriverWait(dash_duo.driver, 10).until(EC.alert_is_present())
    assert f"Cancel job #{job.id} (cancel-me), owned by alice?" in dialog.text
    dialog.dismiss()  # must not cancel anything: if it did, the OK below would find the job finished and say so

    dash_duo.find_element("#admin-queue-cancel").click()
    WebDriverWait(dash_duo.driver, 10).until(EC.alert_is_present()).accept()
    dash_duo.wait_for_contains_text("#admin-queue-alert", f"Job {job.id} (cancel-me, alice) is cancelled.", timeout=10)
    assert jobs.get_job(conn, alice, job.id).state is jobs.JobState.CANCELLED
    assert "already" not in dash_duo.find_element("#admin-queue-alert").text
