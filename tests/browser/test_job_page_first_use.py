"""The job page's header and failure as a person reads them: facts that line up at common widths, a failure
said in words (the traceback stays in the log), a paused queue named, a cancel dialog worded for a queued job."""
from __future__ import annotations

import pytest

from services import jobs
from services.people import users
from tests.browser.conftest import browser_login
from tests.browser.test_job_page import _submit, wait_until, worker  # noqa: F401 (worker is a fixture)
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAIRS = """return [...document.querySelectorAll('.fd-facts dt')].map(dt => {
    let dd = dt.nextElementSibling;
    const a = dt.getBoundingClientRect(), b = dd.getBoundingClientRect();
    return {label: dt.innerText, value: dd.innerText, dtLeft: a.left, ddLeft: b.left, dtBottom: a.bottom,
            ddTop: b.top, dtWidth: a.width, ddWidth: b.width};
});"""


@pytest.mark.parametrize("width", [1024, 1440])
def test_job101_facts_labels_sit_on_their_values(live, settings, conn, width):
    dash_duo = live
    job = _submit(conn, settings)
    dash_duo.driver.set_window_size(width, 900)
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_element(".fd-facts dt", timeout=10)
    assert dash_duo.driver.execute_script("return window.innerWidth") == width
    pairs = dash_duo.driver.execute_script(PAIRS)
    assert [p["label"].lower() for p in pairs] == ["owner", "submitted", "started", "finished", "run time", "host",
                                                   "attempt", "tokens"]
    for p in pairs:  # each value right under its own label, in the same column
        assert abs(p["dtLeft"] - p["ddLeft"]) < 1, p
        assert 0 <= p["ddTop"] - p["dtBottom"] < 12, p
    assert pairs[0]["value"] == "alice"


def test_job102_failure_in_words_paused_queue_and_cancel_wording(live, settings, conn, worker):  # noqa: F811
    dash_duo = live
    failing = _submit(conn, settings)
    running = worker(0, "--fail-at=inference")
    alice = users.get_by_name(conn, "alice")
    wait_until(lambda: jobs.get_job(conn, alice, failing.id).state is jobs.JobState.FAILED, timeout=30)
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{failing.id}")
    dash_duo.wait_for_text_to_equal("#job-error-headline", "Out of GPU memory during inference.", timeout=10)
    summary = dash_duo.find_element("#job-error").text
    assert "RESOURCE_EXHAUSTED" in summary and "Traceback" not in summary and 'File "' not in summary
    colours = dash_duo.driver.execute_script(  # the AF3 line reads in the alert's own colour, not pink on red
        "return [getComputedStyle(document.querySelector('#job-error')).color,"
        " getComputedStyle(document.querySelector('#job-error .fd-error-detail')).color]")
    assert colours[0] == colours[1], colours
    assert float(dash_duo.driver.execute_script(  # a finished job's Cancel looks as unusable as it is
        "return getComputedStyle(document.querySelector('#job-cancel')).opacity")) < 0.5
    dash_duo.wait_for_contains_text(".fd-console", "Traceback (most recent call last):", timeout=10)  # kept in the log
    assert "Out of GPU memory" in dash_duo.find_element("#job-stage").text

    running.stop()  # no worker from here: the next job stays queued
    waiting = _submit(conn, settings)
    dash_duo.driver.get(f"{dash_duo.server.url}/jobs/{waiting.id}")
    dash_duo.wait_for_contains_text("#job-stage", "no worker is running to start it", timeout=10)  # the claim's verdict
    jobs.pause_queue(conn, users.get_by_name(conn, "admin"))  # the open page learns it without a reload
    dash_duo.wait_for_contains_text("#job-stage", "queue paused by an admin", timeout=10)
    dash_duo.find_element("#job-cancel").click()
    dash_duo.wait_for_text_to_equal("#job-cancel-keep", "Keep it queued", timeout=20)
    assert "never starts" in dash_duo.find_element("#job-cancel-body").text
    dash_duo.find_element("#job-cancel-keep").click()
    jobs.resume_queue(conn, users.get_by_name(conn, "admin"))
    dash_duo.wait_for_contains_text("#job-stage", "no worker is running to start it", timeout=10)
    assert jobs.get_job(conn, users.get_by_name(conn, "alice"), waiting.id).state is jobs.JobState.QUEUED
    assert dash_duo.get_logs() == []


def test_job103_clone_opens_the_builder_with_a_copy(live, settings, conn):
    dash_duo = live
    job = _submit(conn, settings)
    browser_login(dash_duo, "alice", USER_PASSWORD, f"/jobs/{job.id}")
    dash_duo.wait_for_element("#job-clone", timeout=10).click()
    wait_until(lambda: dash_duo.driver.current_url.endswith(f"/builder?clone={job.id}"), timeout=10)
    wait_until(lambda: dash_duo.find_element("#builder-name").get_attribute("value") == f"{job.name} (copy)",
               timeout=10)
    alice = users.get_by_name(conn, "alice")
    assert jobs.list_jobs(conn, alice)[1] == 1  # nothing queued until the person submits
    assert dash_duo.get_logs() == []
