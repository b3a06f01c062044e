"""CCD components AF3 users name most, their heavy-atom counts, the builder's ligand picker, SMILES counting.

AF3 gives a ligand, an ion or a modified residue one token per heavy atom, so these counts drive the
size estimate and the simulator. Every count is derived from the component's CCD `_chem_comp.formula`
(kept below, so each number can be checked against the CCD), heavy atoms being all non-hydrogen atoms
of the free component, leaving atoms (OXT / OP3) included. What changes inside a polymer is decided in
one place, `component_atoms` (with `leaving_atom`); codes missing from the table use `UNKNOWN_COMPONENT_ATOMS`.
"""
from __future__ import annotations

import re

# _chem_comp.formula of each component, written from the component's chemistry (no CCD file is reachable
# from here); tests check every modified residue against its parent residue's formula.
CCD_FORMULAS: dict[str, str] = {
    # -- ions: one atom each, the charge is implied by the code --
    "MG": "Mg", "ZN": "Zn", "CL": "Cl", "CA": "Ca", "NA": "Na", "MN": "Mn", "K": "K", "FE": "Fe", "FE2": "Fe",
    "CU": "Cu", "CU1": "Cu", "CO": "Co", "NI": "Ni", "CD": "Cd", "IOD": "I", "BR": "Br", "F": "F", "LI": "Li",
    "SR": "Sr", "HG": "Hg",
    # -- nucleotides and cofactors (AlphaFold Server ligand allow-list first) --
    "ATP": "C10 H16 N5 O13 P3",
    "ADP": "C10 H15 N5 O10 P2",
    "AMP": "C10 H14 N5 O7 P",
    "GTP": "C10 H16 N5 O14 P3",
    "GDP": "C10 H15 N5 O11 P2",
    "GMP": "C10 H13 N5 O5",  # the CCD's GMP is guanosine (no phosphate); the monophosphate is 5GP
    "ANP": "C10 H17 N6 O12 P3",  # AMP-PNP
    "NAD": "C21 H27 N7 O14 P2",
    "NAP": "C21 H28 N7 O17 P3",
    "NDP": "C21 H30 N7 O17 P3",
    "NAI": "C21 H29 N7 O14 P2",
    "FAD": "C27 H33 N9 O15 P2",
    "FMN": "C17 H21 N4 O9 P",
    "COA": "C21 H36 N7 O16 P3 S",
    "ACO": "C23 H38 N7 O17 P3 S",  # acetyl-CoA
    "HEM": "C34 H32 Fe N4 O4",
    "HEC": "C34 H34 Fe N4 O4",
    "SAM": "C15 H22 N6 O5 S",
    "SAH": "C14 H20 N6 O5 S",
    "PLP": "C8 H10 N O6 P",
    "PLM": "C16 H32 O2",
    "OLA": "C18 H34 O2",
    "MYR": "C14 H28 O2",
    "CIT": "C6 H8 O7",
    "CLA": "C55 H72 Mg N4 O5",
    "CHL": "C55 H70 Mg N4 O6",
    "BCL": "C55 H74 Mg N4 O6",
    "BCB": "C55 H72 Mg N4 O6",
    # -- small additives seen in crystal structures --
    "SO4": "O4 S", "PO4": "O4 P", "GOL": "C3 H8 O3", "EDO": "C2 H6 O2", "ACT": "C2 H3 O2", "PEG": "C4 H10 O3",
    # -- protein PTMs (AlphaFold Server allow-list, then common extras); free form with OXT --
    "SEP": "C3 H8 N O6 P",  # phosphoserine
    "TPO": "C4 H10 N O6 P",  # phosphothreonine
    "PTR": "C9 H12 N O6 P",  # O-phosphotyrosine
    "NEP": "C6 H10 N3 O5 P",  # N1-phosphonohistidine
    "HIP": "C6 H10 N3 O5 P",  # ND1-phosphonohistidine
    "ALY": "C8 H16 N2 O3",  # N6-acetyllysine
    "MLY": "C8 H18 N2 O2",  # N6,N6-dimethyllysine
    "M3L": "C9 H21 N2 O2",  # N6,N6,N6-trimethyllysine
    "MLZ": "C7 H16 N2 O2",  # N6-methyllysine
    "2MR": "C8 H18 N4 O2",  # N3,N4-dimethylarginine
    "AGM": "C7 H16 N4 O2",  # 5-methylarginine
    "MCS": "C6 H9 N O5 S",  # malonylcysteine
    "HYP": "C5 H9 N O3",  # 4-hydroxyproline
    "HY3": "C5 H9 N O3",  # 3-hydroxyproline
    "LYZ": "C6 H14 N2 O3",  # 5-hydroxylysine
    "AHB": "C4 H8 N2 O4",  # beta-hydroxyasparagine
    "P1L": "C19 H37 N O3 S",  # S-palmitoylcysteine
    "SNN": "C4 H6 N2 O2",  # L-3-aminosuccinimide: the ring takes the carboxyl, so no OXT
    "SNC": "C3 H6 N2 O3 S",  # S-nitrosocysteine
    "TRF": "C12 H12 N2 O3",  # N1-formyltryptophan
    "KCR": "C10 H18 N2 O3",  # N6-crotonyllysine
    "CIR": "C6 H13 N3 O3",  # citrulline
    "YHA": "C7 H15 N3 O3",  # homocitrulline (name from a third-party table, see ESTIMATED_CODES)
    "MSE": "C5 H11 N O2 Se",  # selenomethionine
    "CSO": "C3 H7 N O3 S",  # S-hydroxycysteine
    "KCX": "C7 H14 N2 O4",  # lysine NZ-carboxylic acid
    "PCA": "C5 H7 N O3",  # pyroglutamic acid
    # -- DNA modifications (server allow-list); free form with OP3 --
    "5CM": "C10 H16 N3 O7 P",  # 5-methyl-dCMP
    "C34": "C10 H16 N3 O7 P",  # N4-methyl-dCMP
    "5HC": "C10 H16 N3 O8 P",  # 5-hydroxymethyl-dCMP
    "6OG": "C11 H16 N5 O7 P",  # O6-methyl-dGMP
    "6MA": "C11 H16 N5 O6 P",  # N6-methyl-dAMP
    "1CC": "C10 H14 N3 O9 P",  # 5-carboxy-dCMP
    "8OG": "C10 H14 N5 O8 P",  # 8-oxo-dGMP
    "5FC": "C10 H14 N3 O8 P",  # 5-formyl-dCMP
    "3DR": "C5 H11 O6 P",  # abasic 1',2'-dideoxyribose 5'-phosphate
    # -- RNA modifications (server allow-list); free form with OP3 --
    "PSU": "C9 H13 N2 O9 P",  # pseudouridine 5'-phosphate
    "5MC": "C10 H16 N3 O8 P",  # 5-methyl-CMP
    "OMC": "C10 H16 N3 O8 P",  # 2'-O-methyl-CMP
    "4OC": "C11 H18 N3 O8 P",  # N4,2'-O-dimethyl-CMP
    "5MU": "C10 H15 N2 O9 P",  # 5-methyl-UMP
    "OMU": "C10 H15 N2 O9 P",  # 2'-O-methyl-UMP
    "UR3": "C10 H15 N2 O9 P",  # 3-methyl-UMP
    "A2M": "C11 H16 N5 O7 P",  # 2'-O-methyl-AMP
    "MA6": "C12 H18 N5 O7 P",  # N6,N6-dimethyl-AMP
    "6MZ": "C11 H16 N5 O7 P",  # N6-methyl-AMP
    "2MG": "C11 H16 N5 O8 P",  # N2-methyl-GMP
    "OMG": "C11 H16 N5 O8 P",  # 2'-O-methyl-GMP
    "7MG": "C11 H18 N5 O8 P",  # 7-methyl-8-hydro-GMP
    "RSQ": "C10 H14 N3 O9 P",  # 5-formyl-CMP (name from a third-party table, see ESTIMATED_CODES)
    # -- sugars (glycans are multi-code ligands) --
    "NAG": "C8 H15 N O6", "NDG": "C8 H15 N O6", "MAN": "C6 H12 O6", "BMA": "C6 H12 O6", "GLC": "C6 H12 O6",
    "BGC": "C6 H12 O6", "FUC": "C6 H12 O5", "GAL": "C6 H12 O6", "SIA": "C11 H19 N O9",
    # -- standard residues, free form incl. OXT / OP3 (HOH is left out: AF3 does not model water) --
    "ALA": "C3 H7 N O2", "ARG": "C6 H15 N4 O2", "ASN": "C4 H8 N2 O3", "ASP": "C4 H7 N O4", "CYS": "C3 H7 N O2 S",
    "GLN": "C5 H10 N2 O3", "GLU": "C5 H9 N O4", "GLY": "C2 H5 N O2", "HIS": "C6 H10 N3 O2", "ILE": "C6 H13 N O2",
    "LEU": "C6 H13 N O2", "LYS": "C6 H15 N2 O2", "MET": "C5 H11 N O2 S", "PHE": "C9 H11 N O2",
    "PRO": "C5 H9 N O2", "SER": "C3 H7 N O3", "THR": "C4 H9 N O3", "TRP": "C11 H12 N2 O2",
    "TYR": "C9 H11 N O3", "VAL": "C5 H11 N O2",
    "A": "C10 H14 N5 O7 P", "C": "C9 H14 N3 O8 P", "G": "C10 H14 N5 O8 P", "U": "C9 H13 N2 O9 P",
    "DA": "C10 H14 N5 O6 P", "DC": "C9 H14 N3 O7 P", "DG": "C10 H14 N5 O7 P", "DT": "C10 H15 N2 O8 P",
}

