"""Facts about the AlphaFold 3 and AlphaFold Server input formats that the checks rely on."""
from __future__ import annotations

import re

AF3_DIALECT = "alphafold3"
SERVER_DIALECT = "alphafoldserver"
AF3_VERSIONS = (1, 2, 3, 4)
UINT32_MAX = 2**32 - 1
MAX_TEMPLATES = 20  # AF3's ProteinChain docstring: at most 20 templates are used
SERVER_MAX_JOBS = 100  # AlphaFold Server FAQ: at most 100 jobs per uploaded file

TOP_KEYS = ("dialect", "version", "name", "sequences", "modelSeeds", "bondedAtomPairs", "userCCD", "userCCDPath")
ENTITY_KEYS = {
    "protein": ("id", "sequence", "modifications", "description", "unpairedMsa", "unpairedMsaPath", "pairedMsa",
                "pairedMsaPath", "templates"),
    "rna": ("id", "sequence", "modifications", "description", "unpairedMsa", "unpairedMsaPath"),
    "dna": ("id", "sequence", "modifications", "description"),
    "ligand": ("id", "ccdCodes", "smiles", "description"),
}
TEMPLATE_KEYS = ("mmcif", "mmcifPath", "queryIndices", "templateIndices")
MOD_KEYS = {"protein": ("ptmType", "ptmPosition"), "rna": ("modificationType", "basePosition"),
            "dna": ("modificationType", "basePosition")}

# Version that introduced each optional field (reference §1.1).
FIELD_VERSION = {"unpairedMsaPath": 2, "pairedMsaPath": 2, "mmcifPath": 2, "userCCDPath": 3, "description": 4}

ALPHABETS = {"protein": "ACDEFGHIKLMNPQRSTVWY", "rna": "ACGU", "dna": "ACGT"}
# Letters AF3 models as an unknown residue; allowed, but worth a warning.
UNKNOWN_LETTER = {"protein": "X", "rna": "N", "dna": "N"}
POLYMER_NOUN = {"protein": "Protein", "rna": "RNA", "dna": "DNA"}
ALPHABET_TEXT = {
    "protein": "use the 20 standard one-letter amino-acid codes (ACDEFGHIKLMNPQRSTVWY)",
    "rna": "use the RNA bases A, C, G and U",
    "dna": "use the DNA bases A, C, G and T",
}

CHAIN_ID = re.compile(r"[A-Z]+")
CCD_CODE = re.compile(r"[A-Z0-9]{1,5}")  # CCD ids are 1-5 upper-case letters/digits
USER_CCD_CODE = re.compile(r"[A-Za-z0-9-]{1,32}")  # userCCD ids such as LIG-1 (no '_' or '#')

SERVER_TOP_KEYS = ("name", "modelSeeds", "sequences", "dialect", "version")
SERVER_ENTITY_KEYS = {
    "proteinChain": ("sequence", "count", "glycans", "modifications", "useStructureTemplate", "maxTemplateDate",
                     "unpairedMsa", "templates"),
    "dnaSequence": ("sequence", "count", "modifications"),
    "rnaSequence": ("sequence", "count", "modifications"),
    "ligand": ("ligand", "count"),
    "ion": ("ion", "count"),
}
SERVER_TO_AF3_TYPE = {"proteinChain": "protein", "dnaSequence": "dna", "rnaSequence": "rna"}
AF3_TO_SERVER_TYPE = {v: k for k, v in SERVER_TO_AF3_TYPE.items()}

SERVER_PTMS = frozenset("SEP TPO PTR NEP HIP ALY MLY M3L MLZ 2MR AGM MCS HYP HY3 LYZ AHB P1L SNN SNC TRF KCR CIR "
                        "YHA".split())
SERVER_DNA_MODS = frozenset("5CM C34 5HC 6OG 6MA 1CC 8OG 5FC 3DR".split())
SERVER_RNA_MODS = frozenset("PSU 5MC OMC 4OC 5MU OMU UR3 A2M MA6 6MZ 2MG OMG 7MG RSQ".split())
SERVER_LIGANDS = frozenset("ADP ATP AMP GTP GDP FAD NAD NAP NDP HEM HEC PLM OLA MYR CIT CLA CHL BCL BCB".split())
SERVER_IONS = frozenset("MG ZN CL CA NA MN K FE CU CO".split())
SERVER_MODS = {"protein": SERVER_PTMS, "dna": SERVER_DNA_MODS, "rna": SERVER_RNA_MODS}

USER_CCD_REQUIRED = (
    "_chem_comp.id", "_chem_comp.name", "_chem_comp.type", "_chem_comp.formula",
    "_chem_comp.mon_nstd_parent_comp_id", "_chem_comp.pdbx_synonyms", "_chem_comp.formula_weight",
    "_chem_comp_atom.comp_id", "_chem_comp_atom.atom_id", "_chem_comp_atom.type_symbol", "_chem_comp_atom.charge",
    "_chem_comp_atom.pdbx_model_Cartn_x_ideal", "_chem_comp_atom.pdbx_model_Cartn_y_ideal",
    "_chem_comp_atom.pdbx_model_Cartn_z_ideal", "_chem_comp_bond.atom_id_1", "_chem_comp_bond.atom_id_2",
    "_chem_comp_bond.value_order", "_chem_comp_bond.pdbx_aromatic_flag",
)
