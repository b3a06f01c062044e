"""The CCD table's heavy-atom counts, AF3's leaving-atom rule and the fallback for codes outside the table."""
from __future__ import annotations

import pytest

from services.af3.ccd import (
    CCD_FORMULAS,
    HEAVY_ATOMS,
    ION_CODES,
    PROTEIN_ONE_TO_THREE,
    UNKNOWN_COMPONENT_ATOMS,
    component_atoms,
    heavy_atoms_in_formula,
    leaving_atom,
    looks_like_ccd_code,
)
from services.af3.size import count_tokens, estimate_size
from services.af3sim.structure import _BASES, _SIDE_CHAINS, _SUGAR_PHOSPHATE


def test_formula_heavy_atoms():
    assert heavy_atoms_in_formula("C10 H16 N5 O13 P3") == 31  # ATP
    assert heavy_atoms_in_formula("C34 H32 Fe N4 O4") == 43  # HEM: Fe is heavy, H is not
    assert heavy_atoms_in_formula("C3 H8 N O6 P") == 11  # SEP: a bare symbol counts once
    assert heavy_atoms_in_formula("Mg") == 1 and heavy_atoms_in_formula("C2 H6 D2 O") == 3


def test_every_code_has_its_formula_and_ions_are_one_atom():
    assert set(HEAVY_ATOMS) == set(CCD_FORMULAS)
    assert all(HEAVY_ATOMS[code] == 1 for code in ION_CODES | {"IOD", "BR", "F", "LI", "SR", "HG", "CD"})
    assert all(n >= 4 for code, n in HEAVY_ATOMS.items() if len(CCD_FORMULAS[code].split()) > 1)


def test_standard_residues_match_their_atom_names():
    # Free amino acid = backbone N CA C O + side chain + OXT; free nucleotide = OP3 + sugar-phosphate + base.
    for name in PROTEIN_ONE_TO_THREE.values():
        assert HEAVY_ATOMS[name] == 4 + len(_SIDE_CHAINS[name].split()) + 1, name
    for base, code in {"A": "A", "C": "C", "G": "G", "U": "U"}.items():
        assert HEAVY_ATOMS[code] == 1 + len(_SUGAR_PHOSPHATE) + 1 + len(_BASES[base].split()), code  # + O2'
    for base in "ACGT":
        assert HEAVY_ATOMS["D" + base] == 1 + len(_SUGAR_PHOSPHATE) + len(_BASES[base].split()), base


# (modified, parent, heavy atoms the modification adds) written from the chemistry, not from the table.
MODIFIED = [
    ("SEP", "SER", 4), ("TPO", "THR", 4), ("PTR", "TYR", 4), ("NEP", "HIS", 4), ("HIP", "HIS", 4),
    ("ALY", "LYS", 3), ("MLY", "LYS", 2), ("M3L", "LYS", 3), ("MLZ", "LYS", 1), ("LYZ", "LYS", 1),
    ("KCR", "LYS", 5), ("KCX", "LYS", 3), ("YHA", "LYS", 3), ("2MR", "ARG", 2), ("AGM", "ARG", 1),
    ("CIR", "ARG", 0), ("MCS", "CYS", 6), ("SNC", "CYS", 2), ("P1L", "CYS", 17), ("CSO", "CYS", 1),
    ("MSE", "MET", 0), ("HYP", "PRO", 1), ("HY3", "PRO", 1), ("AHB", "ASN", 1), ("TRF", "TRP", 2),
    ("PCA", "GLU", -1), ("SNN", "ASN", -1),
    ("PSU", "U", 0), ("5MU", "U", 1), ("OMU", "U", 1), ("UR3", "U", 1), ("5MC", "C", 1), ("OMC", "C", 1),
    ("4OC", "C", 2), ("RSQ", "C", 2), ("A2M", "A", 1), ("6MZ", "A", 1), ("MA6", "A", 2), ("2MG", "G", 1),
    ("OMG", "G", 1), ("7MG", "G", 1), ("GMP", "G", -4),
    ("5CM", "DC", 1), ("C34", "DC", 1), ("5HC", "DC", 2), ("5FC", "DC", 2), ("1CC", "DC", 3),
    ("6MA", "DA", 1), ("6OG", "DG", 1), ("8OG", "DG", 1), ("ATP", "A", 8), ("ADP", "A", 4), ("AMP", "A", 0),
]


