"""The job page's results through the real server path: placeholder first, then scores, per-sample
views, linked selections, and the owner-checked downloads (one file, all as a streamed zip)."""
from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile

import numpy as np

from dash_app.components import console as cons
from dash_app.components.results import results_view as rv
from services.people import users
from services.results import pae_image
from tests.conftest import ADMIN_PASSWORD, ROOT, dash_post, login
from tests.support.pae_png import decoded_pae

CURSOR = cons.cid("cursor", "job")  # the job page's console cursor: where every callback gets the job
REAL = ROOT / "tests" / "fixtures" / "af3_outputs"


def _call(client, output: list[tuple[str, str]], inputs: list[tuple[str, str, object]],
          state: list[tuple[str, str, object]] = (), triggered: str | None = None):
    from dash import get_app

    want = [f"{i}.{p}" for i, p in output]

    def parts(key: str) -> list[str]:
        return key.strip(".").replace("...", " ").split()

    key = next(k for k in get_app().callback_map if [x.split("@")[0] for x in parts(k)] == want)
    outputs = [{"id": x.rsplit(".", 1)[0], "property": x.rsplit(".", 1)[1]} for x in parts(key)]
    payload = {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
               "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
               "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
               "changedPropIds": [triggered or f"{inputs[0][0]}.{inputs[0][1]}"]}
    r = dash_post(client, payload)
    assert r.status_code == 200, r.data[:500]
    return r.get_json()["response"]


SAMPLE_OUT = [(rv.PAE_FIG, "data"), (rv.PLDDT, "figure"), (rv.IPTM, "figure"), (rv.PAEMIN, "figure"),
              (rv.TROUBLE, "children"), (rv.TOKENS, "data"), (rv.NOTE, "children"), (rv.CHAINS, "children")]


