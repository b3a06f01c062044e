"""AlphaFold 3 input: parse, validate, convert, build, name and size fold jobs (no web imports)."""
from __future__ import annotations

from services.af3.ccd import COMMON_LIGANDS, HEAVY_ATOMS, heavy_atoms_in_smiles
from services.af3.names import int_id_to_str_id, safe_filename, sanitised_name

__all__ = ["COMMON_LIGANDS", "HEAVY_ATOMS", "heavy_atoms_in_smiles", "int_id_to_str_id", "safe_filename",
           "sanitised_name"]
