"""Chai-1's stand-in: read the FASTA FoldDeck wrote, write pred.model_idx_N.cif and scores.model_idx_N.npz."""
from __future__ import annotations

import re
import string
from pathlib import Path

import numpy as np

from services.engines.sims.structure import layout_of, make_model, write_cif

_MOD = re.compile(r"\(([A-Za-z0-9]{1,5})\)")


def af3_of(fasta: str, name: str) -> dict:
    """Return the AF3-dialect job a Chai-1 FASTA describes; chains are A, B, C... in FASTA order."""
    sequences, header = [], None
    letters = iter(string.ascii_uppercase)
    for line in fasta.splitlines():
        if line.startswith(">"):
            header = line[1:].split("|")[0].strip()
            continue
        if not line.strip() or header is None:
            continue
        cid, body = next(letters), line.strip()
        if header == "ligand":
            sequences.append({"ligand": {"id": cid, "smiles": body}})
            continue
        residues, mods, pos = [], [], 0
        for token in re.findall(r"\([A-Za-z0-9]{1,5}\)|.", body):
            pos += 1
            if m := _MOD.fullmatch(token):
                mods.append((pos, m[1]))
                residues.append("X" if header == "protein" else "N")
            else:
                residues.append(token)
        key = ("ptmType", "ptmPosition") if header == "protein" else ("modificationType", "basePosition")
        sequences.append({header: {"id": cid, "sequence": "".join(residues),
                                   "modifications": [{key[0]: c, key[1]: p} for p, c in mods]}})
    return {"dialect": "alphafold3", "version": 1, "name": name, "sequences": sequences, "modelSeeds": [1]}


def run(input_path: Path, out_dir: Path, samples: int, seed: int) -> None:
    """Write Chai-1's outputs for the FASTA at `input_path` into `out_dir`."""
    layout = layout_of(af3_of(input_path.read_text(), "chai"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print("Running trunk", flush=True)
    print("Running diffusion", flush=True)
    for n in range(samples):
        model = make_model(layout, seed, n)
        write_cif(model, out_dir / f"pred.model_idx_{n}.cif", f"pred.model_idx_{n}")
        np.savez(out_dir / f"scores.model_idx_{n}.npz", **_scores(model))
    print("Scoring done, writing outputs", flush=True)


def _scores(model) -> dict:
    layout = model.layout
    chain_of = np.array([layout.chain_ids.index(layout.residues[t.residue].chain_id) for t in layout.tokens])
    tm = 1 / (1 + (model.pae / 8.0) ** 2)
    n = len(layout.chain_ids)
    pair = np.array([[tm[np.ix_(chain_of == i, chain_of == j)].mean() for j in range(n)] for i in range(n)])
    inter = tm[chain_of[:, None] != chain_of[None, :]]
    iptm, ptm = float(inter.mean()) if inter.size else 0.0, float(tm.mean())
    return {"aggregate_score": np.array([0.2 * ptm + 0.8 * iptm], np.float32), "ptm": np.array([ptm], np.float32),
            "iptm": np.array([iptm], np.float32), "per_chain_ptm": pair.diagonal()[None].astype(np.float32),
            "per_chain_pair_iptm": pair[None].astype(np.float32), "has_inter_chain_clashes": np.array([False]),
            "chain_chain_clashes": np.zeros((1, n, n), np.int32)}
