"""Picking engines on the builder and upload pages (issue 29): grouped jobs, refusals with their reasons."""
from __future__ import annotations

import json
from pathlib import Path

from dash_app import builder as B
from dash_app.builder.submit import submit_state
from services import jobs
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_second_user import router_body
from tests.dash_app.test_upload_page import data_url, payload

SAMPLE = (Path(__file__).resolve().parents[2] / "data" / "samples" / "protein_ligand_ion.json").read_bytes()


def _submit(app, client, engines: list[str], key: str) -> dict:
    batch = [{"name": "sample.json", "bytes": len(SAMPLE), "contents": data_url(SAMPLE), "skipped": None}]
    body = payload(app, "upload-result.children", [("upload-submit-all", "n_clicks", 1),
                                                   ("upload-submit-selected", "n_clicks", None)],
                   [("upload-batch", "data", batch), ("upload-grid", "selectedRows", None),
                    ("upload-key", "data", key), ("upload-terms", "value", True),
                    ("upload-search-again", "value", False), ("upload-engines", "value", engines)])
    return dash_post(client, body).json["response"]


def test_upload_on_two_engines_queues_a_grouped_pair(app, user_client, conn):
    out = json.dumps(_submit(app, user_client, ["af3", "boltz"], "k1")["upload-result"]["children"])
    assert "2 job(s) queued" in out and "compare engines" in out
    found, total = jobs.list_jobs(conn, users.get_by_name(conn, "alice"))
    assert total == 2 and {j.engine for j in found} == {"af3", "boltz"}
    assert len({j.engine_group for j in found}) == 1


def test_upload_refused_by_an_engine_names_it_and_queues_nothing(app, user_client, conn):
    out = json.dumps(_submit(app, user_client, ["af3", "chai"], "k2")["upload-result"]["children"])
    assert "cannot run this job" in out and "Chai-1" in out and "ATP" in out
    assert jobs.list_jobs(conn, users.get_by_name(conn, "alice"))[1] == 0


def test_builder_offers_the_engines_with_the_admins_default_ticked(app, user_client, conn):
    page = dash_post(user_client, router_body("/builder")).get_data(as_text=True)
    assert "Boltz-2: MIT" in page and "AlphaFold 3" in page and "OpenFold3: Apache-2.0" in page
    alice = users.get_by_name(conn, "alice")
    state = {**B.update_entity(B.empty_state(), 0, sequence="MKSA"), "name": "two"}
    with app.server.test_request_context():
        first = submit_state(state, alice, "b1", True, engines=["af3", "boltz"])
    found, total = jobs.list_jobs(conn, alice)
    assert total == 2 and first.engine == "af3" and {j.engine_group for j in found} == {first.id}
