"""A table of valid and invalid AF3 / AlphaFold Server documents: each invalid case names its path and gist."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from services.af3 import load_jobs, validate

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def base() -> dict:
    """Return a small valid AF3 job with a protein, an RNA, a DNA, a CCD ligand and a SMILES ligand."""
    return {
        "dialect": "alphafold3", "version": 1, "name": "demo job", "modelSeeds": [1],
        "sequences": [
            {"protein": {"id": ["A", "B"], "sequence": "MKTAYIAKQR"}},
            {"rna": {"id": "C", "sequence": "ACGUACGU"}},
            {"dna": {"id": "D", "sequence": "ACGTACGT"}},
            {"ligand": {"id": "E", "ccdCodes": ["NAG", "NAG"]}},
            {"ligand": {"id": "F", "smiles": "CCO"}},
        ],
    }


def edit(fn) -> dict:
    """Return base() after `fn` changed it."""
    doc = base()
    fn(doc)
    return doc


def prot(doc: dict) -> dict:
    """Return the protein body of a base() document."""
    return doc["sequences"][0]["protein"]


VALID = {
    "base": base(),
    "version 4 description": edit(lambda d: (d.update(version=4), prot(d).update(description="kinase"))),
    "msa-free protein": edit(lambda d: prot(d).update(unpairedMsa="", pairedMsa="", templates=[])),
    "both msas, templates searched": edit(lambda d: prot(d).update(unpairedMsa=">q\nMKTAYIAKQR\n", pairedMsa="")),
    "template-free search": edit(lambda d: prot(d).update(templates=[])),
    "custom template": edit(lambda d: prot(d).update(unpairedMsa="", pairedMsa="", templates=[
        {"mmcif": "data_x\n", "queryIndices": [0, 1], "templateIndices": [3, 4]}])),
    "ptm": edit(lambda d: prot(d).update(modifications=[{"ptmType": "SEP", "ptmPosition": 10}])),
    "bond protein-ligand": edit(lambda d: d.update(bondedAtomPairs=[[["A", 1, "N"], ["E", 2, "C1"]]])),
    "null bonds": edit(lambda d: d.update(bondedAtomPairs=None)),
    "multi-letter ids": edit(lambda d: prot(d).update(id=["AA", "BA"])),
    "rna msa path v2": edit(lambda d: (d.update(version=2), d["sequences"][1]["rna"].update(unpairedMsaPath="r.a3m"))),
    "max seed": edit(lambda d: d.update(modelSeeds=[0, 4294967295])),
}

# name -> (document, expected path, words the message must contain)
INVALID = {
    "not an object": (5, "", "JSON object"),
    "unknown top key": (edit(lambda d: d.update(userCcd="x")), "userCcd", "Did you mean 'userCCD'"),
    "missing dialect": (edit(lambda d: d.pop("dialect")), "dialect", "missing"),
    "server dialect object": (edit(lambda d: d.update(dialect="alphafoldserver")), "dialect", "wrapped in a JSON list"),
    "version 5": (edit(lambda d: d.update(version=5)), "version", "1, 2, 3 or 4"),
    "version as text": (edit(lambda d: d.update(version="1")), "version", "whole numbers"),
    "missing name": (edit(lambda d: d.pop("name")), "name", "no name"),
    "name sanitises empty": (edit(lambda d: d.update(name="***")), "name", "no usable character"),
    "no seeds": (edit(lambda d: d.update(modelSeeds=[])), "modelSeeds", "empty"),
    "seed too big": (edit(lambda d: d.update(modelSeeds=[2**32])), "modelSeeds[0]", "between 0 and 4294967295"),
    "seed negative": (edit(lambda d: d.update(modelSeeds=[-1])), "modelSeeds[0]", "out of range"),
    "seed as text": (edit(lambda d: d.update(modelSeeds=["5"])), "modelSeeds[0]", "not a whole number"),
    "seed float": (edit(lambda d: d.update(modelSeeds=[1.7])), "modelSeeds[0]", "not a whole number"),
    "no sequences key": (edit(lambda d: d.pop("sequences")), "sequences", "no \"sequences\""),
    "empty sequences": (edit(lambda d: d.update(sequences=[])), "sequences", "no chains"),
    "two entity types": (edit(lambda d: d["sequences"][0].update(rna={"id": "Z", "sequence": "A"})),
                         "sequences[0]", "exactly one type"),
    "server entity name": (edit(lambda d: d["sequences"].append({"proteinChain": {"sequence": "M"}})),
                           "sequences[5].proteinChain", "write 'protein'"),
    "ion entity": (edit(lambda d: d["sequences"].append({"ion": {"id": "G"}})), "sequences[5].ion", "'ligand'"),
    "unknown entity key": (edit(lambda d: prot(d).update(sequense="M")), "sequences[0].protein.sequense",
                           "Did you mean 'sequence'"),
    "missing id": (edit(lambda d: prot(d).pop("id")), "sequences[0].protein.id", "needs a chain id"),
    "lowercase id": (edit(lambda d: prot(d).update(id=["A", "b"])), "sequences[0].protein.id[1]", "upper-case"),
    "digit id": (edit(lambda d: prot(d).update(id="A1")), "sequences[0].protein.id", "upper-case"),
    "numeric id": (edit(lambda d: prot(d).update(id=1)), "sequences[0].protein.id", "text like"),
    "duplicate id": (edit(lambda d: d["sequences"][1]["rna"].update(id="B")), "sequences[1].rna.id",
                     "already used by sequences[0].protein.id[1]"),
    "protein bad letter": (edit(lambda d: prot(d).update(sequence="MKBAYIAKQB")), "sequences[0].protein.sequence",
                           "'B' at position 3 (and 1 more)"),
    "protein lowercase": (edit(lambda d: prot(d).update(sequence="mktayiakqr")), "sequences[0].protein.sequence",
                          "upper case"),
    "protein empty": (edit(lambda d: prot(d).update(sequence="")), "sequences[0].protein.sequence", "empty"),
    "rna with T": (edit(lambda d: d["sequences"][1]["rna"].update(sequence="ACGT")), "sequences[1].rna.sequence",
                   "'T' belongs to DNA"),
    "dna with U": (edit(lambda d: d["sequences"][2]["dna"].update(sequence="ACGU")), "sequences[2].dna.sequence",
                   "'U' belongs to RNA"),
    "ptm position 0": (edit(lambda d: prot(d).update(modifications=[{"ptmType": "SEP", "ptmPosition": 0}])),
                       "sequences[0].protein.modifications[0].ptmPosition", "from 1 to 10"),
    "ptm past end": (edit(lambda d: prot(d).update(modifications=[{"ptmType": "SEP", "ptmPosition": 11}])),
                     "sequences[0].protein.modifications[0].ptmPosition", "outside the sequence"),
    "ptm CCD_ prefix": (edit(lambda d: prot(d).update(modifications=[{"ptmType": "CCD_SEP", "ptmPosition": 1}])),
                        "sequences[0].protein.modifications[0].ptmType", "bare CCD code 'SEP'"),
    "ptm position text": (edit(lambda d: prot(d).update(modifications=[{"ptmType": "SEP", "ptmPosition": "1"}])),
                          "sequences[0].protein.modifications[0].ptmPosition", "whole number"),
    "ptm twice": (edit(lambda d: prot(d).update(modifications=[{"ptmType": "SEP", "ptmPosition": 2},
                                                                {"ptmType": "TPO", "ptmPosition": 2}])),
                  "sequences[0].protein.modifications[1].ptmPosition", "already modified"),
    "rna mod out of range": (edit(lambda d: d["sequences"][1]["rna"].update(
        modifications=[{"modificationType": "PSU", "basePosition": 9}])),
        "sequences[1].rna.modifications[0].basePosition", "from 1 to 8"),
    "dna mod wrong key": (edit(lambda d: d["sequences"][2]["dna"].update(
        modifications=[{"ptmType": "5CM", "basePosition": 1}])), "sequences[2].dna.modifications[0].ptmType",
        "Unknown field"),
    "ligand both": (edit(lambda d: d["sequences"][4]["ligand"].update(ccdCodes=["EOH"])), "sequences[4].ligand",
                    "not both"),
    "ligand neither": (edit(lambda d: d["sequences"][4]["ligand"].pop("smiles")), "sequences[4].ligand",
                       "neither"),
    "ccd codes string": (edit(lambda d: d["sequences"][3]["ligand"].update(ccdCodes="ATP")),
                         "sequences[3].ligand.ccdCodes", 'Write ["ATP"]'),
    "ccd codes empty": (edit(lambda d: d["sequences"][3]["ligand"].update(ccdCodes=[])),
                        "sequences[3].ligand.ccdCodes", "empty"),
    "ligand CCD_ prefix": (edit(lambda d: d["sequences"][3]["ligand"].update(ccdCodes=["CCD_ATP"])),
                           "sequences[3].ligand.ccdCodes[0]", "bare CCD code 'ATP'"),
    "smiles empty": (edit(lambda d: d["sequences"][4]["ligand"].update(smiles="")), "sequences[4].ligand.smiles",
                     "non-empty"),
    "smiles unbalanced": (edit(lambda d: d["sequences"][4]["ligand"].update(smiles="CC(O")),
                          "sequences[4].ligand.smiles", "parentheses"),
    "dna with msa": (edit(lambda d: d["sequences"][2]["dna"].update(unpairedMsa="")),
                     "sequences[2].dna.unpairedMsa", "Unknown field"),
    "rna paired msa": (edit(lambda d: d["sequences"][1]["rna"].update(pairedMsa="")),
                       "sequences[1].rna.pairedMsa", "Unknown field"),
    "only unpaired msa": (edit(lambda d: prot(d).update(unpairedMsa="")), "sequences[0].protein",
                          "paired MSA is not"),
    "pairedMsaPath empty": (edit(lambda d: prot(d).update(unpairedMsa="", pairedMsaPath="")),
                            "sequences[0].protein", '"pairedMsaPath": "" does not count'),
    "templates without msas": (edit(lambda d: prot(d).update(templates=[
        {"mmcif": "data_x\n", "queryIndices": [0], "templateIndices": [0]}])), "sequences[0].protein.templates",
        "need both MSAs"),
    "msa inline and path": (edit(lambda d: prot(d).update(unpairedMsa="x", unpairedMsaPath="p", pairedMsa="")),
                            "sequences[0].protein.unpairedMsaPath", "not both"),
    "templates not a list": (edit(lambda d: prot(d).update(unpairedMsa="", pairedMsa="", templates={})),
                             "sequences[0].protein.templates", "must be a list"),
    "template index lengths": (edit(lambda d: prot(d).update(unpairedMsa="", pairedMsa="", templates=[
        {"mmcif": "data_x\n", "queryIndices": [0, 1], "templateIndices": [0]}])),
        "sequences[0].protein.templates[0].templateIndices", "pair up"),
    "template index range": (edit(lambda d: prot(d).update(unpairedMsa="", pairedMsa="", templates=[
        {"mmcif": "data_x\n", "queryIndices": [10], "templateIndices": [0]}])),
        "sequences[0].protein.templates[0].queryIndices", "0 to 9"),
    "template no mmcif": (edit(lambda d: prot(d).update(unpairedMsa="", pairedMsa="", templates=[
        {"queryIndices": [0], "templateIndices": [0]}])), "sequences[0].protein.templates[0]", "no structure"),
    "bond unknown chain": (edit(lambda d: d.update(bondedAtomPairs=[[["Q", 1, "N"], ["E", 1, "C1"]]])),
                           "bondedAtomPairs[0][0][0]", "does not exist"),
    "bond residue range": (edit(lambda d: d.update(bondedAtomPairs=[[["A", 11, "N"], ["E", 1, "C1"]]])),
                           "bondedAtomPairs[0][0][1]", "has 10 residues"),
    "bond ligand residue range": (edit(lambda d: d.update(bondedAtomPairs=[[["A", 1, "N"], ["E", 3, "C1"]]])),
                                  "bondedAtomPairs[0][1][1]", "2 CCD codes"),
    "bond smiles ligand": (edit(lambda d: d.update(bondedAtomPairs=[[["A", 1, "N"], ["F", 1, "C1"]]])),
                           "bondedAtomPairs[0][1][0]", "SMILES ligands cannot"),
    "bond duplicate reversed": (edit(lambda d: d.update(bondedAtomPairs=[[["A", 1, "N"], ["E", 1, "C1"]],
                                                                         [["E", 1, "C1"], ["A", 1, "N"]]])),
                                "bondedAtomPairs[1]", "repeats bond 1"),
    "bond polymer-polymer": (edit(lambda d: d.update(bondedAtomPairs=[[["A", 1, "SG"], ["B", 1, "SG"]]])),
                             "bondedAtomPairs[0]", "disulfides"),
    "bond three atoms": (edit(lambda d: d.update(bondedAtomPairs=[[["A", 1, "N"], ["E", 1, "C1"], ["E", 1, "C2"]]])),
                         "bondedAtomPairs[0]", "pair of atoms"),
    "bond residue text": (edit(lambda d: d.update(bondedAtomPairs=[[["A", "1", "N"], ["E", 1, "C1"]]])),
                          "bondedAtomPairs[0][0]", "[chain id, residue number, atom name]"),
    "userCCD and path": (edit(lambda d: d.update(version=3, userCCD="data_X\n", userCCDPath="x.cif")),
                         "userCCDPath", "not both"),
    "userCCD missing keys": (edit(lambda d: d.update(userCCD="data_LIG\n_chem_comp.id LIG\n")), "userCCD",
                             "required field"),
}

SERVER_JOB = {"name": "j", "modelSeeds": ["7"], "sequences": [
    {"proteinChain": {"sequence": "MKV", "count": 2, "modifications": [{"ptmType": "CCD_SEP", "ptmPosition": 1}]}},
    {"ligand": {"ligand": "CCD_ATP", "count": 1}}, {"ion": {"ion": "MG", "count": 1}}]}


def server(**changes) -> list:
    """Return a one-job server list with top-level changes to the job."""
    job = copy.deepcopy(SERVER_JOB)
    job.update(changes)
    return [job]


def server_protein(**changes) -> list:
    """Return a one-job server list with the protein chain changed."""
    doc = server()
    doc[0]["sequences"][0]["proteinChain"].update(changes)
    return doc


INVALID_SERVER = {
    "empty list": ([], "", "no jobs"),
    "af3 object in list": ([base()], "[0].dialect", "without the surrounding"),
    "only dialect": (server(dialect="alphafoldserver"), "[0].version", "both"),
    "wrong version": (server(dialect="alphafoldserver", version=2), "[0].version", "version 1"),
    "glycans": (server_protein(glycans=[{"residues": "NAG", "position": 1}]), "[0].sequences[0].proteinChain.glycans",
                "cannot convert"),
    "maxTemplateDate": (server_protein(maxTemplateDate="2020-01-01"),
                        "[0].sequences[0].proteinChain.maxTemplateDate", "cannot convert"),
    "position key": (server_protein(modifications=[{"ptmType": "CCD_SEP", "position": 1}]),
                     "[0].sequences[0].proteinChain.modifications[0].position", "'ptmPosition'"),
    "count zero": (server_protein(count=0), "[0].sequences[0].proteinChain.count", "at least 1"),
    "ion with prefix": ([{"name": "j", "sequences": [{"ion": {"ion": "CCD_MG"}}]}], "[0].sequences[0].ion.ion",
                        "without the CCD_ prefix"),
    "af3 entity name": ([{"name": "j", "sequences": [{"protein": {"sequence": "M"}}]}], "[0].sequences[0].protein",
                        "'proteinChain'"),
    "seed text not number": (server(modelSeeds=["abc"]), "[0].modelSeeds[0]", "not a whole number"),
    "no name": ([{"sequences": [{"ion": {"ion": "MG"}}]}], "[0].name", "no name"),
    "second job bad": (server() + [{"name": "k", "sequences": []}], "[1].sequences", "non-empty"),
}


@pytest.mark.parametrize("name", VALID)
def test_valid_documents_have_no_errors(name):
    problems = validate(VALID[name])
    assert [p for p in problems if p.is_error] == []


@pytest.mark.parametrize("name", INVALID)
def test_invalid_af3_documents_name_path_and_gist(name):
    doc, path, gist = INVALID[name]
    errors = [p for p in validate(doc) if p.is_error]
    assert any(p.path == path and gist in p.message for p in errors), errors


@pytest.mark.parametrize("name", INVALID_SERVER)
def test_invalid_server_documents_name_path_and_gist(name):
    doc, path, gist = INVALID_SERVER[name]
    errors = [p for p in validate(doc) if p.is_error]
    assert any(p.path == path and gist in p.message for p in errors), errors


def test_every_problem_reported_in_one_pass():
    doc = edit(lambda d: (d.update(modelSeeds=[-1], name="!!"), prot(d).update(sequence="MKB"),
                          d["sequences"][4]["ligand"].update(smiles="C(")))
    paths = {p.path for p in validate(doc) if p.is_error}
    assert {"modelSeeds[0]", "name", "sequences[0].protein.sequence", "sequences[4].ligand.smiles"} <= paths


def test_warnings_do_not_invalidate():
    doc = edit(lambda d: (prot(d).update(sequence="MKTAYXAKQR", description="x")))
    problems = validate(doc)
    assert {(p.path, p.severity) for p in problems} == {("sequences[0].protein.sequence", "warning"),
                                                        ("version", "warning")}
    assert "needs version 4" in next(p.message for p in problems if p.path == "version")
    assert load_jobs(doc)[0].valid


def test_field_newer_than_version_warns():
    doc = edit(lambda d: d.update(userCCDPath="my.cif"))
    (warning,) = validate(doc)
    assert warning.path == "version" and warning.severity == "warning" and "version 3" in warning.message


def test_server_allow_list_warning():
    doc = server_protein(modifications=[{"ptmType": "CCD_MSE", "ptmPosition": 1}])
    (p,) = validate(doc)
    assert p.severity == "warning" and "allowed modifications" in p.message


def test_samples_are_valid():
    files = sorted(SAMPLES.glob("*.json"))
    assert len(files) >= 4
    for f in files:
        jobs = load_jobs(json.loads(f.read_text()))
        assert all(j.valid and j.af3 for j in jobs), (f, [j.problems for j in jobs])


def test_load_jobs_server_paths_relative_to_original():
    jobs = load_jobs(server() + [{"name": "k", "sequences": [{"ion": {"ion": "CCD_MG"}}]}])
    assert [j.valid for j in jobs] == [True, False]
    assert jobs[1].af3 is None and jobs[1].problems[0].path == "[1].sequences[0].ion.ion"
    assert jobs[0].af3["sequences"][0]["protein"]["id"] == ["A", "B"]