def _values(array) -> list:
    """Return the numbers of a figure array as plotly sends it (a list, or base64 typed-array data)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def _sample(client, job_id: int, key: str):
    return _call(client, SAMPLE_OUT, [(rv.SAMPLE, "value", key)], [(CURSOR, "data", {"job": job_id})])


def _model(client, job_id: int, key: str, colour: str = "plddt", trigger: str | None = None) -> dict:
    return _call(client, [(rv.VIEWER, "data")], [(rv.SAMPLE, "value", key), (rv.COLOUR, "value", colour)],
                 [(CURSOR, "data", {"job": job_id})], triggered=trigger)[rv.VIEWER]["data"]


def test_page_paints_a_placeholder_then_fills_scores(user_client, done_job):
    page = user_client.get(f"/jobs/{done_job.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "rcsb-molstar" not in html  # Mol*'s 6.5 MB bundle is fetched by the job page only when needed
    body = _call(user_client, [(rv.BODY, "children")], [(rv.MOLSTAR_READY, "data", True)],
                 [(CURSOR, "data", {"job": done_job.id})])[rv.BODY]["children"]
    text = str(body)
    assert "seed 1 · sample 0" in text and "★ best" in text and "Ranking score" in text and "Disordered" in text
    assert f"/api/jobs/{done_job.id}/archive" in text
    bundle = user_client.get("/_dash-component-suites/dash_molstar/rcsb-molstar.js")
    assert bundle.status_code == 200 and b"rcsbMolstar" in bundle.data[:2000]  # served from the package


def test_choosing_another_sample_switches_plots_and_structure(user_client, done_job):
    first, second = (_sample(user_client, done_job.id, k) for k in ("seed-1_sample-0", "seed-1_sample-2"))
    y = [_values(first[rv.PLDDT]["figure"]["data"][0]["y"]), _values(second[rv.PLDDT]["figure"]["data"][0]["y"])]
    assert len(y[0]) == len(y[1]) == 209 and y[0] != y[1]
    sources = [out[rv.PAE_FIG]["data"]["source"] for out in (first, second)]
    assert sources[0] != sources[1] and all(s.startswith(f"/api/jobs/{done_job.id}/pae/") for s in sources)
    images = [user_client.get(src) for src in sources]
    assert all(r.status_code == 200 and r.mimetype == "image/png" for r in images)
    for key, r in zip(("seed-1_sample-0", "seed-1_sample-2"), images, strict=True):
        full = json.loads((REAL / f"local_v301_pdl1_binder/pdl1_binder/{key}/confidences.json").read_text())
        shown = decoded_pae(r.data)
        expected = np.minimum(np.array(full["pae"]), pae_image.PAE_MAX)
        assert shown.shape == (209, 209) and np.abs(shown - expected).max() < 1e-4
    assert second[rv.IPTM]["figure"]["data"][0]["x"] == ["A", "B"]
    model = _model(user_client, done_job.id, "seed-1_sample-2")
    assert model["data"] == f"/api/jobs/{done_job.id}/files/pdl1_binder/seed-1_sample-2/model.cif"
    assert user_client.get(model["data"]).status_code == 200
    assert all(c["representation"][0]["type"] == "cartoon" for c in model["component"])  # two proteins
    bands = {c["representation"][0]["colorParams"]["value"] for c in model["component"]}
    assert bands <= {0x0053D6, 0x65CBF3, 0xFFDB13, 0xFF7D45} and 0x0053D6 in bands  # AF3's pLDDT band colours
    chain = _model(user_client, done_job.id, "seed-1_sample-2", "chain", f"{rv.COLOUR}.value")
    assert chain["component"][0]["representation"][0]["color"] == "chain-id"


def test_pae_box_selects_both_axes_in_3d_and_plddt(user_client, done_job):
    tokens = _sample(user_client, done_job.id, "seed-1_sample-0")[rv.TOKENS]["data"]
    out = _call(user_client, [(rv.VIEWER, "selection"), (rv.PLDDT, "figure"), (rv.LINKED, "children")],
                [(rv.PAE, "selectedData", {"points": [], "range": {"x": [9.6, 20.2], "y": [99.7, 104.1]}})],
                [(rv.TOKENS, "data", tokens)])
    targets = out[rv.VIEWER]["selection"]["targets"]
    assert [t["chains"][0]["name"] for t in targets] == ["A", "B"]
    assert [r["number"] for r in targets[0]["chains"][0]["residues"]] == list(range(11, 22))  # centres in the box
    assert [r["number"] for r in targets[1]["chains"][0]["residues"]] == list(range(7, 12))  # B starts at token 94
    assert out[rv.LINKED]["children"] == "Selected: A 11–21, B 7–11"
    click = _call(user_client, [(rv.VIEWER, "focus"), (rv.PAE, "figure")],
                  [(rv.PLDDT, "clickData", {"points": [{"x": 5, "y": 80}]})], [(rv.TOKENS, "data", tokens)])
    assert click[rv.VIEWER]["focus"]["targets"][0]["chains"][0]["residues"][0]["number"] == 6


def test_downloads_are_owner_checked_and_the_zip_has_every_file(app, user_client, conn, done_job):
    r = user_client.get(f"/api/jobs/{done_job.id}/archive")
    assert r.status_code == 200 and r.mimetype == "application/zip" and r.is_streamed
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    names = archive.namelist()
    assert len(names) == 15 and all(n.startswith(f"job-{done_job.id}-") for n in names)
    member = next(n for n in names if n.endswith("pdl1_binder/seed-1_sample-1/confidences.json"))
    original = REAL / "local_v301_pdl1_binder/pdl1_binder/seed-1_sample-1/confidences.json"
    assert archive.read(member) == original.read_bytes() and archive.testzip() is None
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    bob, admin, anonymous = (app.server.test_client() for _ in range(3))
    assert login(bob, "bob", "bob-password-1").status_code == 302
    assert bob.get(f"/api/jobs/{done_job.id}/archive").status_code == 404
    assert bob.get(f"/api/jobs/{done_job.id}/files/pdl1_binder/ranking_scores.csv").status_code == 404
    assert bob.get(f"/api/jobs/{done_job.id}/pae/seed-1_sample-0.png").status_code == 404
    assert user_client.get(f"/api/jobs/{done_job.id}/pae/seed-1_sample-0.png").status_code == 200
    assert user_client.get(f"/api/jobs/{done_job.id}/pae/no-such-sample.png").status_code == 404
    assert anonymous.get(f"/api/jobs/{done_job.id}/archive").status_code == 401
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    assert admin.get(f"/api/jobs/{done_job.id}/archive").status_code == 200


def test_a_residue_clicked_in_3d_is_marked_in_pae_and_plddt(user_client, done_job):
    tokens = _sample(user_client, done_job.id, "seed-1_sample-0")[rv.TOKENS]["data"]
    reported = {"chains": [{"name": "B", "auth_name": "B", "residues": [{"name": "LYS", "index": 3, "number": 3,
                                                                          "ins_code": "", "atoms": []}]}]}
    out = _call(user_client, [(rv.PAE, "figure"), (rv.PLDDT, "figure")], [(rv.VIEWER, "focus", reported)],
                [(rv.TOKENS, "data", tokens)])
    def shapes(patch):
        (op,) = patch["operations"]
        assert op["location"] == ["layout", "shapes"]
        return op["params"]["value"]

    marked = [s for s in shapes(out[rv.PAE]["figure"]) if s["line"]["color"] == "#e74c3c"]
    assert [(m["x0"], m["y0"]) for m in marked] == [(96, -0.5), (-0.5, 96)]  # B 3 is token 96 (B starts at 94)
    assert [s["x0"] for s in shapes(out[rv.PLDDT]["figure"]) if s.get("opacity") == 0.2] == [95.5]


def test_another_user_gets_nothing_from_the_results_callbacks(app, conn, done_job):
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    bob = app.server.test_client()
    assert login(bob, "bob", "bob-password-1").status_code == 302
    for outputs, inputs in (([(rv.BODY, "children")], [(rv.MOLSTAR_READY, "data", True)]),
                            (SAMPLE_OUT, [(rv.SAMPLE, "value", "seed-1_sample-0")]),
                            ([(rv.VIEWER, "data")], [(rv.SAMPLE, "value", "seed-1_sample-0"),
                                                     (rv.COLOUR, "value", "plddt")])):
        from dash import get_app

        key = next(k for k in get_app().callback_map
                   if [x.split("@")[0] for x in k.strip(".").replace("...", " ").split()] ==
                   [f"{i}.{p}" for i, p in outputs])
        outs = [{"id": i, "property": p} for i, p in outputs]
        r = dash_post(bob, {"output": key, "outputs": outs if len(outs) > 1 else outs[0],
                            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
                            "state": [{"id": CURSOR, "property": "data", "value": {"job": done_job.id}}],
                            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]})
        assert r.status_code == 204  # alice's job: nothing, exactly as for a job that does not exist


def test_real_v300_output_shows_per_chain_scores_and_residue_names(tmp_path):
    """The v3.0.0 protein-DNA-ion run: chain pTM/ipTM per chain (null for the ions), token labels."""
    out = tmp_path / "out"
    shutil.copytree(REAL / "local_v300_7rce_best_only", out)
    view = rv.sample_view(7, str(out), "best")
    text = str(view.chains)
    for expected in ("300 residues", "26 residues", "CA (1 atoms)", "NA (1 atoms)", "0.93", "0.89", "0.18",
                     "under 20 tokens", "diagonal of the chain-pair ipTM"):
        assert expected in text, expected
    assert view.tokens["labels"][0] == "A MET 1" and view.tokens["labels"][300] == "B DG 1"
    assert view.tokens["labels"][326:] == ["C CA 1 CA", "D CA 1 CA", "E CA 1 CA", "F NA 1 NA"]
    assert view.tokens["step"] == pae_image.STEP and len(view.tokens["palette"]) == 3 * pae_image.LEVELS
    hover = view.iptm.data[0].customdata
    assert hover[0][0] == "chain A: chain pTM 0.93" and hover[0][1] == "chain A with chain B: ipTM 0.74"
    for expected in ("Interfaces (contact probability ≥ 0.5)", "A – C", "1.3 Å", "0.96"):  # A with a Ca2+ ion
        assert expected in text, expected
    assert view.pae["source"].startswith("/api/jobs/7/pae/best.png?v=") and view.pae["figure"].data[0].type == "image"


def test_a_modified_residue_stays_in_the_cartoon(tmp_path):
    """Three residues of the real server model re-flagged HETATM (as AF3 writes PTMs): cartoon and sticks."""
    from dash_app.components.results import structure_viewer as sv
    from services.results.mmcif_atoms import read_residues
    from tests.services.test_results_residues import REFLAGGED, reflagged_folder

    folder = reflagged_folder(tmp_path)
    residues = read_residues(folder / "fold_5b8c_model_0.cif")
    for colour in ("plddt", "chain"):
        comps = sv.components(residues, colour)
        def picked(kind, comps=comps):
            return {(ch["name"], r["number"]) for c in comps if c["representation"][0]["type"] == kind
                    for t in c["targets"] for ch in t["chains"] for r in ch["residues"]}
        cartoon, sticks = picked("cartoon"), picked("ball-and-stick")
        assert REFLAGGED <= cartoon and len(cartoon) == 370  # every residue in the ribbon: no break
        assert sticks == REFLAGGED  # and the modified ones shown as sticks on it


def test_pymol_and_chimerax_scripts_open_the_model_coloured_with_its_interfaces(app, user_client, conn, done_job):
    out = _sample(user_client, done_job.id, "seed-1_sample-0")
    assert f"/api/jobs/{done_job.id}/open/seed-1_sample-0.pml" in json.dumps(out[rv.CHAINS]["children"])
    pml = user_client.get(f"/api/jobs/{done_job.id}/open/seed-1_sample-0.pml")
    assert pml.status_code == 200 and "attachment" in pml.headers["Content-Disposition"]
    text = pml.get_data(as_text=True).splitlines()
    assert text[0] == "load model.cif, model"  # the v3.0.1 sample folder's unprefixed model
    assert "color 0x0053d6, model and b > 90" in text and "color 0xff7d45, model" in text
    (face,) = [x for x in text if x.startswith("select iface_A_B, ")]
    assert "(chain A and resi " in face and "(chain B and resi " in face
    cxc = user_client.get(f"/api/jobs/{done_job.id}/open/seed-1_sample-0.cxc").get_data(as_text=True).splitlines()
    assert cxc[0] == "open model.cif" and "color #1 & @@bfactor>90 #0053d6" in cxc
    assert any(x.startswith("name frozen iface_A_B /A:") and " /B:" in x for x in cxc)
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    bob = app.server.test_client()
    assert login(bob, "bob", "bob-password-1").status_code == 302
    assert bob.get(f"/api/jobs/{done_job.id}/open/seed-1_sample-0.pml").status_code == 404
    assert user_client.get(f"/api/jobs/{done_job.id}/open/seed-1_sample-0.exe").status_code == 404