_FORMULA_PART = re.compile(r"([A-Z][a-z]?)(\d*)")


def heavy_atoms_in_formula(formula: str) -> int:
    """Return the non-hydrogen atoms of a CCD formula such as "C10 H16 N5 O13 P3" (ATP: 31)."""
    return sum(int(n or 1) for elem, n in _FORMULA_PART.findall(formula) if elem not in ("H", "D"))


HEAVY_ATOMS: dict[str, int] = {code: heavy_atoms_in_formula(f) for code, f in CCD_FORMULAS.items()}

# Codes whose identity comes from a third-party table rather than the CCD entry itself, or whose CCD entry
# may lack the OXT of the free amino acid; a size estimate that uses them says "approximate".
ESTIMATED_CODES: frozenset[str] = frozenset({"YHA", "RSQ"})

# Heavy atoms assumed for a code the table does not know: about the median size of CCD ligands (many are
# small additives or single residues, cofactors are larger). Used by the size estimate and the simulator.
UNKNOWN_COMPONENT_ATOMS = 20

# What a CCD code can look like: 1-5 upper-case letters or digits (3 before 2023, 5 for new ids).
CCD_CODE_FORM = re.compile(r"[A-Z0-9]{1,5}")

# Table components that have no leaving atom, so nothing is dropped when they sit inside a chain.
NO_LEAVING_ATOM: frozenset[str] = frozenset({"SNN"})
# The leaving atom AF3 drops from a linked residue (atom_layout.get_link_drop_atoms): a peptide residue
# loses OXT unless it is the chain's last residue, a nucleotide loses OP3 unless it is the first.
LEAVING_ATOM: dict[str, str] = {"protein": "OXT", "rna": "OP3", "dna": "OP3"}

