"""Queue page approvals (issue 18): pending jobs listed first with size and estimate; approve, reject with a note."""
from __future__ import annotations

from types import SimpleNamespace

from dash_app.ids import page_id
from services import jobs
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_second_user import callback_body
from tests.services.test_approvals import BIG_SEQ
from tests.services.test_jobs import af3

# the page's ids (a page module can only be imported once an app exists)
aq = SimpleNamespace(**{k.upper(): page_id("dash_app.pages.admin.admin_queue", k.replace("_", "-")) for k in (
    "approvals", "approve_job", "approve_note", "approve", "reject", "refresh", "tick")})


def decide(app, client, button: str, job_id, note: str):
    body = callback_body(app, f"{aq.APPROVE_NOTE}.value", {f"{button}.n_clicks": 1, f"{aq.APPROVE_JOB}.value": job_id,
                                                           f"{aq.APPROVE_NOTE}.value": note, f"{aq.REFRESH}.data": 1},
                         trigger=f"{button}.n_clicks")
    return dash_post(client, body)


def test_admin_lists_approves_and_rejects(app, admin_client, conn, settings):
    gated = settings.with_overrides(approval_tokens=100)
    alice = users.get_by_name(conn, "alice")
    big, other = (jobs.submit(conn, gated, alice, af3(n, BIG_SEQ)) for n in ("big-one", "big-two"))
    listed = dash_post(admin_client, callback_body(app, f"{aq.APPROVALS}.children", {f"{aq.TICK}.n_intervals": 1}))
    text = listed.get_data(as_text=True)
    assert "big-one" in text and "big-two" in text and "140" in text and "Est. GPU h" in text

    refused = decide(app, admin_client, aq.REJECT, other.id, "  ")
    assert "Write a note" in refused.get_data(as_text=True)
    assert jobs.get_job(conn, alice, other.id).approval == "pending"

    assert decide(app, admin_client, aq.APPROVE, big.id, "").status_code == 200
    assert jobs.get_job(conn, alice, big.id).approval == "approved"
    assert decide(app, admin_client, aq.REJECT, other.id, "use fewer seeds").status_code == 200
    rejected = jobs.get_job(conn, alice, other.id)
    assert rejected.state is jobs.JobState.CANCELLED and rejected.approval_note == "use fewer seeds"


def test_job_page_tells_the_owner(app, conn, settings):
    from dash_app.components.jobs import job_manage as jm

    gated = settings.with_overrides(approval_tokens=100)
    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, gated, alice, af3("big", BIG_SEQ))
    with app.server.test_request_context():
        from flask_login import login_user

        from dash_app.auth import LoginUser
        login_user(LoginUser(alice))
        assert "awaiting approval" in str(jm.notices(job))


def test_users_page_shows_disk_use_and_flags_a_user(app, admin_client, conn, settings):
    from services.operations import retention

    alice = users.get_by_name(conn, "alice")
    jobs.submit(conn, settings, alice, af3("sized"))
    retention.measure_disk(conn, settings)
    grid, flag = (page_id("dash_app.pages.admin.admin_users", x) for x in ("grid", "approval-flag"))
    refresh = page_id("dash_app.pages.admin.admin_users", "refresh")
    rows = dash_post(admin_client, callback_body(app, f"{grid}.rowData", {f"{refresh}.data": 1})).get_json()
    row = next(r for r in rows["response"][grid]["rowData"] if r["username"] == "alice")
    assert row["disk"].endswith(" B") and row["disk"] != "0 B" and row["approval"] == "large jobs"
    key = next(k for k, spec in app.callback_map.items() if spec["inputs"][0]["id"] == flag)
    body = {"output": key, "outputs": [{"id": k.split(".")[0], "property": "children" if "alert" in k else "data"}
                                       for k in key.strip(".").split("...")],
            "inputs": [{"id": flag, "property": "n_clicks", "value": 1}],
            "state": [{"id": grid, "property": "selectedRows", "value": [{"id": alice.id}]},
                      {"id": refresh, "property": "data", "value": 1}], "changedPropIds": [f"{flag}.n_clicks"]}
    assert "every job now waits" in dash_post(admin_client, body).get_data(as_text=True)
    assert jobs.submit(conn, settings, alice, af3("tiny")).approval == "pending"


def test_queue_page_says_why_each_job_waits(app, admin_client, conn, settings):
    import time

    from services.operations import maintenance

    admin = users.get_by_name(conn, "admin")
    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, alice, af3("held"))
    maintenance.add_window(conn, admin, "local", time.time() - 60, time.time() + 3600, "disk swap")
    status = page_id("dash_app.pages.admin.admin_queue", "status")
    state = page_id("dash_app.pages.admin.admin_queue", "state")
    body = callback_body(app, f"{status}.children", {f"{aq.TICK}.n_intervals": 1, f"{aq.REFRESH}.data": 0,
                                                     f"{state}.value": "active"})
    rows = dash_post(admin_client, body).get_json()["response"][page_id("dash_app.pages.admin.admin_queue", "grid")]
    [row] = [r for r in rows["rowData"] if r["id"] == job.id]
    assert row["why"].startswith("waiting: local in maintenance until ")


def test_maintenance_page_is_admin_only(app, admin_client):
    from tests.conftest import USER_PASSWORD, login

    assert admin_client.get("/admin/maintenance").status_code == 200
    client = app.server.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    assert client.get("/admin/maintenance").status_code == 403
    body = callback_body(app, page_id("dash_app.pages.admin.admin_maintenance", "alert") + ".children",
                         {page_id("dash_app.pages.admin.admin_maintenance", "create") + ".n_clicks": 1})
    assert dash_post(client, body).status_code == 403


def test_dashboard_row_says_awaiting_approval(conn, settings):
    from dash_app.components.jobs.job_grid import stage_text

    gated = settings.with_overrides(approval_tokens=100)
    job = jobs.submit(conn, gated, users.get_by_name(conn, "alice"), af3("big", BIG_SEQ))
    assert stage_text(job, 1).startswith("awaiting approval")
