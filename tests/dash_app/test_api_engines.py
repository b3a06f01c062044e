"""The API picks engines (issue 29): one job per engine, grouped; an engine that cannot run the input says why."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from services import jobs
from services.people import api_tokens

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "data" / "samples" / "protein_ligand_ion.json").read_text())


@pytest.fixture
def token(conn, alice):
    return api_tokens.create_token(conn, alice.id, "script", "write")[1]


def _post(client, token: str, query: str):
    return client.post(f"/api/v1/jobs?{query}", data=json.dumps(SAMPLE), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


def test_engines_make_one_grouped_job_each(client, conn, alice, token):
    r = _post(client, token, "accept_terms=true&engines=af3,boltz")
    assert r.status_code == 201, r.json
    made = r.json["jobs"]
    assert [j["engine"] for j in made] == ["af3", "boltz"]
    assert made[0]["engine_group"] == made[1]["engine_group"] == made[0]["id"]
    assert jobs.get_job(conn, alice, made[1]["id"]).engine == "boltz"
    plain = _post(client, token, "accept_terms=true").json["jobs"]
    assert [(j["engine"], j["engine_group"]) for j in plain] == [("af3", None)]  # as before: AlphaFold 3 alone


def test_an_engine_that_cannot_run_the_input_is_refused_with_the_reason(client, conn, alice, token):
    r = _post(client, token, "accept_terms=true&engines=boltz,chai")
    assert r.status_code == 422
    assert any(p.startswith("Chai-1: ") and "SMILES" in p for p in r.json["problems"])
    unknown = _post(client, token, "accept_terms=true&engines=rosetta")
    assert unknown.status_code == 422 and "rosetta" in unknown.json["error"]
    assert jobs.list_jobs(conn, alice)[1] == 0
