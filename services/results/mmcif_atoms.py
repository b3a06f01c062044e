"""The atom table of an AF3 model mmCIF, read just far enough for the results view.

AF3 (locally and on AlphaFold Server) writes each atom's pLDDT into `B_iso_or_equiv` and one
`_atom_site` loop; values there never contain spaces, so a whitespace split is exact.

Polymer or ligand is decided by the atom's entity (`_entity.type`), never by the record type:
AF3 writes modified residues (PTMs, modified nucleotides) as HETATM records of a polymer entity,
and they belong in the chain's cartoon. Without an `_entity` loop, a residue with a sequence
position (`label_seq_id` not ".") is a polymer residue.
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
    hetero: bool  # written as HETATM: a ligand, an ion, or a modified residue of a polymer
    atoms: tuple[str, ...]  # atom names in file order
    plddts: tuple[float, ...]  # per atom, from B_iso_or_equiv
    polymer: bool = False  # part of a polymer entity (protein, DNA, RNA), modified residues included

    @property
    def modified(self) -> bool:
        """A polymer residue AF3 wrote as HETATM: a PTM or a modified nucleotide."""
        return self.polymer and self.hetero


def _entity_types(lines: list[str]) -> dict[str, str]:
    """Return entity id -> type ("polymer", "non-polymer", "branched", ...) from an `_entity` loop."""
    columns = [x.strip().split(".", 1)[1] for x in lines if x.startswith("_entity.")]
    if "id" not in columns or "type" not in columns:
        return {}
    i, t = columns.index("id"), columns.index("type")
    out = {}
    for line in lines:
        parts = line.split()
        if not line.startswith(("_", "#", "loop_")) and len(parts) == len(columns):
            out[parts[i]] = parts[t]
    return out


def read_residues(path: Path) -> list[Residue]:
    """Return the residues of the first model in an mmCIF file (empty when there is no atom loop)."""
    columns: list[str] = []
    entity_block: list[str] = []
    in_entity = False
    entities: dict[str, str] = {}
    residues: list[Residue] = []
    current: tuple | None = None
    ix: tuple = ()
    model_ix: int | None = None
    atoms: list[str] = []
    plddts: list[float] = []
    with Path(path).open() as fh:
        for line in fh:
            if line.startswith("_entity."):
                in_entity = True
            if in_entity:
                if line.startswith("#") or (line.startswith(("_", "loop_")) and not line.startswith("_entity.")):
                    in_entity, entities = False, _entity_types(entity_block)
                else:
                    entity_block.append(line)
                    continue
            if line.startswith("_atom_site."):
                columns.append(line.strip().split(".", 1)[1])
                continue
            if not columns or not line.startswith(("ATOM", "HETATM")):
                if current is not None and line.startswith(("#", "loop_", "_")):
                    break
                continue
            if current is None:
                ix, model_ix = _indices(columns)
            parts = line.split()
            if model_ix is not None and residues and parts[model_ix] != "1":
                break
            polymer = _is_polymer(parts, ix, entities)
            key = (parts[ix[1]], parts[ix[2]], parts[ix[3]], parts[ix[0]] == "HETATM", polymer)
            if key != current:
                if current is not None and atoms:
                    residues.append(_residue(current, atoms, plddts))
                current, atoms, plddts = key, [], []
            atoms.append(parts[ix[4]].strip("\"'"))
            plddts.append(float(parts[ix[5]]))
    if current is not None and atoms:
        residues.append(_residue(current, atoms, plddts))
    return residues


def _indices(columns: list[str]) -> tuple[tuple, int | None]:
    """Return the column positions the reader uses, and the model number's (None when absent)."""
    col = {name: i for i, name in enumerate(columns)}
    return ((col["group_PDB"], col["label_asym_id"], col.get("auth_seq_id", col.get("label_seq_id")),
             col["label_comp_id"], col["label_atom_id"], col["B_iso_or_equiv"], col.get("label_entity_id"),
             col.get("label_seq_id")), col.get("pdbx_PDB_model_num"))


def _is_polymer(parts: list[str], ix: tuple, entities: dict[str, str]) -> bool:
    """Return whether the atom belongs to a polymer entity (by entity type, else by sequence position)."""
    entity_ix, seq_ix = ix[6], ix[7]
    if entities and entity_ix is not None and parts[entity_ix] in entities:
        return entities[parts[entity_ix]] == "polymer"
    if seq_ix is not None:
        return parts[seq_ix] not in (".", "?")
    return parts[ix[0]] == "ATOM"


def _residue(key: tuple, atoms: list[str], plddts: list[float]) -> Residue:
    chain, number, name, hetero, polymer = key
    try:
        num = int(number)
    except ValueError:
        num = 1
    return Residue(chain, num, name, hetero, tuple(atoms), tuple(plddts), polymer)
