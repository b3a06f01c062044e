"""'Not before' on the builder (issue 18): the job is queued with it, in the same transaction, and waits."""
from __future__ import annotations

import time
from datetime import datetime

from dash_app import builder as B
from services import jobs
from services.hosts import Host
from services.jobs.rules import waiting
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_upload_page import payload


def submit(client, app, state, not_before):
    body = payload(app, "shell-url.href", [("builder-submit", "n_clicks", 1)],
                   [("builder-state", "data", state), ("builder-submit-key", "data", "nb1"),
                    ("builder-terms-accept", "value", True), ("builder-not-before", "value", not_before),
                    ("builder-search-again", "value", False), ("builder-engines", "value", ["af3"])])
    return dash_post(client, body)


def test_builder_not_before(user_client, app, conn, settings):
    state = {**B.update_entity(B.empty_state(), 0, sequence="MKVLAAGIVALLLA"), "name": "later"}
    bad = submit(user_client, app, state, "tomorrow-ish")
    assert "must be a date and time" in bad.get_data(as_text=True)
    later = datetime.fromtimestamp(time.time() + 7200).replace(second=0, microsecond=0)
    r = submit(user_client, app, state, later.strftime("%Y-%m-%dT%H:%M"))
    assert r.status_code == 200
    [job] = jobs.list_jobs(conn, users.get_by_name(conn, "alice"))[0]
    assert job.not_before == later.timestamp()
    jobs.register_worker(conn, "w", "t", 1)
    assert jobs.claim_job(conn, settings, "w", [Host(name="local", slots=1)]) is None
    assert waiting.reason(conn, settings, job).startswith("waiting: not before ")
