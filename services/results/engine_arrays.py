"""Confidences of engines that write a bare PAE matrix (Boltz, Chai-1, ...): tokens taken from the model.

AF3 names each PAE row's chain and residue (`token_chain_ids`, `token_res_ids`); other engines write
only the matrix, in the model's residue order with one token per polymer residue and one per atom of
a ligand. This hook lets `services.engines` readers reuse the results view's PAE image unchanged.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from services.platform import defaults
from services.results.confidences import Confidences, _empty, _starts, _tokens
from services.results.mmcif_atoms import read_residues
from services.results.pae_image import pae_image


def token_ids(model: Path) -> tuple[list[str], list[int]]:
    """Return each token's chain id and residue number: one per polymer residue, one per ligand atom."""
    chains: list[str] = []
    numbers: list[int] = []
    for res in read_residues(model):
        count = len(res.atoms) if res.hetero else 1
        chains += [res.chain] * count
        numbers += [res.number] * count
    return chains, numbers


def confidences_from_matrix(pae: np.ndarray, model: Path | None,
                            max_cells: int = defaults.RESULTS_PAE_MAX_CELLS) -> Confidences:
    """Return a sample's Confidences from a full tokens x tokens PAE and its model mmCIF."""
    if model is None or not model.is_file():
        return _empty("the model file is missing, so the PAE rows cannot be named.")
    token_chains, token_res = token_ids(model)
    if pae.ndim != 2 or pae.shape[0] != pae.shape[1] or pae.shape[0] != len(token_chains):
        return _empty(f"the PAE is {'x'.join(map(str, pae.shape))} but {model.name} has {len(token_chains)} "
                      "tokens.")
    image = pae_image(pae.astype(np.float32), max_cells)  # every cell, as for AF3 (block minima only above)
    tokens = _tokens(token_chains, token_res, model)
    return Confidences(pae_png=image.png, pae_block=image.block, tokens=tokens, chain_starts=_starts(token_chains))
