"""Interfaces from AF3's contact_probs on the real outputs, checked against the models' own coordinates
(gemmi, an independent reader) and AF3's own chain_pair_pae_min."""
from __future__ import annotations

import gemmi
import numpy as np
import pytest

from services import results
from services.results.interfaces import find_interfaces
from tests.conftest import ROOT

REAL = ROOT / "tests" / "fixtures" / "af3_outputs"


@pytest.mark.parametrize("name", ["server_fold_5b8c", "local_v301_pdl1_binder", "local_v300_7rce_best_only"])
def test_interface_residues_touch_the_other_chain_in_the_model(name):
    contents = results.describe_folder(REAL / name)
    (score, *_) = results.sample_scores(contents)
    files = results.find_sample(contents, score.key)
    conf = results.sample_confidences(files)
    assert conf.interfaces, "every real output here has chains in contact"
    model = gemmi.read_structure(str(files.model))[0]
    search = gemmi.NeighborSearch(model, gemmi.UnitCell(), 6).populate()
    for face in conf.interfaces:
        for chain, other, numbers in ((face.chain_a, face.chain_b, face.residues_a),
                                      (face.chain_b, face.chain_a, face.residues_b)):
            residues = {r.seqid.num: r for r in model[chain]}
            for n in numbers:  # AF3 predicts < 8 Å between tokens: some atom of the other chain is near
                near = {m.to_cra(model).chain.name for a in residues[n]
                        for m in search.find_atoms(a.pos, "\0", radius=12)}
                assert other in near, (name, chain, n, other)
        i, j = conf.chain_ids.index(face.chain_a), conf.chain_ids.index(face.chain_b)
        given = [v for v in (score.chain_pair_pae_min[i][j], score.chain_pair_pae_min[j][i]) if v is not None]
        if given:  # AF3 writes null for ion pairs; its minimum is over all pairs, ours over the contacting ones
            assert face.pae_min >= min(given) - 0.05


def test_the_threshold_and_both_directions():
    contact = np.zeros((5, 5), dtype=np.float32)
    contact[0, 3] = 0.7  # A1 with B1 one way only: still a contact
    contact[4, 1] = 0.49  # under the threshold
    pae = np.full((5, 5), 20.0, dtype=np.float32)
    pae[3, 0] = 2.5
    faces = find_interfaces(contact, pae, [1, 2, 3, 1, 2], [("A", 0), ("B", 3)], 0.5)
    assert [(f.chain_a, f.chain_b, f.residues_a, f.residues_b, f.contacts, f.pae_min) for f in faces] == [
        ("A", "B", (1,), (1,), 1, 2.5)]
