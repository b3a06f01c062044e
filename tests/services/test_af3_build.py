"""Conversions both ways, the model round trip, FASTA import, names, token counts and JSON loading."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.af3 import (
    Bond,
    Dna,
    FoldJob,
    Ligand,
    Modification,
    Protein,
    Rna,
    Template,
    af3_to_server,
    bucket_for,
    count_tokens,
    estimate_size,
    int_id_to_str_id,
    load_json_text,
    parse_fasta,
    safe_filename,
    sanitised_name,
    server_to_af3,
    validate,
)
from services.platform.errors import InvalidInput


def test_server_to_af3_ids_prefixes_and_seeds():
    job = {"name": "x", "modelSeeds": ["7", 8], "sequences": [
        {"proteinChain": {"sequence": "MKV", "count": 2, "modifications": [{"ptmType": "CCD_SEP", "ptmPosition": 1}],
                          "useStructureTemplate": False}},
        {"dnaSequence": {"sequence": "ACGT", "count": 2}}, {"ligand": {"ligand": "CCD_ATP"}},
        {"ion": {"ion": "MG", "count": 2}}]}
    af3 = server_to_af3(job)
    assert af3["modelSeeds"] == [7, 8]
    assert af3["sequences"] == [
        {"protein": {"id": ["A", "B"], "sequence": "MKV", "modifications": [{"ptmType": "SEP", "ptmPosition": 1}],
                     "templates": []}},
        {"dna": {"id": ["C", "D"], "sequence": "ACGT"}}, {"ligand": {"id": "E", "ccdCodes": ["ATP"]}},
        {"ligand": {"id": ["F", "G"], "ccdCodes": ["MG"]}}]
    assert validate(af3) == []


def test_server_to_af3_ids_past_z_and_random_seed():
    job = {"name": "x", "modelSeeds": [], "sequences": [{"ion": {"ion": "ZN", "count": 28}}]}
    af3 = server_to_af3(job, seed_rng=random.Random(3))
    assert af3["sequences"][0]["ligand"]["id"][-3:] == ["Z", "AA", "BA"]
    assert af3["modelSeeds"] == [random.Random(3).randint(0, 2**32 - 1)]


def test_int_id_to_str_id_reverse_spreadsheet():
    assert [int_id_to_str_id(k) for k in (1, 26, 27, 28, 52, 53, 702, 703)] == [
        "A", "Z", "AA", "BA", "ZA", "AB", "ZZ", "AAA"]


def test_af3_to_server_and_back():
    af3 = {"dialect": "alphafold3", "version": 1, "name": "x", "modelSeeds": [5], "sequences": [
        {"protein": {"id": ["A", "B"], "sequence": "MKV", "modifications": [{"ptmType": "SEP", "ptmPosition": 2}],
                     "templates": []}},
        {"rna": {"id": "C", "sequence": "ACGU"}}, {"ligand": {"id": "D", "ccdCodes": ["MG"]}},
        {"ligand": {"id": "E", "ccdCodes": ["ATP"]}}]}
    job, reasons = af3_to_server(af3)
    assert reasons == [] and validate([job]) == []
    assert job["sequences"][2] == {"ion": {"ion": "MG", "count": 1}}
    assert job["sequences"][3] == {"ligand": {"ligand": "CCD_ATP", "count": 1}}
    assert server_to_af3(job) == af3


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["sequences"].append({"ligand": {"id": "Z", "smiles": "CCO"}}), "no SMILES"),
    (lambda d: d["sequences"].append({"ligand": {"id": "Z", "ccdCodes": ["NAG", "NAG"]}}), "multi-component"),
    (lambda d: d.update(bondedAtomPairs=[[["A", 1, "N"], ["Z", 1, "C1"]]]), "covalent bonds"),
    (lambda d: d.update(userCCD="data_X"), "user-defined"),
    (lambda d: d["sequences"][0]["protein"].update(unpairedMsa=">q\nM", pairedMsa=""), "custom MSAs"),
])
def test_af3_to_server_names_blockers(change, reason):
    af3 = {"dialect": "alphafold3", "version": 1, "name": "x", "modelSeeds": [5],
           "sequences": [{"protein": {"id": "A", "sequence": "M"}}]}
    change(af3)
    job, reasons = af3_to_server(af3)
    assert job is None and any(reason in r for r in reasons), reasons


def test_model_lowest_version():
    job = FoldJob("n", [1], [Protein(["A"], "MKV")])
    assert job.to_af3()["version"] == 1
    job.entities.append(Rna(["B"], "ACGU", unpaired_msa_path="r.a3m"))
    assert job.to_af3()["version"] == 2
    job.user_ccd_path = "c.cif"
    assert job.to_af3()["version"] == 3
    job.entities.append(Dna(["C"], "ACGT", description="strand"))
    assert job.to_af3()["version"] == 4


ids = st.lists(st.text("ABCDEFGH", min_size=1, max_size=2), min_size=1, max_size=3, unique=True)
mods = st.lists(st.builds(Modification, st.sampled_from(["SEP", "PSU", "5CM"]), st.integers(1, 5)), max_size=2)
opt_text = st.none() | st.text("ACDM>\n", max_size=8)
templates = st.none() | st.lists(st.builds(Template, st.lists(st.integers(0, 4), max_size=3),
                                           st.lists(st.integers(0, 9), max_size=3), st.just("data_t\n"),
                                           st.none()), max_size=2)
entities = st.one_of(
    st.builds(Protein, ids, st.text("ACDEFGHIK", min_size=5, max_size=12), mods, opt_text, opt_text, opt_text,
              opt_text, opt_text, templates),
    st.builds(Rna, ids, st.text("ACGU", min_size=5, max_size=9), mods, opt_text, opt_text, opt_text),
    st.builds(Dna, ids, st.text("ACGT", min_size=5, max_size=9), mods, opt_text),
    st.builds(Ligand, ids, st.lists(st.sampled_from(["ATP", "MG", "NAG"]), min_size=1, max_size=3), st.none(),
              opt_text),
    st.builds(Ligand, ids, st.just([]), st.sampled_from(["CCO", "c1ccccc1"]), opt_text))
atoms = st.tuples(st.sampled_from("ABC"), st.integers(1, 3), st.sampled_from(["N", "C1"]))
jobs = st.builds(FoldJob, st.text(min_size=1, max_size=10), st.lists(st.integers(0, 2**32 - 1), min_size=1,
                 max_size=3), st.lists(entities, min_size=1, max_size=4), st.lists(st.builds(Bond, atoms, atoms),
                 max_size=2), opt_text, opt_text)


@settings(max_examples=200, deadline=None)
@given(jobs)
def test_round_trip_parse_serialize(job):
    assert FoldJob.from_af3(job.to_af3()) == job


def test_round_trip_of_a_valid_document_keeps_validity():
    job = FoldJob("kinase", [1, 2], [Protein(["A"], "MKNSE", [Modification("SEP", 4)], templates=[]),
                                     Ligand(["B"], ["NAG", "NAG"]), Ligand(["C"], smiles="CCO")],
                  [Bond(("A", 3, "ND2"), ("B", 1, "C1"))])
    doc = job.to_af3()
    assert validate(doc) == [] and FoldJob.from_af3(doc) == job


def test_fasta_detects_types_merges_and_assigns_ids():
    text = ">p1 kinase\nmktay\niakqr*\n>d\nACGT\n>p2\nMKTAYIAKQR\n\n>r\nACGU\n"
    assert parse_fasta(text) == [{"protein": {"id": ["A", "C"], "sequence": "MKTAYIAKQR"}},
                                 {"dna": {"id": "B", "sequence": "ACGT"}}, {"rna": {"id": "D", "sequence": "ACGU"}}]


def test_fasta_forced_type_and_bad_character():
    assert parse_fasta(">x\nACGT", force_type="protein") == [{"protein": {"id": "A", "sequence": "ACGT"}}]
    with pytest.raises(InvalidInput) as err:
        parse_fasta(">ok\nMKV\n>bad one\nMKJVB1\n")
    (problem,) = err.value.problems
    assert "Record 'bad one' (line 3) has 'J' at position 3 (and 2 more)" in problem.message


@pytest.mark.parametrize("text, gist", [("", "No FASTA records"), ("MKV\n>a\nM", "before any '>'"),
                                        (">a\n>b\nMKV", "'a' (line 1) has no sequence"),
                                        (">a\nAC-GU", "'-' at position 3")])
def test_fasta_errors(text, gist):
    with pytest.raises(InvalidInput) as err:
        parse_fasta(text)
    assert gist in str(err.value)


def test_names():
    assert sanitised_name("My first fold (TEST)") == "My_first_fold_TEST"
    assert sanitised_name("Seven(ty)") == "Seventy" and sanitised_name("***") == ""
    assert safe_filename("../../etc/passwd") == "etcpasswd"
    assert safe_filename("a\x00b\nc/d") == "abcd" and safe_filename("..") == "job"


def _job(*entities, seeds=(1,)):
    return {"dialect": "alphafold3", "version": 1, "name": "t", "modelSeeds": list(seeds), "sequences": list(entities)}


def test_tokens_protein_only():
    assert count_tokens(_job({"protein": {"id": ["A", "B"], "sequence": "M" * 300}})) == (600, False)


def test_tokens_nucleic_acids_and_modification():
    job = _job({"dna": {"id": "A", "sequence": "ACGT"}},
               {"rna": {"id": "B", "sequence": "ACGU", "modifications": [{"modificationType": "PSU",
                                                                           "basePosition": 4}]}})
    assert count_tokens(job) == (4 + 3 + 20, False)  # PSU in a chain: 21 heavy atoms less the leaving OP3


def test_tokens_ligands_ions_smiles_and_unknown():
    job = _job({"protein": {"id": "A", "sequence": "MKV", "modifications": [{"ptmType": "SEP", "ptmPosition": 2}]}},
               {"ligand": {"id": "B", "ccdCodes": ["ATP"]}}, {"ligand": {"id": ["C", "D"], "ccdCodes": ["MG"]}},
               {"ligand": {"id": "E", "smiles": "c1ccccc1Cl"}})
    assert count_tokens(job) == (2 + 10 + 31 + 2 + 7, False)
    job["sequences"].append({"ligand": {"id": "F", "ccdCodes": ["LIG-1"]}})  # only a userCCDPath file defines it
    job["userCCDPath"] = "/gpu-host/ligands.cif"
    est = estimate_size(job)
    assert est.approximate and est.unknown_codes == ["LIG-1"] and "approximate" in est.warnings[0]


def test_buckets_time_and_fit():
    assert [bucket_for(t) for t in (1, 128, 129, 1000, 5120, 6000)] == [128, 128, 256, 1024, 5120, 6000]
    est = estimate_size(_job({"protein": {"id": "A", "sequence": "M" * 2048}}, seeds=(1, 2)))
    assert est.bucket == 2048 and est.seconds_per_seed == 275.0 and est.seconds_total == 550.0
    assert all(est.fits.values()) and est.warnings == []
    big = estimate_size(_job({"protein": {"id": "A", "sequence": "M" * 4500}}))
    assert big.fits == {"A100 80GB": True, "H100 80GB": True, "A100 40GB": False}
    assert big.bucket == 4608 and 1434 < big.seconds_per_seed < 2547 and "A100 40GB" in big.warnings[0]
    huge = estimate_size(_job({"protein": {"id": "A", "sequence": "M" * 6000}}))
    assert not any(huge.fits.values()) and huge.seconds_per_seed > 2547


@pytest.mark.parametrize("data, gist", [
    (b"x" * 21, "more than the 20 bytes"), (b"\x00\x01{}", "binary"), (b'{"a": "\xff"}', "byte 7"),
    (b'{"a": 1,\n}', "line 2, column 1"), (b'{"s": "C\\C"}', "Backslashes"), (b"[NaN]", "NaN"), (b"  ", "empty"),
])
def test_load_json_text_errors(data, gist):
    with pytest.raises(InvalidInput) as err:
        load_json_text(data, max_bytes=20)
    assert gist in str(err.value)


def test_load_json_text_bom_and_str():
    assert load_json_text("\ufeff[1]".encode()) == [1] and load_json_text('{"a": 1}') == {"a": 1}
