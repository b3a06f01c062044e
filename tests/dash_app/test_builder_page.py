"""The builder page's callback logic on a real app: live panel over HTTP, structure changes, submit rules."""
import json

import pytest

from dash_app import builder_state as B
from services import jobs, users
from services.errors import InvalidInput
from tests.conftest import dash_post


def live_panel_payload(state):
    outputs = ["preview.children", "problems.children", "targets.data", "size.children", "submit.disabled",
               "submit-hint.children", "folder.children"]
    return {"output": ".." + "...".join(f"builder-{o}" for o in outputs) + "..",
            "outputs": [{"id": f"builder-{o.split('.')[0]}", "property": o.split(".")[1]} for o in outputs],
            "inputs": [{"id": "builder-state", "property": "data", "value": state},
                       {"id": "builder-dialect", "property": "value", "value": "alphafold3"}],
            "changedPropIds": ["builder-state.data"], "state": []}


def test_live_panel_over_http_validates_on_the_server(user_client):
    state = B.update_entity(B.empty_state(), 0, sequence="MKT1")
    r = dash_post(user_client, live_panel_payload({**state, "name": "my job"}))
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    out = r.json["response"]
    assert out["builder-submit"]["disabled"] is True
    assert out["builder-folder"]["children"] == "my_job"
    assert out["builder-targets"]["data"] == ['{"index":0,"type":"builder-seq"}']
    fixed = B.update_entity(state, 0, sequence="MKT")
    out = dash_post(user_client, live_panel_payload({**fixed, "name": "my job"})).json["response"]
    assert out["builder-submit"]["disabled"] is False
    assert json.loads(out["builder-preview"]["children"])["sequences"] == [{"protein": {"id": "A", "sequence": "MKT"}}]


def test_restructure_and_submit_rules(app, settings, conn):
    from dash_app.pages import builder as page

    state = B.empty_state()
    state, _ = page.restructure(state, page.ADD["ion"])
    assert [e["kind"] for e in state["entities"]] == ["protein", "ion"]
    state, _ = page.restructure(state, {"type": page.EC.MOD_ADD, "index": 0})
    assert state["entities"][0]["mods"] == [{"code": "", "position": None}]
    state, _ = page.restructure(state, page.SEED_ADD, seed=7)
    assert state["seeds"] == [1, 7]
    state, _ = page.restructure(state, {"type": page.SEED_DEL, "index": 0})
    assert state["seeds"] == [7]
    alice = users.get_by_name(conn, "alice")
    state = {**B.update_entity(state, 0, sequence="MKSA", mods=[{"code": "SEP", "position": 3}]), "name": "j"}
    state = B.update_entity(state, 1, ccd="ZN")
    with app.server.test_request_context():
        with pytest.raises(InvalidInput, match="terms"):
            page.submit_state(state, alice, "k1")
        users.accept_terms(conn, alice.id)
        alice = users.get_by_name(conn, "alice")
        with pytest.raises(InvalidInput, match="problems"):
            page.submit_state(B.update_entity(state, 0, sequence="MK1"), alice, "k0")
        job = page.submit_state(state, alice, "k1")
        again = page.submit_state(state, alice, "k1")  # a double click queues one job
    assert job.id == again.id
    assert jobs.list_jobs(conn, alice)[1] == 1
    assert job.read_input()["sequences"][1] == {"ligand": {"id": "B", "ccdCodes": ["ZN"]}}
