"""Comparing engines on real outputs: Boltz-1 and Chai-1 on PDB 6BJ9, superposed and scored.

The superposition is checked against biotite's (an independent implementation) on CA atoms gemmi reads.
"""
from __future__ import annotations

from pathlib import Path

import biotite.structure as struc
import gemmi
import numpy as np
import pytest

from services.engines import registry
from services.engines.compare import compare

SHARED = Path("/work/shared/engine_outputs")
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="the real engine outputs are not here")


def _runs():
    boltz = registry.get("boltz").read_outputs(SHARED / "boltz1_6BJ9", {})
    chai = registry.get("chai").read_outputs(SHARED / "chai1_6BJ9", {})
    return boltz, chai


def _ca(path: Path) -> dict[tuple[str, int], np.ndarray]:
    st = gemmi.read_structure(str(path))  # copied out: gemmi's positions live only as long as `st`
    return {(ch.name, res.seqid.num): np.array(res["CA"][0].pos.tolist()) for ch in st[0] for res in ch
            if res.find_atom("CA", "*")}


def test_rmsd_after_superposing_on_a_chain_matches_gemmi():
    boltz, chai = _runs()
    result = compare([("Boltz-1", boltz), ("Chai-1", chai)], "A")
    ref, mob = _ca(boltz.samples[0].model), _ca(chai.samples[0].model)
    on_a = [k for k in ref if k[0] == "A" and k in mob]
    xyz = lambda atoms, keys: np.array([atoms[k] for k in keys])  # noqa: E731
    _fitted, transform = struc.superimpose(xyz(ref, on_a), xyz(mob, on_a))
    both = [k for k in ref if k in mob]
    moved = transform.apply(xyz(mob, both))
    expected = np.sqrt(np.mean(np.sum((xyz(ref, both) - moved) ** 2, axis=1)))
    assert result.chain == "A"
    assert result.rmsd[1][0] == pytest.approx(expected, abs=0.01)
    assert result.rmsd[0][0] == 0.0 and result.tm[0][0] == 1.0 and 0.9 < result.tm[1][0] < 1.0


def test_identical_ligand_copies_are_matched_whatever_the_engines_call_them():
    # On 6BJ9 Boltz puts ligand C beside protein chain A and Chai-1 beside chain B: by label they are ~47 Å
    # apart, though both engines place both copies of the cofactor in the same pockets.
    boltz, chai = _runs()
    result = compare([("Boltz-1", boltz), ("Chai-1", chai)], "A")
    assert result.ligand_shift["C"][0][1] < 2.0 and result.ligand_shift["D"][1][0] < 2.0


def test_interfaces_get_each_engines_iptm_and_a_verdict():
    boltz, chai = _runs()
    rows = {r["chains"]: r for r in compare([("Boltz-1", boltz), ("Chai-1", chai)]).interfaces}
    assert set(rows) == {"A–B", "A–C", "A–D", "B–C", "B–D", "C–D"}
    ab = rows["A–B"]
    chai_m = chai.samples[0].score.chain_pair_iptm
    assert ab["iptm"]["Chai-1"] == pytest.approx((chai_m[0][1] + chai_m[1][0]) / 2, abs=1e-3)
    assert ab["verdict"] == "agree: confident"
    assert {r["verdict"] for r in rows.values()} <= {"agree: confident", "agree: not confident", "disagree"}


def test_an_engine_without_models_is_named_not_compared(tmp_path):
    boltz, _chai = _runs()
    empty = registry.get("chai").read_outputs(tmp_path, {})
    result = compare([("Boltz-1", boltz), ("Chai-1", empty)])
    assert [s.label for s in result.sides] == ["Boltz-1"] and result.notes == ["Chai-1: no model to compare."]
