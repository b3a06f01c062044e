"""The dashboard tick asks the change marks first: 204 without reading a job row when nothing moved."""
from __future__ import annotations

import pytest

from services import jobs
from services.hosts import Host
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_dashboard import AF3, _refresh_payload

BIG = [Host(name="local", slots=100)]


@pytest.fixture
def queue(conn, settings):
    alice = users.get_by_name(conn, "alice")
    bob = users.create_user(conn, "bob", "bob-password-1")
    users.accept_terms(conn, bob.id)
    for i in range(5):
        jobs.submit(conn, settings, alice, AF3, name=f"alice-{i}")
    return alice, bob


def _tick(app, client, cursor):
    r = dash_post(client, _refresh_payload(app, cursor=cursor))
    return r.status_code, (r.get_json()["response"] if r.status_code == 200 else None)


def _traced(conn):
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    return seen


def test_unchanged_tick_reads_no_job_row(app, user_client, conn, settings, queue):
    _, out = _tick(app, user_client, None)
    cursor = out["dashboard-cursor"]["data"]
    seen = _traced(conn)
    status, _ = _tick(app, user_client, cursor)
    conn.set_trace_callback(None)
    assert status == 204
    job_reads = [s for s in seen if "jobs" in s and "change_counters" not in s]
    assert job_reads == [] and any("change_counters" in s for s in seen)


def test_someone_elses_queue_change_moves_shown_positions(app, user_client, conn, settings, queue):
    alice, bob = queue
    _, out = _tick(app, user_client, None)
    cursor = out["dashboard-cursor"]["data"]
    assert sorted(r["queue_position"] for r in out["dashboard-grid"]["rowData"]) == [1, 2, 3, 4, 5]
    jobs.claim_job(conn, settings, "w", BIG)  # alice's oldest starts running
    jobs.submit(conn, settings, bob, AF3, name="bob-0")  # bob runs nothing: he goes first
    status, out = _tick(app, user_client, cursor)
    assert status == 200
    # alice-0 runs and bob's job goes ahead of alice-1..4: their places are as they were, so only alice-0 is sent
    sent = out["dashboard-grid"]["rowTransaction"]["update"]
    assert [(r["name"], r["queue_position"]) for r in sent] == [("alice-0", None)]
    jobs.cancel_job(conn, bob, 6)  # now alice-1..4 move up one place, with no write to their rows
    status, out = _tick(app, user_client, out["dashboard-cursor"]["data"])
    sent = out["dashboard-grid"]["rowTransaction"]["update"]
    assert {r["name"]: r["queue_position"] for r in sent} == {"alice-4": 4, "alice-3": 3, "alice-2": 2, "alice-1": 1}
    assert _tick(app, user_client, out["dashboard-cursor"]["data"])[0] == 204


def test_queue_changes_do_not_reload_a_page_without_queued_jobs(app, user_client, conn, settings, queue):
    alice, bob = queue
    for j in range(1, 6):
        jobs.cancel_job(conn, alice, j)
    _, out = _tick(app, user_client, None)
    jobs.submit(conn, settings, bob, AF3, name="bob-0")
    assert _tick(app, user_client, out["dashboard-cursor"]["data"])[0] == 204


def test_writes_the_page_does_not_show_answer_204(app, user_client, conn, settings, queue):
    _, out = _tick(app, user_client, None)
    cursor = out["dashboard-cursor"]["data"]
    conn.execute("UPDATE jobs SET lease_expires = 1.0, log_seq = 3")
    assert _tick(app, user_client, cursor)[0] == 204
    conn.execute("UPDATE jobs SET stage = 'x' WHERE id = 1")  # shown: the cursor moves, rows are sent
    status, out = _tick(app, user_client, cursor)
    assert status == 200 and out["dashboard-cursor"]["data"]["jobs"] != cursor["jobs"]


def test_run_time_minute_reloads_a_running_page(app, user_client, conn, settings, queue):
    jobs.claim_job(conn, settings, "w", BIG)
    _, out = _tick(app, user_client, None)
    cursor = out["dashboard-cursor"]["data"]
    assert cursor["until"] is not None
    assert _tick(app, user_client, cursor)[0] == 204
    assert _tick(app, user_client, {**cursor, "until": 1.0})[0] == 200  # the minute turned: a new run time
