"""What a person does on the job page: watch a simulated run, cancel one, scroll the console."""
from __future__ import annotations

import sys
import threading

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from services import jobs
from services.af3 import load_json_text
from services.jobs import joblog
from services.people import users
from services.platform import db
from tests.browser.conftest import browser_login
from tests.conftest import ROOT, USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sim(speed: float, extra: str = "") -> str:
    return f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed={speed} {extra}"


@pytest.fixture
def worker(settings, running_worker):
    """Return start(speed, extra): an in-process worker running the simulator at that speed."""
    return lambda speed, extra="": running_worker(settings.with_overrides(af3_command=_sim(speed, extra)), poll=0.2)


def _submit(conn, settings) -> jobs.Job:
    doc = load_json_text((ROOT / "tests/fixtures/af3/protein_only.json").read_text())
    return jobs.submit_document(conn, settings, users.get_by_name(conn, "alice"), doc)[0]


def wait_until(condition, timeout: float = 10) -> None:
    """Wait for `condition()` to be true (poll every 0.1 s), else fail."""
    from dash.testing.wait import until

    until(condition, timeout)


def _line_count(dash_duo) -> int:
    return dash_duo.driver.execute_script("return document.querySelectorAll('.fd-console .fd-l').length")


def test_job001_watch_simulated_job_succeed(live, settings, conn, worker):
    dash_duo = live
    job = _submit(conn, settings)
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_contains_text("#job-state", "queued", timeout=10)
    # ~8 s run: 4.5 s of data pipeline, then recycles stretch inference to ~3 s so a 1.5 s poll sees it
    worker(50, "--num_recycles=2000")
    dash_duo.wait_for_contains_text("#job-state", "running", timeout=15)
    dash_duo.wait_for_contains_text("#job-stage", "MSA running", timeout=15)
    texts = set()
    for _ in range(80):  # sample the stage bar while it moves (one script call: the text is re-rendered)
        texts.add(dash_duo.driver.execute_script("return document.querySelector('#job-stage').innerText"))
        if "succeeded" in dash_duo.driver.execute_script("return document.querySelector('#job-state').innerText"):
            break
        threading.Event().wait(0.2)
    dash_duo.wait_for_contains_text("#job-state", "succeeded", timeout=20)
    # AF3's own stages as the tracker parses them from the log: per chain, then per seed
    # the default simulator runs two stages (issue 16): the search in a CPU slot, then inference
    assert any(t.startswith("MSA running · chain A") for t in texts), texts
    assert any(t.startswith("inference · seed ") for t in texts), texts
    # (the numpy simulator writes its outputs in a few hundred ms: a 0.2 s sampler may miss that last stage)
    dash_duo.wait_for_contains_text(".fd-console", "Job succeeded.", timeout=10)
    assert _line_count(dash_duo) == joblog.last_seq(db.connect(settings.db_path), job.id)  # every line, once
    assert dash_duo.find_element(".fd-console .fd-l.fd-success")  # level-coloured
    dash_duo.wait_for_contains_text("#job-results-card", "Ranking score", timeout=20)  # filled after first paint
    assert dash_duo.get_logs() == []  # no browser console errors along the way


def test_job002_cancel_running_job(live, settings, conn, worker):
    dash_duo = live
    job = _submit(conn, settings)
    worker(5)  # minutes-long run: it is surely still running when we cancel
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_contains_text("#job-state", "running", timeout=15)
    dash_duo.find_element("#job-cancel").click()
    dash_duo.wait_for_element("#job-cancel-confirm", timeout=20).click()
    dash_duo.wait_for_contains_text("#job-state", "cancelled", timeout=20)
    dash_duo.wait_for_contains_text(".fd-console", "Cancel requested by alice.", timeout=10)
    assert jobs.get_job(conn, users.get_by_name(conn, "alice"), job.id).state is jobs.JobState.CANCELLED


def test_job003_scroll_up_stops_follow_and_jump_to_end(live, settings, conn):
    dash_duo = live
    job = _submit(conn, settings)
    joblog.append_lines(conn, job.id, [f"early line {i}" for i in range(400)])
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_contains_text(".fd-console", "early line 399", timeout=10)
    js_bottom = "var b=document.querySelector('.fd-console');return b.scrollHeight-b.scrollTop-b.clientHeight;"
    assert dash_duo.driver.execute_script(js_bottom) < 30  # it follows the tail
    dash_duo.driver.execute_script("document.querySelector('.fd-console').scrollTop = 0")
    jump = dash_duo.wait_for_element(".fd-console-jump", timeout=20)
    wait_until(lambda: jump.is_displayed(), timeout=20)
    joblog.append_lines(conn, job.id, [f"late line {i}" for i in range(50)])
    wait_until(lambda: _line_count(dash_duo) == 450, timeout=10)
    assert dash_duo.driver.execute_script("return document.querySelector('.fd-console').scrollTop") == 0  # stayed
    jump.send_keys(Keys.ENTER)  # by keyboard: Dash's debug badge covers that corner in tests
    wait_until(lambda: dash_duo.driver.execute_script(js_bottom) < 30, timeout=20)
    wait_until(lambda: not jump.is_displayed(), timeout=20)
    # the filter box and a level toggle act on the lines in the page
    box = dash_duo.find_element("#console-filter-job")
    box.send_keys("late line 4")
    wait_until(lambda: len([e for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".fd-console .fd-l")
                                     if e.is_displayed()]) == 11, timeout=20)


def test_job004_other_users_job_is_not_found(live, settings, conn):
    dash_duo = live
    job = _submit(conn, settings)
    joblog.append_lines(conn, job.id, ["secret alice line"])
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    browser_login(dash_duo, "bob", "bob-password-1", f"/jobs/{job.id}")
    dash_duo.wait_for_contains_text("#job-not-found", "Job not found", timeout=10)
    assert "secret alice line" not in dash_duo.driver.page_source
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, ".fd-console")
