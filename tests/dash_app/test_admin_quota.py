"""The disk quota on /admin/users (issue 22, item 6): an admin sets a user's own quota through the real
callback, the grid shows it, a plain user cannot set it, and the import route refuses past it in words."""
from __future__ import annotations

from dash_app.ids import page_id
from services.jobs.rules import quota
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, dash_post, login
from tests.dash_app.test_import_results import _import_page, _server_zip
from tests.dash_app.test_second_user import callback_body

PAGE = "dash_app.pages.admin.admin_users"
GRID, REFRESH, QUOTA, SAVE = (page_id(PAGE, k) for k in ("grid", "refresh", "quota", "save-quota"))


def _save_quota(app, client, user_id: int, value):
    body = callback_body(app, "alert.children", {f"{SAVE}.n_clicks": 1, f"{GRID}.selectedRows": [{"id": user_id}],
                                                 f"{QUOTA}.value": value, f"{REFRESH}.data": 1},
                         trigger=f"{SAVE}.n_clicks")
    return dash_post(client, body)


def test_admin_sets_a_users_quota_and_the_import_route_refuses_past_it(app, client, conn, alice):
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    saved = _save_quota(app, client, alice.id, "1").get_data(as_text=True)
    assert "Disk quota saved for alice: 1.0 MB." in saved and quota.own_quota_mb(conn, alice.id) == 1
    rows = dash_post(client, callback_body(app, f"{GRID}.rowData", {f"{REFRESH}.data": 2})).get_json()
    shown = {r["username"]: r["quota"] for r in rows["response"][GRID]["rowData"]}
    assert shown == {"admin": "100.0 GB (default)", "alice": "1.0 MB"}
    assert "must be 0 or more" in _save_quota(app, client, alice.id, "-5").get_data(as_text=True)

    user = app.server.test_client()
    assert login(user, "alice", USER_PASSWORD).status_code == 302
    assert _save_quota(app, user, alice.id, "").status_code == 403  # admins only, on the server
    assert quota.own_quota_mb(conn, alice.id) == 1
    user.get("/")
    form = {"file": (_server_zip(), "fold_5b8c.zip"), "csrf_token": user.get_cookie("_csrf_token").value}
    refused = user.post("/api/jobs/import", data=form, content_type="multipart/form-data")
    page = _import_page(user, refused.headers["Location"][len("/import"):])
    assert "over your disk quota of 1.0 MB" in page
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