PROTEIN_ONE_TO_THREE: dict[str, str] = {
    "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU", "G": "GLY",
    "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE", "P": "PRO", "S": "SER",
    "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL",
}

# (code, label, kind) for the builder's picker: AlphaFold Server ligands and ions first, then extras.
COMMON_LIGANDS: list[tuple[str, str, str]] = [
    ("ATP", "ATP (adenosine triphosphate)", "ligand"),
    ("ADP", "ADP (adenosine diphosphate)", "ligand"),
    ("AMP", "AMP (adenosine monophosphate)", "ligand"),
    ("GTP", "GTP (guanosine triphosphate)", "ligand"),
    ("GDP", "GDP (guanosine diphosphate)", "ligand"),
    ("FAD", "FAD (flavin adenine dinucleotide)", "ligand"),
    ("NAD", "NAD+ (nicotinamide adenine dinucleotide)", "ligand"),
    ("NAP", "NADP+ (nicotinamide adenine dinucleotide phosphate)", "ligand"),
    ("NDP", "NADPH (reduced NADP)", "ligand"),
    ("HEM", "Heme b", "ligand"),
    ("HEC", "Heme c", "ligand"),
    ("PLM", "Palmitic acid", "ligand"),
    ("OLA", "Oleic acid", "ligand"),
    ("MYR", "Myristic acid", "ligand"),
    ("CIT", "Citrate", "ligand"),
    ("CLA", "Chlorophyll a", "ligand"),
    ("CHL", "Chlorophyll b", "ligand"),
    ("BCL", "Bacteriochlorophyll a", "ligand"),
    ("BCB", "Bacteriochlorophyll b", "ligand"),
    ("SAM", "S-adenosylmethionine", "ligand"),
    ("SAH", "S-adenosylhomocysteine", "ligand"),
    ("FMN", "Flavin mononucleotide", "ligand"),
    ("COA", "Coenzyme A", "ligand"),
    ("PLP", "Pyridoxal phosphate", "ligand"),
    ("NAG", "N-acetylglucosamine (NAG)", "ligand"),
    ("MAN", "alpha-D-mannose", "ligand"),
    ("BMA", "beta-D-mannose", "ligand"),
    ("FUC", "alpha-L-fucose", "ligand"),
    ("GAL", "beta-D-galactose", "ligand"),
    ("SO4", "Sulfate", "ligand"),
    ("PO4", "Phosphate", "ligand"),
    ("MG", "Magnesium (Mg2+)", "ion"),
    ("ZN", "Zinc (Zn2+)", "ion"),
    ("CL", "Chloride (Cl-)", "ion"),
    ("CA", "Calcium (Ca2+)", "ion"),
    ("NA", "Sodium (Na+)", "ion"),
    ("MN", "Manganese (Mn2+)", "ion"),
    ("K", "Potassium (K+)", "ion"),
    ("FE", "Iron (Fe3+)", "ion"),
    ("FE2", "Iron (Fe2+)", "ion"),
    ("CU", "Copper (Cu2+)", "ion"),
    ("CO", "Cobalt (Co2+)", "ion"),
    ("NI", "Nickel (Ni2+)", "ion"),
]

