"""The builder page's callback logic on a real app: live panel over HTTP, structure changes, submit rules."""
import json

import pytest

from dash_app import builder as B
from dash_app.builder import entity_card as EC
from dash_app.builder.feedback import field_feedback
from dash_app.builder.prefill import restructure
from dash_app.builder.submit import submit_state
from services import jobs
from services.people import users
from services.platform.errors import InvalidInput, TermsNotAccepted
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
    state = {**B.update_entity(B.empty_state(), 0, sequence="MKT1"), "attempted": True}  # after a submit attempt
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
    state, _ = restructure(state, page.ADD["ion"])
    assert [e["kind"] for e in state["entities"]] == ["protein", "ion"]
    state, _ = restructure(state, {"type": EC.MOD_ADD, "index": 0})
    assert state["entities"][0]["mods"] == [{"code": "", "position": None}]
    state, _ = restructure(state, page.SEED_ADD, seed=7)
    assert state["seeds"] == [1, 7]
    state, _ = restructure(state, {"type": page.SEED_DEL, "index": 0})
    assert state["seeds"] == [7]
    alice = users.get_by_name(conn, "alice")
    state = {**B.update_entity(state, 0, sequence="MKSA", mods=[{"code": "SEP", "position": 3}]), "name": "j"}
    state = B.update_entity(state, 1, ccd="ZN")
    with app.server.test_request_context():
        with pytest.raises(TermsNotAccepted, match="terms"):  # unticked: refused, though alice accepted before
            submit_state(state, alice, "k1", False)
        with pytest.raises(InvalidInput, match="problems"):
            submit_state(B.update_entity(state, 0, sequence="MK1"), alice, "k0", True)
        job = submit_state(state, alice, "k1", True)
        again = submit_state(state, alice, "k1", True)  # a double click queues one job
    assert job.id == again.id
    assert jobs.list_jobs(conn, alice)[1] == 1
    assert job.read_input()["sequences"][1] == {"ligand": {"id": "B", "ccdCodes": ["ZN"]}}


def text_of(component) -> str:
    """Return all the text a component tree renders, space-joined."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


def slots_of(card) -> list[tuple[int, str]]:
    """Return the (uid, field) problem slots a rendered card holds, in page order."""
    found = []

    def walk(c):
        cid = getattr(c, "id", None)
        if isinstance(cid, dict) and cid.get("type") == "builder-field-problems":
            found.append((cid["index"], cid["field"]))
        kids = getattr(c, "children", None)
        for k in kids if isinstance(kids, list) else [kids]:
            if k is not None and not isinstance(k, str):
                walk(k)

    walk(card)
    return found


def test_each_card_problem_shows_once_under_its_field(app):
    state = B.update_entity(B.empty_state(), 0, sequence="MKT1AJ", mods=[{"code": "SEP", "position": 99}])
    state = B.add_entity(state, "rna", sequence="ACGT")
    state = {**B.add_entity(state, "ligand", ccd="", copies=0), "attempted": True}  # every problem shown
    slots = [s for i, e in enumerate(state["entities"]) for s in slots_of(EC.entity_card(e, i))]
    assert ("protein", "sequence") not in slots and (0, "sequence") in slots and (2, "ccd") in slots
    out = dict(zip(slots, (text_of(c) for c in field_feedback(state, B.evaluate(state), slots)), strict=True))

    seq = out[(0, "sequence")]
    assert "6 residues" in seq and "Not allowed: '1' at 4, 'J' at 6" in seq
    assert seq.count("'1'") == 1 and "at position" not in seq  # the validator's alphabet message is not repeated
    assert "Remove spaces, line breaks, gaps, digits" in seq  # ...but its advice is kept
    assert "'T' belongs to DNA" in out[(1, "sequence")]
    assert "Modification 1:" in out[(0, "mods")] and "99" in out[(0, "mods")]
    assert "Pick a ligand" in out[(2, "ccd")] and "Copies must be" in out[(2, "copies")]
    every = " ".join(out.values())
    for p in B.evaluate(state).problems:
        if B.locate(p.path).card is not None and "alphabet" not in p.message and "has '" not in p.message:
            assert every.count(p.message) == 1, p.message
    assert not any(out[(uid, "card")] for uid in (0, 1, 2))
