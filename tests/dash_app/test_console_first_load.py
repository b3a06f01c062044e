"""The job page stays small however long the log: the console's first lines come by the first poll
(issue 12 item 3); "load earlier" and the download still reach every line."""
from __future__ import annotations

import json
import sys

from dash_app.components import console as cons
from services import jobs
from services.jobs import joblog
from services.platform import defaults
from tests.conftest import dash_post
from tests.dash_app.test_second_user import _job_tick, router_body

AF3 = {"name": "big", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}


def _big_job(conn, settings, alice, n: int) -> jobs.Job:
    job = jobs.submit(conn, settings, alice, AF3)
    joblog.append_lines(conn, job.id, [f"I0101 00:00:00.000000 1 run.py:1] log line number {i:07d} of the run"
                                       for i in range(1, n + 1)])
    return job


def test_page_is_small_and_the_first_poll_brings_the_tail(app, user_client, conn, settings, alice):
    job_page = sys.modules["dash_app.pages.job"]
    job = _big_job(conn, settings, alice, 50_000)
    page = dash_post(user_client, router_body(f"/jobs/{job.id}"))
    assert page.status_code == 200 and len(page.data) < 50_000, len(page.data)
    assert "Loading log" in page.get_data(as_text=True) and "log line number" not in page.get_data(as_text=True)
    first = dash_post(user_client, _job_tick(app, job_page, {}, cons.fresh_cursor(job.id, 5000)))
    resp = first.json["response"]
    key = json.dumps(cons.cid("lines", "job"), sort_keys=True, separators=(",", ":"))
    blocks = resp[key]["children"]
    shown = [line["props"]["data-n"] for b in blocks for line in b["props"]["children"]]
    assert shown == list(range(50_001 - defaults.CONSOLE_FIRST_LINES, 50_001))  # the tail, in order
    cursor = resp[json.dumps(cons.cid("cursor", "job"), sort_keys=True, separators=(",", ":"))]["data"]
    assert cursor["last"] == 50_000 and cursor["cap"] == 5000
    earlier_key = json.dumps(cons.cid("earlier-wrap", "job"), sort_keys=True, separators=(",", ":"))
    assert resp[earlier_key]["hidden"] is False  # "load earlier" is offered
    # the next poll sends nothing: the tail is not sent twice
    assert dash_post(user_client, _job_tick(app, job_page, {"updated": job.updated_at, "state": "queued"},
                                            cursor)).status_code == 204


def test_first_poll_of_an_empty_log_replaces_the_placeholder(app, user_client, conn, settings, alice):
    job_page = sys.modules["dash_app.pages.job"]
    job = jobs.submit(conn, settings, alice, AF3)
    r = dash_post(user_client, _job_tick(app, job_page, {}, cons.fresh_cursor(job.id, 5000)))
    key = json.dumps(cons.cid("lines", "job"), sort_keys=True, separators=(",", ":"))
    assert r.json["response"][key]["children"] == []  # no "Loading log…" left: the empty-log message shows
