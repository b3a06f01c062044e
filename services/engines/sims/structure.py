"""A synthetic model for the stand-ins: the AF3 simulator's residues and coordinates, as an engine's mmCIF.

The engine's input is turned back into an AF3 job so `services.af3sim` lays out residues, tokens and
coordinates; this module writes them with the `_atom_site` columns Boltz and Chai-1 write (see
../shared/engine_outputs) and the pLDDT per atom in B-factors.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.af3sim.loader import input_from_json
from services.af3sim.output.structure import Layout, build_coordinates, tokenise

_COLUMNS = ("group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
            "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy",
            "B_iso_or_equiv", "auth_seq_id", "auth_asym_id", "pdbx_PDB_model_num")
_STANDARD = set("ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
                "A C G U DA DC DG DT".split())


@dataclass
class Model:
    """One synthetic sample: its layout, coordinates, per-residue pLDDT (0-100) and token PAE."""

    layout: Layout
    coords: list[list[tuple[float, float, float]]]
    plddt: np.ndarray  # per residue
    pae: np.ndarray  # tokens x tokens

    def token_plddt(self) -> np.ndarray:
        """Return pLDDT per token (a per-atom-token residue repeats its value), 0-100."""
        return np.array([self.plddt[t.residue] for t in self.layout.tokens])


def layout_of(af3: dict) -> Layout:
    """Return the residues and tokens of an AF3-dialect job (raises ValueError when it cannot be laid out)."""
    return tokenise(input_from_json(json.dumps(af3)))


def make_model(layout: Layout, seed: int, sample: int) -> Model:
    """Return one sample: coordinates jittered per sample, pLDDT and a PAE that grows across chains."""
    rng = random.Random(seed * 1000 + sample)
    coords = build_coordinates(layout, rng)
    gen = np.random.default_rng(seed * 1000 + sample)
    plddt = np.clip(gen.normal(82, 8, len(layout.residues)), 30, 98)
    chain_of = np.array([layout.chain_ids.index(layout.residues[t.residue].chain_id) for t in layout.tokens])
    base = np.where(chain_of[:, None] == chain_of[None, :], 3.0, 9.0)
    pae = np.clip(base + gen.gamma(2.0, 1.0, base.shape), 0.3, 31.75).astype(np.float32)
    return Model(layout, coords, plddt, pae)


def write_cif(model: Model, path: Path, name: str, chain_names: dict[str, str] | None = None) -> None:
    """Write the model as mmCIF with the engines' `_atom_site` columns (`chain_names`: FoldDeck id -> written id)."""
    names = chain_names or {}
    entities = {cid: n for n, cid in enumerate(model.layout.chain_ids, start=1)}
    lines = [f"data_{name}", "#", "loop_"] + [f"_atom_site.{c}" for c in _COLUMNS]
    serial = 0
    for res, atoms in zip(model.layout.residues, model.coords, strict=True):
        hetero = res.kind == "ligand" or res.name not in _STANDARD
        chain = names.get(res.chain_id, res.chain_id)
        seq_id = "." if res.kind == "ligand" else str(res.res_id)
        bfac = f"{model.plddt[model.layout.residues.index(res)]:.2f}"
        for (atom, element), (x, y, z) in zip(res.atoms, atoms, strict=True):
            serial += 1
            lines.append(f"{'HETATM' if hetero else 'ATOM':<6} {serial:<6} {element} {atom} . {res.name} {chain} "
                         f"{entities[res.chain_id]} {seq_id} ? {x:.3f} {y:.3f} {z:.3f} 1.0 {bfac} {res.res_id} "
                         f"{chain} 1")
    lines.append("#")
    path.write_text("\n".join(lines) + "\n")


def chain_scores(model: Model) -> dict:
    """Return pTM, ipTM, per-chain pTM and the chain-pair matrix a model's PAE implies (TM-like transform)."""
    layout = model.layout
    chain_of = np.array([layout.chain_ids.index(layout.residues[t.residue].chain_id) for t in layout.tokens])
    tm = 1 / (1 + (model.pae / 8.0) ** 2)
    n = len(layout.chain_ids)
    pairs = [[round(float(tm[np.ix_(chain_of == i, chain_of == j)].mean()), 4) for j in range(n)] for i in range(n)]
    inter = tm[chain_of[:, None] != chain_of[None, :]]
    return {"ptm": round(float(tm.mean()), 4), "iptm": round(float(inter.mean()) if inter.size else 0.0, 4),
            "chain_ptm": [pairs[i][i] for i in range(n)], "pairs": pairs}
