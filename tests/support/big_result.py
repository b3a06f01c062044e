"""A 5,000-token AF3-style result folder, written in seconds, for the results view's size checks.

Four ~1,250-residue protein chains and one calcium ion (a single token): the ion's PAE row is a
one-token stripe of low error against chain A, exactly what a block-averaged map would blur.
The PAE has domain structure plus noise at AF3's 0.1 Å resolution, so it packs like a real one.
Layout: AF3 v3.0 best-only (`<name>_model.cif`, `_confidences.json`, `_summary_confidences.json`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CHAINS = (("A", 1250), ("B", 1250), ("C", 1250), ("D", 1249))
ION = ("E", "CA")
TOKENS = sum(n for _, n in CHAINS) + 1  # 4,999 + the ion: AF3's limit, 5,000
STRIPE = 1.2  # Å: the ion aligned on chain A


def token_chains() -> list[str]:
    return [c for c, n in CHAINS for _ in range(n)] + [ION[0]]


def big_pae(seed: int = 0) -> np.ndarray:
    """Return the PAE in tenths of Å (int16): low within 300-residue domains, high across, one ion stripe."""
    rng = np.random.default_rng(seed)
    domain = np.arange(TOKENS) // 300
    pae = np.where(domain[:, None] == domain[None, :], 30, 220).astype(np.int16)
    pae += rng.integers(0, 12, size=(TOKENS, TOKENS), dtype=np.int16)
    pae[-1, :CHAINS[0][1]] = int(STRIPE * 10)  # the ion's row: confidently placed against chain A
    np.fill_diagonal(pae, 2)
    return pae


def _pae_text(tenths: np.ndarray) -> str:
    lut = np.array([f"{v / 10:g}" if v % 10 else f"{v // 10}.0" for v in range(int(tenths.max()) + 1)], dtype=object)
    return "[" + ",".join("[" + ",".join(lut[row]) + "]" for row in tenths) + "]"


def _model_text(name: str) -> str:
    lines = [f"data_{name}", "#", "loop_", "_entity.id", "_entity.pdbx_description", "_entity.type"]
    lines += [f"{i + 1} . polymer" for i in range(len(CHAINS))] + [f"{len(CHAINS) + 1} . non-polymer", "#", "loop_"]
    cols = ("group_PDB id type_symbol label_atom_id label_alt_id label_comp_id label_asym_id label_entity_id "
            "label_seq_id pdbx_PDB_ins_code Cartn_x Cartn_y Cartn_z occupancy B_iso_or_equiv auth_seq_id "
            "auth_asym_id pdbx_PDB_model_num").split()
    lines += [f"_atom_site.{c}" for c in cols]
    atom = 0
    for e, (chain, n) in enumerate(CHAINS, start=1):
        for i in range(n):  # a CA trace on a helix: 1.5 Å rise, 100° per residue, radius 2.3 Å (CA-CA 3.8 Å)
            atom += 1
            x, y, z = 2.3 * np.cos(np.radians(100 * i)) + 40 * e, 2.3 * np.sin(np.radians(100 * i)), 1.5 * i
            lines.append(f"ATOM {atom} C CA . GLY {chain} {e} {i + 1} ? {x:.3f} {y:.3f} {z:.3f} 1.00 "
                         f"{60 + 35 * ((i // 300) % 2):.2f} {i + 1} {chain} 1")
    lines.append(f"HETATM {atom + 1} CA CA . CA {ION[0]} {len(CHAINS) + 1} . ? 0.000 0.000 0.000 1.00 91.00 1 "
                 f"{ION[0]} 1")
    return "\n".join(lines + ["#", ""])


def write_big_result(folder: Path, name: str = "big5000") -> Path:
    """Write the result into `folder/<name>/` and return `folder` (an attempt's output folder)."""
    job = folder / name
    job.mkdir(parents=True, exist_ok=True)
    chains = token_chains()
    res = [i + 1 for _, n in CHAINS for i in range(n)] + [1]
    (job / f"{name}_confidences.json").write_text(
        '{"atom_chain_ids":' + json.dumps(chains) + ',"atom_plddts":' + json.dumps([80.0] * TOKENS)
        + ',"contact_probs":[],"pae":' + _pae_text(big_pae()) + ',"token_chain_ids":' + json.dumps(chains)
        + ',"token_res_ids":' + json.dumps(res) + "}")
    n = len(CHAINS) + 1
    (job / f"{name}_summary_confidences.json").write_text(json.dumps(
        {"chain_iptm": [0.5] * n, "chain_pair_iptm": [[0.5] * n] * n, "chain_pair_pae_min": [[1.0] * n] * n,
         "chain_ptm": [0.8] * len(CHAINS) + [None], "fraction_disordered": 0.1, "has_clash": 0.0, "iptm": 0.5,
         "ptm": 0.7, "ranking_score": 0.6}, indent=1))
    (job / f"{name}_model.cif").write_text(_model_text(name))
    return folder
