"""Atom coordinates of a model mmCIF (first model), for superposing engines' answers.

Every engine FoldDeck reads writes one `_atom_site` loop whose values have no spaces (AF3, Boltz,
Chai-1: ../shared), so a whitespace split is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Atom:
    chain: str  # label_asym_id
    number: int  # auth_seq_id (a ligand: 1)
    residue: str
    name: str
    hetero: bool
    xyz: np.ndarray


def read_atoms(path: Path) -> list[Atom]:
    """Return the atoms of the first model (empty without an atom loop)."""
    columns: list[str] = []
    out: list[Atom] = []
    ix: dict[str, int] = {}
    with Path(path).open() as fh:
        for line in fh:
            if line.startswith("_atom_site."):
                columns.append(line.strip().split(".", 1)[1])
                continue
            if not columns or not line.startswith(("ATOM", "HETATM")):
                if out and line.startswith(("#", "loop_", "_")):
                    break
                continue
            if not ix:
                ix = {name: i for i, name in enumerate(columns)}
            parts = line.split()
            if "pdbx_PDB_model_num" in ix and parts[ix["pdbx_PDB_model_num"]] != "1":
                break
            number = parts[ix.get("auth_seq_id", ix["label_seq_id"])]
            out.append(Atom(parts[ix["label_asym_id"]], int(number) if number.lstrip("-").isdigit() else 1,
                            parts[ix["label_comp_id"]], parts[ix["label_atom_id"]].strip("\"'"),
                            parts[ix["group_PDB"]] == "HETATM",
                            np.array([float(parts[ix[k]]) for k in ("Cartn_x", "Cartn_y", "Cartn_z")])))
    return out
