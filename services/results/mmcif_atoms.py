"""The atom table of an AF3 model mmCIF, read just far enough for the results view.

AF3 (locally and on AlphaFold Server) writes each atom's pLDDT into `B_iso_or_equiv` and one
`_atom_site` loop; values there never contain spaces, so a whitespace split is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Residue:
    """One residue (or one ligand / ion) of the model, in file order."""

    chain: str  # label_asym_id (AF3 writes the same id as auth_asym_id)
    number: int  # auth_seq_id: AF3 numbers polymers from 1, each ligand copy is residue 1 of its chain
    name: str  # CCD code
    hetero: bool  # HETATM: ligand or ion
    atoms: tuple[str, ...]  # atom names in file order
    plddts: tuple[float, ...]  # per atom, from B_iso_or_equiv


def read_residues(path: Path) -> list[Residue]:
    """Return the residues of the first model in an mmCIF file (empty when there is no atom loop)."""
    columns: list[str] = []
    residues: list[Residue] = []
    current: tuple | None = None
    ix: tuple = ()
    model_ix: int | None = None
    atoms: list[str] = []
    plddts: list[float] = []
    with Path(path).open() as fh:
        for line in fh:
            if line.startswith("_atom_site."):
                columns.append(line.strip().split(".", 1)[1])
                continue
            if not columns or not line.startswith(("ATOM", "HETATM")):
                if current is not None and line.startswith(("#", "loop_", "_")):
                    break
                continue
            if current is None:
                col = {name: i for i, name in enumerate(columns)}
                ix = (col["group_PDB"], col["label_asym_id"], col.get("auth_seq_id", col["label_seq_id"]),
                      col["label_comp_id"], col["label_atom_id"], col["B_iso_or_equiv"])
                model_ix = col.get("pdbx_PDB_model_num")
            parts = line.split()
            if model_ix is not None and residues and parts[model_ix] != "1":
                break
            key = (parts[ix[1]], parts[ix[2]], parts[ix[3]], parts[ix[0]] == "HETATM")
            if key != current:
                if current is not None and atoms:
                    residues.append(_residue(current, atoms, plddts))
                current, atoms, plddts = key, [], []
            atoms.append(parts[ix[4]].strip("\"'"))
            plddts.append(float(parts[ix[5]]))
    if current is not None and atoms:
        residues.append(_residue(current, atoms, plddts))
    return residues


def _residue(key: tuple, atoms: list[str], plddts: list[float]) -> Residue:
    chain, number, name, hetero = key
    try:
        num = int(number)
    except ValueError:
        num = 1
    return Residue(chain, num, name, hetero, tuple(atoms), tuple(plddts))
