"""The builder as a new user meets it: quiet until touched, seeds typed one at a time, a file with a problem
loaded with the problem at its field (in the upload page's words), and Clone as a copy the caller may see."""
from __future__ import annotations

import base64
import json
import sys
from contextlib import contextmanager

import pytest

from dash_app import builder as B
from dash_app import upload_state as U
from dash_app.builder.prefill import restructure, state_from_job, state_from_upload
from dash_app.builder.submit import submit_state
from services import jobs
from services.people import users
from tests.conftest import USER_PASSWORD, dash_post, login

SAMPLE = {"name": "kinase", "modelSeeds": [1, 2], "dialect": "alphafold3", "version": 1,
          "sequences": [{"protein": {"id": "A", "sequence": "MKT1AQ"}}, {"ligand": {"id": "B", "ccdCodes": ["ATP"]}}]}


@pytest.fixture
def page(app):
    return sys.modules["dash_app.pages.builder"]


@contextmanager
def as_user(app, account):
    """Run the enclosed code inside a request of `account` (what the gate gives a callback)."""
    from flask_login import login_user

    from dash_app.auth import LoginUser

    with app.server.test_request_context():
        login_user(LoginUser(account))
        yield


def data_url(doc) -> str:
    return "data:application/json;base64," + base64.b64encode(json.dumps(doc).encode()).decode()


def test_untouched_form_shows_no_problems_until_touched_or_submitted():
    state = B.empty_state()
    problems = B.evaluate(state).problems
    assert problems and B.shown_problems(state, problems) == []  # a fresh form: nothing in red
    typed = B.touch_changes(state, B.apply_form(state, "my job", {"sequence": {0: "MK1"}}, {}, {}))
    shown = B.shown_problems(typed, B.evaluate(typed).problems)
    assert {B.locate(p.path).field for p in shown} == {"sequence"}  # the field typed in, not the others
    assert B.shown_problems({**typed, "attempted": True}, B.evaluate(typed).problems) == B.evaluate(typed).problems
    # a card that only appeared (its blank inputs reported back) is not touched
    added = B.add_entity(typed, "ligand")
    assert B.touch_changes(added, B.apply_form(added, "my job", {"ccd": {1: ""}}, {}, {})).get("touched") == \
        typed["touched"]


def test_seed_add_and_enter(page):
    state, _ = restructure(B.empty_state(), page.SEED_ADD, seed=2)
    state, _ = restructure(state, page.SEED_INPUT, seed="3")  # Enter in the box
    assert state["seeds"] == [1, 2, 3] and "seeds" in state["touched"]


def test_json_with_a_problem_loads_with_the_problem_at_its_field(app, page, alice):
    with as_user(app, alice):
        state, message = state_from_upload(data_url(SAMPLE), "kinase.json")
    assert state["name"] == "kinase" and state["seeds"] == [1, 2] and state["attempted"]
    assert [e["kind"] for e in state["entities"]] == ["protein", "ligand"]
    assert state["entities"][0]["sequence"] == "MKT1AQ" and state["entities"][1]["ccd"] == "ATP"
    ev = B.evaluate(state)
    assert [(B.locate(p.path).card, B.locate(p.path).field) for p in ev.problems if p.is_error] == [(0, "sequence")]
    # the note lists the file's problems exactly as the upload page's table does (one reader, one wording)
    [row] = U.read_file(0, "kinase.json", json.dumps(SAMPLE).encode(), 10_000_000).rows
    listed = [li.children for li in message.children[1].children]
    assert listed == row.problems and listed and "sequences[0].protein.sequence" in listed[0]


def test_json_as_written_keeps_what_the_form_can_show():
    doc = {"name": 5, "modelSeeds": "1", "dialect": "alphafold3", "version": 1,
           "sequences": [{"protein": {"id": ["a", "b"], "sequence": 7, "modifications": [{"ptmType": "SEP"}, 3]}},
                         {"spaceship": {}}, "junk", {"dna": {"id": "C", "sequence": "ACGT"}}],
           "bondedAtomPairs": [[["A", 1, "N"]], [["A", 1, "SG"], ["C", 2, "O3'"]]]}
    state, notes = B.from_af3_as_written(doc)
    assert state["name"] == "" and state["seeds"] == []
    cards = [(e["kind"], e["copies"], e["sequence"]) for e in state["entities"]]
    assert cards == [("protein", 2, ""), ("dna", 1, "ACGT")]
    assert state["entities"][0]["mods"] == [{"code": "SEP", "position": None}]
    assert state["bonds"] == [{"a_chain": "A", "a_res": 1, "a_atom": "SG", "b_chain": "C", "b_res": 2, "b_atom": "O3'"}]
    assert len(notes) == 3 and "Entity 2" in notes[0] and "Bond 1" in notes[2]
    assert B.evaluate(state).problems  # and the validator says what is wrong, field by field


def page_payload(path: str, search: str) -> dict:
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}


