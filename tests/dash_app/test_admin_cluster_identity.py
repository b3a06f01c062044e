"""The cluster identity on /admin/users (issue 25): an admin maps a person to a cluster user and Slurm account
through the real callback, a bad value is refused in words with nothing saved, a plain user cannot set it."""
from __future__ import annotations

from dash_app.ids import page_id
from services.people import cluster_identity
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, dash_post, login
from tests.dash_app.test_second_user import callback_body

PAGE = "dash_app.pages.admin.admin_users"
GRID, REFRESH, USER, ACCOUNT, KEY, SAVE = (page_id(PAGE, k) for k in (
    "grid", "refresh", "cluster-user", "cluster-account", "cluster-key", "save-cluster"))


def _save(app, client, user_id: int, cluster_user: str, account: str, key: str = ""):
    body = callback_body(app, "alert.children", {f"{SAVE}.n_clicks": 1, f"{GRID}.selectedRows": [{"id": user_id}],
                                                 f"{USER}.value": cluster_user, f"{ACCOUNT}.value": account,
                                                 f"{KEY}.value": key, f"{REFRESH}.data": 1},
                         trigger=f"{SAVE}.n_clicks")
    return dash_post(client, body)


def test_admin_maps_a_person_to_their_cluster_identity(app, client, conn, alice):
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    saved = _save(app, client, alice.id, "asmith", "lab42-alice").get_data(as_text=True)
    assert "alice on the cluster: cluster user asmith, account lab42-alice." in saved
    shown = dash_post(client, callback_body(app, f"{USER}.value", {f"{GRID}.selectedRows": [{"id": alice.id}],
                                                                   f"{REFRESH}.data": 2})).get_json()
    assert shown["response"][USER]["value"] == "asmith" and shown["response"][ACCOUNT]["value"] == "lab42-alice"
    refused = _save(app, client, alice.id, "A Smith", "lab42-alice").get_data(as_text=True)
    assert "cluster user 'A Smith': use a Unix user name" in refused
    assert cluster_identity.get(conn, alice.id).cluster_user == "asmith"

    user = app.server.test_client()
    assert login(user, "alice", USER_PASSWORD).status_code == 302
    assert _save(app, user, alice.id, "root", "lab-x").status_code == 403  # admins only, on the server
    assert cluster_identity.get(conn, alice.id).account == "lab42-alice"
