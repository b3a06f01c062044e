"""Screens through the REST API (issue 26): submit, follow, rank, cancel, retry, download, with a real worker."""
from __future__ import annotations

import io
import json
import sys
import zipfile

from services.people import api_tokens
from services.running.worker import Worker

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
SHARED = {"modelSeeds": [1], "dialect": "alphafold3", "version": 1,
          "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLAAGCSSHHHHHH"}}]}


def _post(client, token, path, body=None, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(f"/api/v1{path}?{qs}", data=json.dumps(body) if body is not None else None,
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")


def _get(client, token, path):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


def test_a_screen_runs_and_reads_back_ranked(settings, conn, alice, app, client):
    token = api_tokens.create_token(conn, alice.id, "screens", "write")[1]
    body = {"name": "mini", "shared": SHARED, "smiles": ["CCO ethanol", "c1ccccc1O phenol"], "ccd": "ATP"}
    r = _post(client, token, "/screens", body, accept_terms="true")
    assert r.status_code == 201, r.json
    screen = r.json
    assert [m["label"] for m in screen["members"]] == ["ethanol", "phenol", "ATP"]
    assert screen["counts"] == {"queued": 3}
    # A real worker runs every member with the simulator (two stages each: search, then inference).
    s = settings.with_overrides(af3_command=SIM)
    while Worker(s, concurrency=1).run(once=True):  # one member to its end per run
        now = _get(client, token, f"/screens/{screen['id']}")
        assert now.status_code == 200, now.json
        if now.json["finished"]:
            break
    done = _get(client, token, f"/screens/{screen['id']}").json
    assert done["counts"] == {"succeeded": 3}, done
    rows = _get(client, token, f"/screens/{screen['id']}/results").json["rows"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    scores = [r["ranking_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(r["plddt"] is not None and r["iptm_pair"] is not None for r in rows)  # the ligand is chain B
    csv = _get(client, token, f"/screens/{screen['id']}/results?format=csv")
    assert csv.mimetype == "text/csv" and len(csv.get_data(as_text=True).splitlines()) == 4
    archive = zipfile.ZipFile(io.BytesIO(_get(client, token, f"/screens/{screen['id']}/archive").get_data()))
    assert sum(n.endswith("_model.cif") and "seed-" not in n for n in archive.namelist()) == 3  # one top model each
    assert _post(client, token, f"/screens/{screen['id']}/cancel").status_code == 409  # all finished
    assert _get(client, token, "/screens").json["screens"][0]["counts"] == {"succeeded": 3}


def test_bad_members_are_422_naming_each_and_others_get_404(settings, conn, alice, bob, client):
    token = api_tokens.create_token(conn, alice.id, "screens", "write")[1]
    r = _post(client, token, "/screens", {"shared": SHARED, "smiles": "C1CC broken\nCCO ok"}, accept_terms="true")
    assert r.status_code == 422 and r.json["problems"] == ["SMILES line 1: Unable to make RDKit Mol from SMILES: C1CC"]
    assert _post(client, token, "/screens", {"smiles": "CCO"}, accept_terms="true").status_code == 422
    made = _post(client, token, "/screens", {"shared": SHARED, "smiles": "CCO\nCCN"}, accept_terms="true").json
    bob_token = api_tokens.create_token(conn, bob.id, "b", "write")[1]
    assert _get(client, bob_token, f"/screens/{made['id']}").status_code == 404
    assert _post(client, bob_token, f"/screens/{made['id']}/cancel").status_code == 404
    cancelled = _post(client, token, f"/screens/{made['id']}/cancel").json
    assert cancelled["counts"] == {"cancelled": 2}
    assert _post(client, token, f"/screens/{made['id']}/retry").json["counts"] == {"queued": 2}
    read = api_tokens.create_token(conn, alice.id, "r", "read")[1]
    assert _post(client, read, f"/screens/{made['id']}/cancel").status_code == 403
