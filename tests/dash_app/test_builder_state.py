"""The builder's pure logic: form state <-> AF3 JSON, problem paths -> fields, chains, FASTA, bonds."""
import json
import random
from pathlib import Path

import pytest

from dash_app import builder as B
from services.af3 import validate
from services.platform.errors import InvalidInput

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def protein_ligand_state():
    state = B.empty_state()
    uid = state["entities"][0]["uid"]
    state = B.update_entity(state, uid, sequence="mktay iak\nqr", copies=2)
    state = B.add_entity(state, "ligand", ccd="atp")
    return {**state, "name": "Kinase + ATP"}


def test_fresh_form_is_invalid_only_for_what_is_missing():
    ev = B.evaluate(B.empty_state())
    assert not ev.valid
    fields = {(B.locate(p.path).card, B.locate(p.path).field) for p in ev.problems if p.is_error}
    assert fields == {(None, "name"), (0, "sequence")}


def test_protein_ligand_translates_to_valid_af3():
    ev = B.evaluate(protein_ligand_state())
    assert ev.valid, ev.problems
    assert ev.af3["sequences"] == [{"protein": {"id": ["A", "B"], "sequence": "MKTAYIAKQR"}},
                                   {"ligand": {"id": "C", "ccdCodes": ["ATP"]}}]
    assert ev.folder == "Kinase__ATP"  # AF3: spaces -> "_", then "+" dropped
    assert ev.chains == {0: ["A", "B"], 1: ["C"]}
    assert ev.size.tokens == 2 * 10 + 31 and ev.size.bucket == 128


@pytest.mark.parametrize("sample", ["protein_ligand_ion.json", "protein_only.json", "rna_dna.json"])
def test_samples_round_trip_through_the_form(sample):
    doc = json.loads((SAMPLES / sample).read_text())
    state, notes = B.from_af3(doc)
    assert B.to_af3(state) == doc
    assert notes == []


def test_loaded_chain_ids_are_renumbered_and_bonds_follow():
    doc = {"dialect": "alphafold3", "version": 1, "name": "x", "modelSeeds": [1],
           "sequences": [{"protein": {"id": "H", "sequence": "MCK"}}, {"ligand": {"id": "Z", "ccdCodes": ["HEM"]}}],
           "bondedAtomPairs": [[["H", 2, "SG"], ["Z", 1, "FE"]]]}
    state, notes = B.from_af3(doc)
    af3 = B.to_af3(state)
    assert af3["bondedAtomPairs"] == [[["A", 2, "SG"], ["B", 1, "FE"]]]
    assert "H -> A" in notes[0] and validate(af3) == []


def test_msa_and_template_modes():
    state = B.empty_state()
    uid = state["entities"][0]["uid"]
    none = B.to_af3(B.update_entity(state, uid, sequence="MK", msa_mode="none", template_mode="none"))
    assert none["sequences"][0]["protein"] == {"id": "A", "sequence": "MK", "unpairedMsa": "", "pairedMsa": "",
                                               "templates": []}
    custom = B.to_af3(B.update_entity(state, uid, sequence="MK", msa_mode="custom", msa_text=">q\nMK\n"))
    assert custom["sequences"][0]["protein"]["unpairedMsa"] == ">q\nMK\n"
    rna = B.to_af3(B.add_entity({**state, "entities": []}, "rna", sequence="ACGU", msa_mode="none"))
    assert rna["sequences"][0]["rna"] == {"id": "A", "sequence": "ACGU", "unpairedMsa": ""}


def test_sequence_issues_give_positions_ignoring_spaces():
    assert B.sequence_issues("protein", "MK T1\nX") == [(4, "1")]  # X (unknown residue) is allowed
    assert B.sequence_issues("protein", "MKTBZ") == [(4, "B"), (5, "Z")]
    assert B.sequence_issues("rna", "ACGT") == [(4, "T")]
    assert B.describe_issues([(i, "1") for i in range(1, 8)], limit=2) == "'1' at 1, '1' at 2 and 5 more"


def test_every_validator_problem_lands_on_a_card_field():
    state = B.empty_state()
    uid = state["entities"][0]["uid"]
    state = B.update_entity(state, uid, sequence="MKB", mods=[{"code": "CCD_SEP", "position": 9}])
    state = B.add_entity(state, "ligand", ligand_mode="smiles", smiles="C(C")
    state = {**state, "name": "ok", "seeds": [1, 1]}
    ev = B.evaluate(state)
    where = {(B.locate(p.path).card, B.locate(p.path).field, B.locate(p.path).row) for p in ev.problems}
    assert (0, "sequence", None) in where
    assert (0, "mods", 0) in where
    assert (1, "smiles", None) in where
    assert (None, "seeds", 1) in where  # duplicate seed warning
    assert all(p.path for p in ev.problems)