ION_CODES: frozenset[str] = frozenset(code for code, _, kind in COMMON_LIGANDS if kind == "ion")

# SMILES organic subset outside brackets; two-letter symbols must be tried before one-letter ones.
_TWO_LETTER = ("Cl", "Br")
_ONE_LETTER = frozenset("BCNOPSFIbcnops")


def leaving_atom(kind: str, position: int, length: int) -> str | None:
    """Return the leaving atom AF3 drops from a residue at 1-based `position` of a `length`-long chain."""
    if kind == "protein":
        return LEAVING_ATOM[kind] if position < length else None
    if kind in ("rna", "dna"):
        return LEAVING_ATOM[kind] if position > 1 else None
    return None  # ligands keep every atom


def looks_like_ccd_code(code: str) -> bool:
    """Tell whether `code` has the form of a CCD id (so real AF3 could know it)."""
    return bool(CCD_CODE_FORM.fullmatch(code))


def component_atoms(code: str, kind: str = "ligand", position: int = 1, length: int = 1) -> tuple[int, bool]:
    """Return (heavy atoms, exact) of CCD component `code` as AF3 places it, i.e. its token count.

    Args:
        code: CCD code; one the table does not know counts `UNKNOWN_COMPONENT_ATOMS` and is not exact.
        kind: "ligand", or the polymer ("protein" / "rna" / "dna") the residue sits in.
        position: 1-based residue position in that polymer.
        length: the polymer's length; with `position` it decides whether the leaving atom stays.
    """
    n = HEAVY_ATOMS.get(code)
    exact = n is not None and code not in ESTIMATED_CODES
    n = UNKNOWN_COMPONENT_ATOMS if n is None else n
    if leaving_atom(kind, position, length) and code not in NO_LEAVING_ATOM:
        n -= 1
    return n, exact


def _bracket_is_heavy(inner: str) -> bool:
    """Tell whether a bracket atom such as `[2H]`, `[NH4+]`, `[Fe+2]` is a non-hydrogen atom."""
    body = inner.lstrip("0123456789")  # isotope
    if body[:2] in ("He", "Hf", "Hg", "Ho", "Hs"):
        return True
    return not body.startswith("H")


def heavy_atoms_in_smiles(smiles: str) -> int:
    """Return the number of heavy (non-hydrogen) atoms written in a SMILES string.

    Counts bracket atoms except hydrogens, the organic subset (B C N O P S F Cl Br I) and aromatic
    lowercase atoms; implicit hydrogens are never atoms. Unknown characters are ignored.
    """
    count, i, n = 0, 0, len(smiles)
    while i < n:
        ch = smiles[i]
        if ch == "[":
            end = smiles.find("]", i + 1)
            end = n if end < 0 else end
            count += _bracket_is_heavy(smiles[i + 1:end])
            i = end + 1
        elif smiles[i:i + 2] in _TWO_LETTER:
            count += 1
            i += 2
        else:
            count += ch in _ONE_LETTER
            i += 1
    return count
