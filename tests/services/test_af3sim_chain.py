"""The simulator's models read as chains in any viewer, and write modified residues as AF3 does.

Checked with gemmi (an independent mmCIF reader): consecutive Cα 3.8 Å apart through helices and
loops, peptide bonds between residues, and a phosphoserine written HETATM inside its polymer entity."""
from __future__ import annotations

import json
import subprocess
import sys

import gemmi
import pytest

from services import results
from services.results.mmcif_atoms import read_residues
from tests.conftest import ROOT

SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLSVEEAKRIIAELLKEAGYDLSKVLEEIRKRIEEALKKGDLSAW"  # 73 residues


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("simchain")
    doc = {"dialect": "alphafold3", "version": 2, "name": "chain check", "modelSeeds": [3],
           "sequences": [{"protein": {"id": "A", "sequence": SEQ,
                                      "modifications": [{"ptmType": "SEP", "ptmPosition": 30}]}},
                         {"dna": {"id": "B", "sequence": "GATTACAGATTACAGATTACA"}},
                         {"ligand": {"id": "C", "ccdCodes": ["ATP"]}}]}
    (tmp / "in.json").write_text(json.dumps(doc))
    subprocess.run([sys.executable, "-m", "services.af3sim", f"--json_path={tmp / 'in.json'}",
                    f"--output_dir={tmp / 'out'}", "--speed=0", "--num_diffusion_samples=1"],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    (job,) = results.job_folders(tmp / "out")
    return next(job.glob("*_model.cif"))


def test_consecutive_calphas_are_3_8_angstrom_apart_and_bonded(model):
    chain = gemmi.read_structure(str(model))[0]["A"]
    assert len(chain) == len(SEQ)
    cas = [r["CA"][0].pos for r in chain]
    gaps = [a.dist(b) for a, b in zip(cas, cas[1:], strict=False)]
    assert all(3.5 <= g <= 4.1 for g in gaps), [round(g, 2) for g in gaps]
    peptide = [chain[i]["C"][0].pos.dist(chain[i + 1]["N"][0].pos) for i in range(len(chain) - 1)]
    assert max(peptide) < 1.8  # C(i)–N(i+1): a bond, so viewers draw one chain
    dna = gemmi.read_structure(str(model))[0]["B"]
    ps = [r["P"][0].pos for r in dna]
    assert all(5.5 <= a.dist(b) <= 7.5 for a, b in zip(ps, ps[1:], strict=False))  # P–P along a strand


def test_a_ptm_is_hetatm_in_its_polymer_entity(model):
    doc = gemmi.cif.read(str(model)).sole_block()
    rows = [r for r in doc.find("_atom_site.", ["group_PDB", "label_comp_id", "label_entity_id", "label_seq_id"])]
    sep = {(r[0], r[2], r[3]) for r in rows if r[1] == "SEP"}
    ser = {r[2] for r in rows if r[1] == "SER"}
    assert sep == {("HETATM", next(iter(ser)), "30")}  # HETATM, the protein's entity, position 30
    assert {r[0] for r in rows if r[1] == "ATP"} == {"HETATM"}
    residues = {(r.chain, r.number): r for r in read_residues(model)}
    assert residues[("A", 30)].modified and not residues[("C", 1)].polymer
