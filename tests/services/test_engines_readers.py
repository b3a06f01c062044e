"""The engine readers on real outputs: Boltz-1 and Chai-1 predictions of PDB 6BJ9 (../shared/engine_outputs).

Oracles are the engines' own files, read here independently (json, numpy, gemmi), never the readers.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import gemmi
import numpy as np
import pytest

from services.engines.boltz.reader import read_outputs as read_boltz
from services.engines.chai.reader import read_outputs as read_chai
from tests.support.pae_png import decoded_pae

SHARED = Path(__file__).resolve().parents[2] / ".." / ".." / "shared" / "engine_outputs"
SHARED = SHARED if SHARED.is_dir() else Path("/work/shared/engine_outputs")
BOLTZ, CHAI = SHARED / "boltz1_6BJ9", SHARED / "chai1_6BJ9"
pytestmark = pytest.mark.skipif(not BOLTZ.is_dir(), reason="the real engine outputs are not here")


def _bfactors(path: Path) -> list[float]:
    st = gemmi.read_structure(str(path))
    return [a.b_iso for ch in st[0] for res in ch for a in res]


def test_boltz_samples_scores_and_chains_are_boltz_own():
    out = read_boltz(BOLTZ)
    docs = {n: json.loads((BOLTZ / f"confidence_test_mmseqs_model_{n}.json").read_text()) for n in (0, 1)}
    assert [s.score.key for s in out.samples] == sorted(
        ["model-0", "model-1"], key=lambda k: -docs[int(k[-1])]["confidence_score"])
    best = out.samples[0]
    doc = docs[best.score.sample]
    assert best.score.best and not out.samples[1].score.best
    assert best.score.ranking_score == doc["confidence_score"]
    assert (best.score.ptm, best.score.iptm) == (doc["ptm"], doc["iptm"])
    assert best.chains == ["A", "B", "C", "D"]
    assert best.chain_ptm == {c: doc["chains_ptm"][str(i)] for i, c in enumerate("ABCD")}
    assert best.score.chain_pair_iptm[2][0] == doc["pair_chains_iptm"]["2"]["0"]  # not symmetric: kept as written
    assert best.plddt == round(doc["complex_plddt"] * 100, 2)
    assert out.affinity == {}  # Boltz-1 writes none


def test_boltz_pae_rows_are_named_from_the_model():
    out = read_boltz(BOLTZ)
    best = out.samples[0]
    conf = out.confidences(best)
    with np.load(BOLTZ / f"pae_test_mmseqs_model_{best.score.sample}.npz") as data:
        pae = data["pae"]
    n = pae.shape[0]
    assert conf.note == ""
    assert len(conf.tokens) == n == 888
    st = gemmi.read_structure(str(BOLTZ / f"test_mmseqs_model_{best.score.sample}.cif"))
    # one token per polymer residue, one per ligand atom: gemmi counts both from Boltz's own model
    starts, at = [], 0
    for chain in st[0]:
        starts.append((chain.name, at))
        at += sum(len(res) if res.het_flag == "H" else 1 for res in chain)
    assert conf.chain_starts == starts and at == n
    # every cell of Boltz's matrix in the image (888 tokens: no reduction), to the image's 0.1 Å step
    shown = decoded_pae(conf.pae_png)
    assert conf.pae_block == 1 and shown.shape == (n, n)
    assert np.abs(shown - np.minimum(pae, 25.5)).max() <= 0.05 + 1e-4


def test_boltz_affinity_is_read_when_boltz2_writes_it(tmp_path):
    folder = tmp_path / "boltz_results_test_mmseqs" / "predictions" / "test_mmseqs"
    shutil.copytree(BOLTZ, folder)
    # Boltz-2's affinity_<name>.json keys (boltz docs/prediction.md)
    (folder / "affinity_test_mmseqs.json").write_text(json.dumps(
        {"affinity_pred_value": -1.25, "affinity_probability_binary": 0.81, "affinity_pred_value1": -1.1,
         "affinity_probability_binary1": 0.8, "affinity_pred_value2": -1.4, "affinity_probability_binary2": 0.82}))
    out = read_boltz(tmp_path)
    assert out.folder == folder
    assert out.affinity["affinity_pred_value"] == -1.25 and out.affinity["affinity_probability_binary"] == 0.81


def test_chai_samples_rank_by_aggregate_score_and_chains_map_back():
    out = read_chai(CHAI, {"A": "P", "B": "Q", "C": "L", "D": "M"})
    raw = {n: np.load(CHAI / f"scores.model_idx_{n}.npz") for n in (0, 1)}
    order = sorted((0, 1), key=lambda n: -float(raw[n]["aggregate_score"][0]))
    assert [s.score.sample for s in out.samples] == order
    best, data = out.samples[0], raw[order[0]]
    assert best.score.ranking_score == pytest.approx(float(data["aggregate_score"][0]))
    assert best.score.iptm == pytest.approx(float(data["iptm"][0]))
    assert best.chains == ["P", "Q", "L", "M"]
    assert best.chain_ptm["L"] == pytest.approx(float(data["per_chain_ptm"][0][2]), abs=1e-4)
    assert best.score.chain_pair_iptm[0][1] == pytest.approx(float(data["per_chain_pair_iptm"][0][0][1]), abs=1e-4)
    assert best.score.has_clash is bool(data["has_inter_chain_clashes"][0])
    assert best.plddt == pytest.approx(np.mean(_bfactors(CHAI / f"pred.model_idx_{order[0]}.cif")), abs=0.01)
    assert out.notes and "PAE" in out.notes[0] and out.confidences(best) is None


def test_missing_outputs_say_so(tmp_path):
    assert read_boltz(tmp_path).samples == [] and "confidence" in read_boltz(tmp_path).notes[0]
    assert read_chai(tmp_path).samples == [] and "scores" in read_chai(tmp_path).notes[0]


OF3 = Path(__file__).resolve().parents[1] / "fixtures" / "engine_outputs" / "openfold3_6BJ9"


def test_openfold3_samples_from_its_published_output():
    from services.engines.openfold3.reader import read_outputs as read_of3

    out = read_of3(OF3)
    docs = {n: json.loads((OF3 / "6BJ9" / "seed_1" / f"6BJ9_seed_1_sample_{n}_confidences_aggregated.json")
                          .read_text()) for n in (1, 2)}
    assert [s.score.sample for s in out.samples] == sorted((1, 2), key=lambda n: -docs[n]["sample_ranking_score"])
    best, doc = out.samples[0], docs[out.samples[0].score.sample]
    assert best.score.key == f"seed-1_sample-{best.score.sample}" and best.score.seed == 1
    assert best.chains == ["A", "B", "C", "D"] and best.chain_ptm == doc["chain_ptm"]
    assert best.score.chain_pair_iptm[2][3] == best.score.chain_pair_iptm[3][2] == doc["chain_pair_iptm"]["(C, D)"]
    assert best.plddt == doc["avg_plddt"] and best.score.has_clash is False


def test_openfold3_query_has_the_shape_openfold3_serialises():
    from services.af3.model import FoldJob
    from services.engines.openfold3.inputs import write_input

    ran = json.loads((OF3 / "inference_query_set.json").read_text())["queries"]["6BJ9"]
    sequence = ran["chains"][0]["sequence"]
    job = FoldJob.from_af3({"dialect": "alphafold3", "version": 1, "name": "6BJ9", "modelSeeds": [42], "sequences": [
        {"protein": {"id": ["A", "B"], "sequence": sequence}}, {"ligand": {"id": ["C", "D"], "ccdCodes": ["ACO"]}}]})
    written = json.loads(write_input(job).files["query.json"])["queries"]["6BJ9"]["chains"]
    for mine, theirs in zip(written, ran["chains"], strict=True):
        assert mine["molecule_type"] == theirs["molecule_type"].lower()
        assert {k: mine[k] for k in mine if k != "molecule_type"} == \
            {k: theirs[k] for k in mine if k != "molecule_type"}