def test_locate_paths():
    assert B.locate("name") == B.Location(None, "name")
    assert B.locate("sequences[3].ligand.ccdCodes[0]") == B.Location(3, "ccd")
    assert B.locate("sequences[1].protein.modifications[2].ptmPosition") == B.Location(1, "mods", 2)
    assert B.locate("sequences[0].protein.id[1]") == B.Location(0, "copies")
    assert B.locate("sequences[0].protein") == B.Location(0, "card")
    assert B.locate("bondedAtomPairs[4][1][0]") == B.Location(None, "bonds", 4)


def test_form_only_problems_copies_and_empty_ligand():
    state = B.add_entity(B.update_entity(B.empty_state(), 0, sequence="MK", copies=None), "ion")
    ev = B.evaluate({**state, "name": "x"})
    msgs = {(B.locate(p.path).card, B.locate(p.path).field): p.message for p in ev.problems}
    assert "Copies" in msgs[(0, "copies")]
    assert "Pick an ion" in msgs[(1, "ccd")]  # the ion card speaks of ions
    assert not ev.valid


def test_fasta_replaces_blank_form_and_merges_identical_records():
    state = B.entities_from_fasta(B.empty_state(), ">a\nMKT\n>b\nMKT\n>c\nACGT\n>d\nACGU\n")
    assert [(e["kind"], e["sequence"], e["copies"]) for e in state["entities"]] == [
        ("protein", "MKT", 2), ("dna", "ACGT", 1), ("rna", "ACGU", 1)]
    assert len({e["uid"] for e in state["entities"]}) == 3
    kept = B.entities_from_fasta(protein_ligand_state(), ">x\nGG\n")
    assert len(kept["entities"]) == 3
    with pytest.raises(InvalidInput, match="position 2"):
        B.entities_from_fasta(B.empty_state(), ">x\nM1K\n")


def test_duplicate_remove_and_seeds():
    state = protein_ligand_state()
    dup = B.duplicate_entity(state, 0)
    assert [e["uid"] for e in dup["entities"]] == [0, 2, 1]
    assert B.chain_ids(dup) == {0: ["A", "B"], 2: ["C", "D"], 1: ["E"]}
    assert [e["uid"] for e in B.remove_entity(dup, 0)["entities"]] == [2, 1]
    assert B.add_seed(state)["seeds"] == [1, 2]
    rnd = B.add_seed(state, random.Random(3))["seeds"][1]
    assert 0 <= rnd <= B.MAX_SEED


def test_apply_form_reads_fields_mods_and_bonds():
    state = protein_ligand_state()
    out = B.apply_form(state, "new", {"sequence": {0: "MCK"}, "copies": {0: 1.0}, "ccd": {1: "HEM"}},
                       {(0, 0): ("sep", 3)}, {"a_chain": {0: "A"}, "a_res": {0: 2}, "a_atom": {0: "SG"},
                                              "b_chain": {0: "B"}, "b_res": {0: 1}, "b_atom": {0: "FE"}})
    assert out["name"] == "new" and out["entities"][0]["copies"] == 1
    af3 = B.to_af3(out)
    assert af3["sequences"][0]["protein"]["modifications"] == [{"ptmType": "SEP", "ptmPosition": 3}]
    assert af3["bondedAtomPairs"] == [[["A", 2, "SG"], ["B", 1, "FE"]]]
    assert B.evaluate(out).valid


def test_bond_editor_offers_only_existing_chains_and_residues():
    state = protein_ligand_state()
    state = B.add_entity(state, "ligand", ligand_mode="smiles", smiles="CCO")
    assert [o["value"] for o in B.chain_options(state)] == ["A", "B", "C"]  # the SMILES ligand D cannot bond
    assert [o["value"] for o in B.residue_options(state, "A")] == list(range(1, 11))
    assert B.residue_options(state, "C") == [{"label": "1 ATP", "value": 1}]
    assert B.residue_options(state, "Q") == []


def test_server_export_and_blockers():
    ev = B.evaluate(protein_ligand_state(), "alphafoldserver")
    assert ev.export[0]["sequences"][1] == {"ligand": {"ligand": "CCD_ATP", "count": 1}}
    state = B.add_entity(protein_ligand_state(), "ligand", ligand_mode="smiles", smiles="CCO")
    ev = B.evaluate(state, "alphafoldserver")
    assert ev.export is None and "SMILES" in ev.export_blockers[0]


def test_large_job_warns_and_user_limit():
    state = B.update_entity(B.empty_state(), 0, sequence="A" * 6000)
    ev = B.evaluate({**state, "name": "big"}, max_tokens=5000)
    assert ev.valid and ev.size.tokens == 6000
    assert any("exceed your limit" in w for w in ev.size_warnings)
    assert not all(ev.size.fits.values())
