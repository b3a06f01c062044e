"""Heavy-atom counts of common CCD components, the builder's ligand picker, and a SMILES atom counter.

AF3 gives a ligand, an ion or a modified residue one token per heavy atom, so these counts drive
the size estimate. Values are heavy atoms (non-hydrogen) of the free component as written in the
CCD `_chem_comp.formula`; inside a polymer a residue loses one leaving atom (OXT / OP3), see
`in_chain_heavy_atoms`.
"""
from __future__ import annotations

HEAVY_ATOMS: dict[str, int] = {
    # -- ions (one atom each; the charge is implied by the code) --
    "MG": 1, "ZN": 1, "CL": 1, "CA": 1, "NA": 1, "MN": 1, "K": 1, "FE": 1, "FE2": 1, "CU": 1,
    "CU1": 1, "CO": 1, "NI": 1, "CD": 1, "IOD": 1, "BR": 1, "F": 1, "LI": 1, "SR": 1, "HG": 1,
    # -- nucleotides and cofactors (AlphaFold Server ligand allow-list first) --
    "ATP": 31, "ADP": 27, "AMP": 23, "GTP": 32, "GDP": 28, "GMP": 24, "ANP": 31,
    "NAD": 44, "NAP": 48, "NDP": 48, "NAI": 44, "FAD": 53, "FMN": 31, "COA": 48, "ACO": 51,
    "HEM": 43, "HEC": 43, "SAM": 27, "SAH": 26, "PLP": 16,
    "PLM": 18, "OLA": 20, "MYR": 16, "CIT": 13,
    "CLA": 65, "CHL": 66, "BCL": 66, "BCB": 66,
    # -- small additives seen in crystal structures --
    "SO4": 5, "PO4": 5, "GOL": 6, "EDO": 4, "ACT": 4, "PEG": 7,
    # -- protein PTMs (AlphaFold Server allow-list) --
    "SEP": 11, "TPO": 12, "PTR": 17, "NEP": 15, "HIP": 15, "ALY": 13, "MLY": 12, "M3L": 13,
    "MLZ": 11, "2MR": 14, "AGM": 13, "MCS": 13, "HYP": 9, "HY3": 9, "LYZ": 11, "AHB": 10,
    "P1L": 24, "SNN": 8, "SNC": 9, "TRF": 17, "KCR": 15, "CIR": 12,
    "YHA": 16,  # estimate (2-hydroxyisobutyryl-lysine-sized); not checked against the CCD
    "MSE": 8, "CSO": 7, "KCX": 13, "PCA": 9,
    # -- DNA modifications (server allow-list) --
    "5CM": 21, "C34": 21, "5HC": 22, "6OG": 24, "6MA": 23, "1CC": 23, "8OG": 24, "5FC": 22, "3DR": 12,
    # -- RNA modifications (server allow-list) --
    "PSU": 21, "5MC": 22, "OMC": 22, "4OC": 23, "5MU": 22, "OMU": 22, "UR3": 22, "A2M": 24,
    "MA6": 25, "6MZ": 24, "2MG": 25, "OMG": 25, "7MG": 25,
    "RSQ": 22,  # estimate (methylated-cytidine-sized); not checked against the CCD
    # -- sugars (glycans are multi-code ligands) --
    "NAG": 15, "NDG": 15, "MAN": 12, "BMA": 12, "GLC": 12, "BGC": 12, "FUC": 11, "GAL": 12, "SIA": 21,
    # -- standard residues, free form incl. OXT / OP3 (HOH is left out: AF3 does not model water) --
    "ALA": 6, "ARG": 12, "ASN": 9, "ASP": 9, "CYS": 7, "GLN": 10, "GLU": 10, "GLY": 5, "HIS": 11,
    "ILE": 9, "LEU": 9, "LYS": 10, "MET": 9, "PHE": 12, "PRO": 8, "SER": 7, "THR": 8, "TRP": 15,
    "TYR": 13, "VAL": 8,
    "A": 23, "C": 21, "G": 24, "U": 21, "DA": 22, "DC": 20, "DG": 23, "DT": 21,
}

# Codes whose count above is a guess; a size estimate that uses them says "approximate".
ESTIMATED_CODES: frozenset[str] = frozenset({"YHA", "RSQ"})

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


def in_chain_heavy_atoms(code: str) -> int | None:
    """Return the heavy atoms of a residue inside a polymer (one leaving atom fewer), None if unknown."""
    n = HEAVY_ATOMS.get(code.upper())
    return None if n is None else max(1, n - 1)


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