def test_clone_opens_a_copy_only_of_a_job_the_caller_may_see(client, conn, settings):
    alice = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, alice, {**SAMPLE, "sequences": [{"protein": {"id": "A",
                                                                                    "sequence": "MSECRETQ"}}]})
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    body = dash_post(client, page_payload("/builder", f"?clone={job.id}")).get_data(as_text=True)
    assert "kinase (copy)" in body and "MSECRETQ" in body and "nothing is queued until you submit" in body
    assert jobs.list_jobs(conn, alice)[1] == 1  # opening the copy queued nothing

    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    other = client.application.test_client()
    assert login(other, "bob", "bob-password-1").status_code == 302
    body = dash_post(other, page_payload("/builder", f"?clone={job.id}")).get_data(as_text=True)
    assert "MSECRETQ" not in body and "kinase (copy)" not in body and f"Could not load job {job.id}" in body


def test_server_file_with_a_problem_loads_too_and_a_broken_layout_is_refused(app, page, alice):
    from services.platform.errors import InvalidInput
    from tests.conftest import ROOT

    doc = json.loads((ROOT / "data" / "samples" / "server_two_jobs.json").read_text())
    doc[0]["sequences"][0]["proteinChain"]["sequence"] = "MK1"
    with as_user(app, alice):
        state, message = state_from_upload(data_url(doc), "server.json")
        assert state["entities"][0]["sequence"] == "MK1" and state["entities"][0]["copies"] == 2
        listed = [li.children for li in message.children[1].children]
        [first, _] = U.read_file(0, "server.json", json.dumps(doc).encode(), 10_000_000).rows
        assert listed == first.problems and "[0].sequences[0].proteinChain.sequence" in listed[0]
        doc[0]["sequences"][0]["proteinChain"]["count"] = "two"
        with pytest.raises(InvalidInput, match="not laid out") as refused:
            state_from_upload(data_url(doc), "server.json")
        assert refused.value.problems  # the upload page's problems, named


def test_a_clone_in_the_builder_carries_the_msa_sent_with_the_job(app, page, conn, settings, alice):
    """Issue 22: the copy gets the MSA's text inline (the file stays with the first job) and submits;
    the builder's submit goes through the same file rule as every route."""
    from tests.services.test_input_files import MSA, doc

    job = jobs.submit(conn, settings, alice, doc("unpairedMsaPath", "a.a3m"), files={"a.a3m": MSA.encode()})
    with as_user(app, alice):
        state, _ = state_from_job(job.id)
        card = state["entities"][0]
        assert card["msa_mode"] == "custom" and card["msa_text"] == MSA
        copy = submit_state(state, alice, "k", True)
    assert copy.read_input()["sequences"][0]["protein"]["unpairedMsa"] == MSA


def test_the_builder_refuses_a_loaded_json_that_names_a_server_file(app, page, conn, settings, alice, bob):
    """Issue 22 through the builder: a JSON naming alice's input (as bob) loads, and its submit is refused
    naming the field, whichever path field it is; nothing is queued and nothing of the file is shown."""
    from services.platform.errors import InvalidInput
    from tests.services.test_input_files import CANARY, FIELDS, doc

    mine = jobs.submit(conn, settings, alice, {**SAMPLE, "sequences": [{"protein": {
        "id": "A", "sequence": "MKTAQ", "description": CANARY}}], "version": 4})
    for field in FIELDS:
        with as_user(app, bob):
            state, _ = state_from_upload(data_url(doc(field, mine.input_path)), "x.json")
            with pytest.raises(InvalidInput) as err:
                submit_state(state, bob, f"k-{field}", True)
        text = " ".join(err.value.problems)
        assert field in text and CANARY not in text
    assert jobs.list_jobs(conn, bob)[1] == 0


def test_the_builder_sends_the_files_a_loaded_json_names_as_their_text(app, page, conn, settings, alice):
    """Issue 22: load a JSON whose unpairedMsaPath names a file on the user's own machine, then drop that file
    in the builder: its text goes into the card (custom MSA) and the job submits through the file rule."""
    import gzip

    from dash_app.builder.ids import FILES_UPLOAD, JSON_UPLOAD
    from services.platform.errors import InvalidInput
    from tests.services.test_input_files import MSA, doc

    sent = "data:application/gzip;base64," + base64.b64encode(gzip.compress(MSA.encode())).decode()
    with as_user(app, alice):
        state, _ = page.restructure({}, JSON_UPLOAD, json_file=data_url(doc("unpairedMsaPath", "/home/a/a.a3m.gz")),
                                    json_name="x.json")
        with pytest.raises(InvalidInput, match="files it may not read") as refused:
            page.submit_state(state, alice, "k1", True)  # the path alone is refused, naming the field
        assert "unpairedMsaPath" in " ".join(refused.value.problems)
        with pytest.raises(InvalidInput, match="No path in the form names other.a3m"):
            page.restructure(state, FILES_UPLOAD, files=[sent], file_names=["other.a3m"])
        state, note = page.restructure(state, FILES_UPLOAD, files=[sent], file_names=["a.a3m.gz"])
        assert state["entities"][0]["msa_text"] == MSA and "a.a3m.gz" in str(note)
        job = page.submit_state(state, alice, "k2", True)
    assert job.read_input()["sequences"][0]["protein"]["unpairedMsa"] == MSA
