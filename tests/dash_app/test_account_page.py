"""The account page over HTTP, as the browser calls it: notification choices, password change,
tokens (secret shown once, revoke works at the gate), webhooks and the admins' host allow-list."""
from __future__ import annotations

import json
import re
import sys

import dash
import pytest

from services import jobs
from services.notify import webhooks
from services.notify.prefs import get_prefs
from services.people import api_tokens, users
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, dash_post, login


@pytest.fixture
def page(app):
    """The account page module as Dash imported it (pages register only after the app exists)."""
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/account")]


def call(app, client, first_output: str, values: dict, triggered: str):
    """POST the callback whose outputs start with `first_output`; `values` maps an input/state id to its value."""
    key, spec = next((k, s) for k, s in app.callback_map.items()
                     if k.lstrip(".").startswith(first_output + "."))
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
               for o in key.strip(".").split("...")]

    def item(d):
        cid = d["id"]
        if cid.startswith("{"):  # pattern-matching ALL: `values` maps its type to {index: value}
            kind = json.loads(cid)["type"]
            return [{"id": {"index": i, "type": kind}, "property": d["property"], "value": v}
                    for i, v in (values.get(kind) or {}).items()]
        value = values.get(cid)
        return {"id": cid, "property": d["property"], "value": value}

    body = {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [item(d) for d in spec["inputs"]], "state": [item(d) for d in spec["state"]],
            "changedPropIds": [triggered]}
    r = dash_post(client, body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.json["response"]


def text_of(component) -> str:
    return json.dumps(component)


def test_account_page_shows_usage_and_link_in_navbar(app, page, client, conn, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    jobs.submit(conn, app.server.config["FOLDDECK_SETTINGS"], alice, {
        "name": "x", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
        "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}, accept_terms=True)
    assert client.get("/account").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert '"id":"nav-account"' in layout and "\\u002faccount" in layout and '"id":"toast-tick"' in layout
    with app.server.test_request_context():
        u = page.account_service.usage(conn, alice.id)
    assert (u.queued, u.submitted_today, u.running) == (1, 1, 0)


def test_notification_choices_are_saved_and_checked(app, page, client, conn, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    out = call(app, client, page.NOTIFY_ALERT, {page.EMAIL: "not-an-address", page.CHOICES: ["failed"]},
               f"{page.SAVE_NOTIFY}.n_clicks")
    assert "is not an e-mail address" in text_of(out)
    out = call(app, client, page.NOTIFY_ALERT, {page.EMAIL: "alice@lab.example", page.CHOICES: ["failed"]},
               f"{page.SAVE_NOTIFY}.n_clicks")
    assert "alice@lab.example" in text_of(out)
    prefs = get_prefs(conn, alice.id)
    assert (prefs.email, prefs.on_succeeded, prefs.on_failed, prefs.on_cancelled) == ("alice@lab.example", False,
                                                                                      True, False)


def test_token_created_once_used_then_revoked(app, page, client, conn, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    out = call(app, client, page.TOKEN_ALERT, {page.TOKEN_NAME: "ci", page.TOKEN_SCOPE: "read"},
               f"{page.TOKEN_CREATE}.n_clicks")
    secret = re.search(r"fdk_[A-Za-z0-9_-]{43}", text_of(out)).group(0)
    api = app.server.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json["token"]["scope"] == "read"
    (token,) = api_tokens.list_tokens(conn, alice.id)
    assert secret not in text_of(call(app, client, page.TOKEN_ALERT, {}, "nothing"))  # never shown again
    call(app, client, page.TOKEN_ALERT, {page.TOKEN_REVOKE: {token.id: 1}},
         json.dumps({"index": token.id, "type": page.TOKEN_REVOKE}, separators=(",", ":")) + ".n_clicks")
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_password_change_keeps_this_session_and_ends_others(app, page, client, conn, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    other = app.server.test_client()
    assert login(other, "alice", USER_PASSWORD).status_code == 302
    wrong = call(app, client, page.PW_ALERT, {page.PW_CURRENT: "nope", page.PW_NEW: "a-new-password-2",
                                              page.PW_REPEAT: "a-new-password-2"}, f"{page.PW_SAVE}.n_clicks")
    assert "current password is wrong" in text_of(wrong)
    ok = call(app, client, page.PW_ALERT, {page.PW_CURRENT: USER_PASSWORD, page.PW_NEW: "a-new-password-2",
                                           page.PW_REPEAT: "a-new-password-2"}, f"{page.PW_SAVE}.n_clicks")
    assert "Password changed" in text_of(ok)
    assert client.get("/account").status_code == 200  # still logged in here
    assert other.get("/account").status_code == 302  # the other session ended
    assert users.authenticate(conn, "alice", "a-new-password-2", "127.0.0.1") is not None


def test_webhooks_need_an_allowed_host_which_only_admins_set(app, page, client, conn, alice):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    refused = call(app, client, page.HOOK_ALERT, {page.HOOK_URL: "https://hooks.lab.example/x", page.HOOK_LAB: False},
                   f"{page.HOOK_ADD}.n_clicks")
    assert "not allowed" in text_of(refused)
    denied = call(app, client, page.HOST_LIST, {page.HOST_NAME: "hooks.lab.example"}, f"{page.HOST_ADD}.n_clicks")
    assert "Only admins" in text_of(denied) and webhooks.allowed_origins(conn) == []
    admin = app.server.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    call(app, admin, page.HOST_LIST, {page.HOST_NAME: "hooks.lab.example"}, f"{page.HOST_ADD}.n_clicks")
    assert [str(o) for o in webhooks.allowed_origins(conn)] == ["https://hooks.lab.example"]
    added = call(app, client, page.HOOK_ALERT, {page.HOOK_URL: "https://hooks.lab.example/x", page.HOOK_LAB: False},
                 f"{page.HOOK_ADD}.n_clicks")
    assert "whsec_" in text_of(added) and [h.url for h in webhooks.list_webhooks(conn, alice)] == [
        "https://hooks.lab.example/x"]


def test_recent_messages_show_their_delivery(app, page, client, conn, alice):
    from services.notify.prefs import NotifyPrefs, set_prefs

    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    admin = users.get_by_name(conn, "admin")
    job = jobs.submit(conn, app.server.config["FOLDDECK_SETTINGS"], alice, {
        "name": "x", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
        "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}, accept_terms=True)
    jobs.cancel_job(conn, admin, job.id)
    conn.execute("UPDATE outbox SET attempts = 2, last_error = 'Connection refused'")
    with app.server.test_request_context():
        text = json.dumps(page.sent_table(alice.id).to_plotly_json(), default=lambda c: c.to_plotly_json())
    assert f"job {job.id} cancelled" in text and "waiting (2 tries: Connection refused)" in text
