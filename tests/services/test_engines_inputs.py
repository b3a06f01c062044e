"""Input writers and refusals: FoldDeck's AF3 job in each engine's documented input format.

Formats from each engine's own documentation: Boltz docs/prediction.md (YAML), chai-lab README and
examples/restraints (FASTA, restraints CSV), Protenix docs/infer_json_format.md, OpenFold3's query JSON.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from services.af3.model import FoldJob
from services.engines import registry
from services.engines.boltz import inputs as boltz
from services.engines.chai import inputs as chai
from services.engines.openfold3 import inputs as of3
from services.engines.protenix import inputs as protenix
from services.platform.errors import InvalidInput

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protein_ligand_ion.json"


def _job(**extra) -> FoldJob:
    doc = {"dialect": "alphafold3", "version": 1, "name": "pair", "modelSeeds": [7], "sequences": [
        {"protein": {"id": ["A", "B"], "sequence": "MCKLV", "modifications": [{"ptmType": "SEP", "ptmPosition": 4}],
                     "unpairedMsa": ">query\nMCKLV\n>hit\nMCRLV\n", "pairedMsa": "", "templates": []}},
        {"dna": {"id": "C", "sequence": "GATC"}},
        {"ligand": {"id": "D", "smiles": "CCO"}}]}
    doc.update(extra)
    return FoldJob.from_af3(doc)


def test_boltz_yaml_follows_boltz_schema_and_asks_affinity_for_the_small_molecule():
    job = FoldJob.from_af3(json.loads(SAMPLE.read_text()))
    written = boltz.write_input(job)
    doc = yaml.safe_load(written.files[written.main])
    assert written.main.endswith(".yaml") and doc["version"] == 1
    kinds = [next(iter(e)) for e in doc["sequences"]]
    assert kinds == ["protein", "ligand", "ligand", "ligand"]
    assert doc["sequences"][0]["protein"]["modifications"] == [{"position": 8, "ccd": "SEP"}]
    assert doc["sequences"][1]["ligand"] == {"id": ["B"], "ccd": "ATP"}
    assert doc["sequences"][2]["ligand"]["id"] == ["C", "D"]  # Mg ions: copies share one entry
    assert doc["sequences"][3]["ligand"]["smiles"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert doc["properties"] == [{"affinity": {"binder": "B"}}]  # ATP, not an ion
    assert "msa" not in doc["sequences"][0]["protein"]  # none given: the command's MSA source decides


def test_boltz_writes_the_msa_beside_the_yaml_and_bonds_as_constraints():
    job = _job(bondedAtomPairs=[[["A", 2, "SG"], ["B", 2, "SG"]]])
    written = boltz.write_input(job)
    doc = yaml.safe_load(written.files[written.main])
    protein = doc["sequences"][0]["protein"]
    assert written.files[protein["msa"].removeprefix("./")] == b">query\nMCKLV\n>hit\nMCRLV\n"
    assert doc["constraints"] == [{"bond": {"atom1": ["A", 2, "SG"], "atom2": ["B", 2, "SG"]}}]
    assert "msa" not in doc["sequences"][1]["dna"]
    assert boltz.refusals(job) == []


def test_chai_fasta_has_one_entry_per_copy_inline_modifications_and_covalent_restraints():
    job = _job(bondedAtomPairs=[[["A", 2, "SG"], ["B", 2, "SG"]]],
               sequences=[{"protein": {"id": ["A", "B"], "sequence": "MCKLV",
                                       "modifications": [{"ptmType": "SEP", "ptmPosition": 4}]}},
                          {"ligand": {"id": "X", "ccdCodes": ["MG"]}}])
    assert chai.refusals(job) == []
    written = chai.write_input(job)
    assert written.files["input.fasta"].decode().splitlines() == [
        ">protein|name=A", "MCK(SEP)V", ">protein|name=B", "MCK(SEP)V", ">ligand|name=X", "[Mg+2]"]
    assert written.chains == {"A": "A", "B": "B", "C": "X"}
    rows = list(csv.DictReader(io.StringIO(written.files[chai.RESTRAINTS].decode())))
    assert rows[0]["chainA"] == "A" and rows[0]["res_idxA"] == "C2@SG" and rows[0]["connection_type"] == "covalent"


def test_chai_refuses_ccd_ligands_and_its_msas_with_the_reason():
    job = FoldJob.from_af3(json.loads(SAMPLE.read_text()))
    why = chai.refusals(job)
    assert any("SMILES only" in w and "ATP" in w for w in why)
    assert not any("MG" in w for w in why)  # an ion has a SMILES Chai-1 reads
    assert any(".aligned.pqt" in w for w in chai.refusals(_job()))


def test_protenix_json_counts_copies_and_names_bonds_by_entity_and_copy():
    job = _job(bondedAtomPairs=[[["B", 2, "SG"], ["C", 1, "P"]]])
    written = protenix.write_input(job)
    (doc,) = json.loads(written.files["input.json"])
    protein = doc["sequences"][0]["proteinChain"]
    assert protein["count"] == 2 and protein["modifications"] == [{"ptmType": "CCD_SEP", "ptmPosition": 4}]
    assert written.files["msa_1/non_pairing.a3m"].startswith(b">query")
    assert doc["sequences"][1] == {"dnaSequence": {"sequence": "GATC", "count": 1}}
    assert doc["sequences"][2] == {"ligand": {"ligand": "CCO", "count": 1}}
    assert doc["covalent_bonds"] == [{"left_entity": "1", "left_copy": 2, "left_position": "2", "left_atom": "SG",
                                      "right_entity": "2", "right_copy": 1, "right_position": "1",
                                      "right_atom": "P"}]
    assert written.chains == {"A": "A", "B": "B", "C": "C", "D": "D"}


def test_protenix_writes_ions_and_multi_component_ligands():
    job = FoldJob.from_af3(json.loads(SAMPLE.read_text()))
    (doc,) = json.loads(protenix.write_input(job).files["input.json"])
    assert {"ion": {"ion": "MG", "count": 2}} in doc["sequences"]
    assert {"ligand": {"ligand": "CCD_ATP", "count": 1}} in doc["sequences"]


def test_openfold3_query_keeps_chain_ids():
    written = of3.write_input(_job())
    chains = json.loads(written.files["query.json"])["queries"]["pair"]["chains"]
    assert chains[0]["chain_ids"] == ["A", "B"] and chains[0]["non_canonical_residues"] == {"4": "SEP"}
    assert chains[0]["main_msa_file_paths"] == ["./msa_1"] and "msa_1/colabfold_main.a3m" in written.files
    assert chains[2] == {"molecule_type": "ligand", "chain_ids": ["D"], "smiles": "CCO"}


def test_user_ccd_is_refused_by_every_engine_but_alphafold3():
    job = _job(userCCD="data_LIG\n#\n_chem_comp.id LIG\n")
    with pytest.raises(InvalidInput) as err:
        registry.refuse(job, ["af3", "boltz", "chai", "protenix", "openfold3"])
    problems = err.value.problems
    for label in ("Boltz-2", "Chai-1", "Protenix", "OpenFold3"):
        assert any(p.startswith(f"{label}: ") and "user CCD" in p for p in problems), label
    assert not any(p.startswith("AlphaFold 3") for p in problems)
    registry.refuse(job, ["af3"])  # AlphaFold 3 runs it


def test_an_engine_without_a_command_is_not_offered(tmp_path):
    from services.platform.settings import load_settings

    settings = load_settings({"FOLDDECK_PROTENIX_COMMAND": ""}, None, data_dir=tmp_path)
    assert [e.name for e in registry.offered(settings)] == ["af3", "boltz", "chai", "openfold3"]
    with pytest.raises(InvalidInput) as err:
        registry.refuse(_job(), ["protenix"], settings)
    assert "FOLDDECK_PROTENIX_COMMAND" in err.value.problems[0]
    with pytest.raises(InvalidInput):
        registry.get("rosetta")


def test_stand_ins_are_not_offered_beside_a_real_alphafold3(tmp_path):
    from services.platform.settings import load_settings

    real = load_settings({"FOLDDECK_AF3_COMMAND": "run_alphafold.py --json_path={input} --output_dir={output}"},
                         None, data_dir=tmp_path)
    assert [e.name for e in registry.offered(real)] == ["af3"]  # no made-up Boltz beside real AF3
    with pytest.raises(InvalidInput, match="cannot run") as err:
        registry.refuse(_job(), ["boltz"], real)
    assert "FOLDDECK_BOLTZ_COMMAND" in err.value.problems[0]
    both = real.with_overrides(boltz_command="boltz predict {input} --out_dir {output}")
    assert [e.name for e in registry.offered(both)] == ["af3", "boltz"]