@pytest.mark.parametrize(("code", "parent", "added"), MODIFIED)
def test_modified_components_against_their_parent(code, parent, added):
    assert HEAVY_ATOMS[code] == HEAVY_ATOMS[parent] + added


def test_counts_corrected_after_checking_the_formulas():
    # GMP is guanosine in the CCD; selenium is heavy; CSO carries an extra oxygen; homocitrulline; 5-formyl-CMP.
    assert [HEAVY_ATOMS[c] for c in ("GMP", "MSE", "CSO", "YHA", "RSQ")] == [20, 9, 8, 13, 23]


def test_leaving_atom_rule():
    assert [leaving_atom("protein", p, 5) for p in (1, 3, 5)] == ["OXT", "OXT", None]  # kept at the C terminus
    assert [leaving_atom("rna", p, 5) for p in (1, 3, 5)] == [None, "OP3", "OP3"]  # kept at the 5' end
    assert leaving_atom("dna", 2, 2) == "OP3" and leaving_atom("ligand", 1, 1) is None


def test_component_atoms_in_and_out_of_chains():
    assert component_atoms("SEP") == (11, True)  # as a ligand: the whole free component
    assert component_atoms("SEP", "protein", 13, 21) == (10, True)
    assert component_atoms("SEP", "protein", 21, 21) == (11, True)
    assert component_atoms("PSU", "rna", 1, 4) == (21, True) and component_atoms("PSU", "rna", 4, 4) == (20, True)
    assert component_atoms("SNN", "protein", 2, 3) == (8, True)  # no OXT to lose
    assert component_atoms("YHA", "protein", 2, 3) == (12, False)  # identity from a third-party table
    assert component_atoms("EOH") == (UNKNOWN_COMPONENT_ATOMS, False)
    assert component_atoms("XYZ", "protein", 1, 2) == (UNKNOWN_COMPONENT_ATOMS - 1, False)


def test_what_looks_like_a_ccd_code():
    assert all(looks_like_ccd_code(c) for c in ("EOH", "K", "A1AAB", "7MG"))
    assert not any(looks_like_ccd_code(c) for c in ("atp", "LIG-1", "ABCDEF", "", "CCD ATP", "Mg"))


def _job(*entities):
    return {"dialect": "alphafold3", "version": 1, "name": "t", "modelSeeds": [1], "sequences": list(entities)}


def test_size_estimate_uses_the_rule_and_the_fallback():
    c_term = _job({"protein": {"id": "A", "sequence": "MKS", "modifications": [{"ptmType": "SEP", "ptmPosition": 3}]}})
    assert count_tokens(c_term) == (2 + 11, False)
    five_prime = _job({"dna": {"id": "A", "sequence": "CGT", "modifications": [
        {"modificationType": "5CM", "basePosition": 1}, {"modificationType": "5CM", "basePosition": 2}]}})
    assert count_tokens(five_prime) == (1 + 21 + 20, False)
    repeated = _job({"protein": {"id": "A", "sequence": "MKSA", "modifications": [
        {"ptmType": "SEP", "ptmPosition": 3}, {"ptmType": "TPO", "ptmPosition": 3}]}})
    assert count_tokens(repeated) == (3 + 11, False)  # AF3 keeps the last code given for a position
    est = estimate_size(_job({"ligand": {"id": "L", "ccdCodes": ["EOH"]}}))
    assert (est.tokens, est.unknown_codes) == (UNKNOWN_COMPONENT_ATOMS, ["EOH"]) and "approximate" in est.warnings[0]
