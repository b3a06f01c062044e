"""Polymer or ligand by entity, not by record type, on the real AF3 and AlphaFold Server models.

AF3 writes modified residues (PTMs, modified nucleotides) as HETATM records of a polymer entity.
The server model here has none, so three of its residues are re-flagged HETATM, as AF3 would
write a phosphoserine: they must stay in their chain."""
from __future__ import annotations

import shutil

from services import results
from services.results.mmcif_atoms import read_residues
from tests.conftest import ROOT

REAL = ROOT / "tests" / "fixtures" / "af3_outputs"
SERVER = REAL / "server_fold_5b8c" / "Example"
REFLAGGED = {("A", 10), ("A", 11), ("B", 5)}


def reflag(model_text: str, residues: set[tuple[str, int]] = REFLAGGED) -> str:
    """Return the model with the atoms of `residues` written as HETATM (columns kept as AF3 aligns them)."""
    out = []
    for line in model_text.splitlines(keepends=True):
        parts = line.split()
        if line.startswith("ATOM") and (parts[6], int(parts[15])) in residues:
            line = "HETATM" + line[4:]
        out.append(line)
    return "".join(out)


def reflagged_folder(tmp_path):
    folder = tmp_path / "Example"
    shutil.copytree(SERVER, folder)
    model = folder / "fold_5b8c_model_0.cif"
    model.write_text(reflag(model.read_text()))
    return folder


def test_reflagged_residues_are_hetatm_of_a_polymer_and_stay_in_the_chain(tmp_path):
    folder = reflagged_folder(tmp_path)
    residues = read_residues(folder / "fold_5b8c_model_0.cif")
    flagged = [r for r in residues if r.hetero]
    assert {(r.chain, r.number) for r in flagged} == REFLAGGED  # the rewrite did what it says
    assert all(r.polymer and r.modified for r in flagged)
    assert all(r.polymer for r in residues) and len(residues) == 370
    conf = results.best_confidences(folder)
    assert len(conf.tokens) == 370 and not any(t.atom for t in conf.tokens)  # one token per residue, as AF3 wrote


def test_ions_and_dna_of_the_real_v300_model():
    model = next((REAL / "local_v300_7rce_best_only").glob("*/*_model.cif"))
    residues = read_residues(model)
    by_chain = {}
    for r in residues:
        by_chain.setdefault(r.chain, []).append(r)
    assert all(r.polymer and not r.hetero for c in "AB" for r in by_chain[c])
    assert [(c, by_chain[c][0].name, by_chain[c][0].polymer) for c in "CDEF"] == [
        ("C", "CA", False), ("D", "CA", False), ("E", "CA", False), ("F", "NA", False)]
    conf = results.best_confidences(model.parent)
    ions = conf.tokens[326:]
    assert [t.label for t in ions] == ["C CA 1 CA", "D CA 1 CA", "E CA 1 CA", "F NA 1 NA"]
    assert conf.tokens[0].label.startswith("A ") and conf.tokens[300].label.startswith("B D")


def test_without_an_entity_loop_the_sequence_position_decides(tmp_path):
    text = (SERVER / "fold_5b8c_model_0.cif").read_text()
    start = text.index("loop_\n_entity.id")
    end = text.index("#", start)
    model = tmp_path / "m.cif"
    model.write_text(reflag(text[:start] + text[end + 2:]))
    residues = read_residues(model)
    assert all(r.polymer for r in residues) and sum(r.modified for r in residues) == 3


def test_the_ptm_diagonal_and_per_chain_scores_are_read():
    contents = results.describe_folder(REAL / "local_v300_7rce_best_only")
    (score,) = results.sample_scores(contents)
    assert len(score.chain_ptm) == len(score.chain_iptm) == 6
    assert score.chain_ptm == [0.93, 0.18, None, None, None, None]  # AF3 writes null for the ions
    assert score.chain_iptm == [0.89, 0.4, 0.66, 0.65, 0.58, 0.6]
    assert [score.chain_pair_iptm[i][i] for i in range(6)] == score.chain_ptm  # the diagonal is per-chain pTM


def test_the_iptm_warning_carries_afs_caveat_for_small_chains():
    score = results.SampleScore("k", "k", 1, 0, 0.4, 0.5, 0.45)
    plain = results.trouble(score, {"A": 300, "B": 250})
    assert "likely wrong" in plain[0] and "under 20" not in plain[0]
    small = results.trouble(score, {"A": 300, "B": 12, "C": 1})
    assert "chains B, C have under 20 tokens" in small[0] and "chain ipTM" in small[0]
