"""Delete, rename, pin from the job page (issue 18): the real callback, posted as dash-renderer does.

Bob posts it with alice's job id in the console cursor: nothing of hers changes. Alice's own
posts delete, rename and pin her job.
"""
from __future__ import annotations

import json

import pytest

from dash_app.components import console as cons
from dash_app.components.jobs import job_manage as jm
from services import jobs
from tests.conftest import dash_post
from tests.dash_app import test_second_user as su
from tests.dash_app.test_second_user import SECRET_NAME, assert_nothing_of_alice, callback_body

# the second-user file's fixtures: alice's finished job with secret files, both logged in (bob: conftest)
bob_client, alice_client, alice_job = su.bob_client, su.alice_client, su.alice_job

CCUR = json.dumps(cons.cid("cursor", "job"), sort_keys=True, separators=(",", ":"))


def manage_body(app, job_id: int, trigger: str, name: str = "renamed") -> dict:
    return callback_body(app, f"{jm.ALERT}.children",
                         {f"{trigger}.n_clicks": 1, f"{jm.RENAME}.value": name,
                          f"{CCUR}.data": cons.fresh_cursor(job_id, 5000)}, trigger=f"{trigger}.n_clicks")


@pytest.mark.parametrize("button", [jm.DELETE_CONFIRM, jm.RENAME_SAVE, jm.PIN])
def test_bob_cannot_touch_alices_job(app, bob_client, conn, settings, alice_job, button):
    r = dash_post(bob_client, manage_body(app, alice_job.id, button, "bob's now"))
    assert_nothing_of_alice(r)
    assert "was not found" in r.get_data(as_text=True)
    after = conn.execute("SELECT name, pinned FROM jobs WHERE id = ?", (alice_job.id,)).fetchone()
    assert tuple(after) == (SECRET_NAME, 0)
    assert (settings.jobs_dir / str(alice_job.id) / "attempt-1").exists()


def test_owner_renames_pins_and_deletes(app, alice_client, conn, settings, alice, alice_job):
    assert dash_post(alice_client, manage_body(app, alice_job.id, jm.RENAME_SAVE, "my fold")).status_code == 200
    assert jobs.get_job(conn, alice, alice_job.id).name == "my fold"
    r = dash_post(alice_client, manage_body(app, alice_job.id, jm.PIN))
    assert "Unpin" in r.get_data(as_text=True) and jobs.get_job(conn, alice, alice_job.id).pinned
    r = dash_post(alice_client, manage_body(app, alice_job.id, jm.DELETE_CONFIRM))
    assert r.status_code == 200 and r.get_json()["response"][jm.NAV]["href"] == "/"
    assert conn.execute("SELECT COUNT(*) FROM jobs WHERE id = ?", (alice_job.id,)).fetchone()[0] == 0
    assert not (settings.jobs_dir / str(alice_job.id)).exists()


def dashboard_body(app, job_id: int, trigger: str) -> dict:
    key = next(k for k, spec in app.callback_map.items() if spec["inputs"][0]["id"] == "dashboard-delete-confirm"
               and "dashboard-retention" in k)
    return {"output": key, "outputs": [{"id": "dashboard-alert", "property": "children"},
                                       {"id": "dashboard-interval", "property": "n_intervals"},
                                       {"id": "dashboard-retention", "property": "children"}],
            "inputs": [{"id": "dashboard-delete-confirm", "property": "n_clicks", "value": 1},
                       {"id": "dashboard-pin", "property": "n_clicks", "value": 1}],
            "state": [{"id": "dashboard-grid", "property": "selectedRows", "value": [{"id": job_id}]},
                      {"id": "dashboard-interval", "property": "n_intervals", "value": 3}],
            "changedPropIds": [f"{trigger}.n_clicks"]}


@pytest.mark.parametrize("button", ["dashboard-delete-confirm", "dashboard-pin"])
def test_dashboard_delete_and_pin(app, bob_client, alice_client, conn, settings, alice, alice_job, button):
    r = dash_post(bob_client, dashboard_body(app, alice_job.id, button))
    assert_nothing_of_alice(r)
    assert "was not found" in r.get_data(as_text=True)
    assert tuple(conn.execute("SELECT name, pinned FROM jobs WHERE id = ?", (alice_job.id,)).fetchone()) == (
        SECRET_NAME, 0)
    r = dash_post(alice_client, dashboard_body(app, alice_job.id, button))
    if button == "dashboard-pin":
        assert "pinned" in r.get_data(as_text=True) and jobs.get_job(conn, alice, alice_job.id).pinned
    else:
        assert f"Job #{alice_job.id} deleted." in r.get_data(as_text=True)
        assert not (settings.jobs_dir / str(alice_job.id)).exists()
