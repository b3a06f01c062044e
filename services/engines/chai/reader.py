"""Read a Chai-1 run: pred.model_idx_N.cif and scores.model_idx_N.npz in the output folder.

Chai-1 names chains A, B, C... in FASTA order (`names` maps them back to FoldDeck's ids); its scores
hold aggregate_score (its ranking), ptm, iptm, per_chain_ptm, per_chain_pair_iptm and
has_inter_chain_clashes, each with a leading axis of one. The PAE, when written, is a separate .npy.
Tested on real Chai-1 output (../shared/engine_outputs/chai1_6BJ9).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from services.engines.base import EngineOutputs, EngineSample
from services.engines.outputs import best_first, mean_plddt, model_chains, renamed, score, square
from services.results import Confidences
from services.results.engine_arrays import confidences_from_matrix

_SCORES = re.compile(r"^scores\.model_idx_(?P<n>\d+)\.npz$")


def _first(data: np.lib.npyio.NpzFile, key: str) -> np.ndarray | None:
    """Return one score array without Chai's leading axis of one (None when absent)."""
    if key not in data.files:
        return None
    value = np.asarray(data[key])
    return value[0] if value.ndim >= 1 and value.shape[0] == 1 else value


def read_outputs(output: Path, names: dict[str, str] | None = None) -> EngineOutputs:
    """Return the samples of a Chai-1 run under `output`, best aggregate score first."""
    folder = Path(output)
    found = sorted(folder.glob("scores.model_idx_*.npz")) if folder.is_dir() else []
    if not found and folder.is_dir():  # one job folder inside the attempt's output
        found = sorted(folder.glob("*/scores.model_idx_*.npz"))
    if not found:
        return EngineOutputs("chai", folder, [], notes=["Chai-1 wrote no scores.model_idx_N.npz files."])
    samples = []
    for path in found:
        m = _SCORES.match(path.name)
        if m:
            samples.append(_sample(path.parent, int(m["n"]), path, names or {}))
    notes = [] if any(s.pae for s in samples) else ["Chai-1 wrote no PAE file here (pae.model_idx_N.npy)."]
    return EngineOutputs("chai", found[0].parent, best_first(samples), notes=notes, confidences=_confidences)


def _sample(folder: Path, n: int, path: Path, names: dict[str, str]) -> EngineSample:
    model = folder / f"pred.model_idx_{n}.cif"
    model = model if model.is_file() else None
    chains = renamed(model_chains(model), names)
    with np.load(path) as data:
        ranking, ptm, iptm = (_first(data, k) for k in ("aggregate_score", "ptm", "iptm"))
        per_chain, pairs = _first(data, "per_chain_ptm"), _first(data, "per_chain_pair_iptm")
        clash = _first(data, "has_inter_chain_clashes")
    chain_ptm = ({c: round(float(v), 4) for c, v in zip(chains, per_chain, strict=False)}
                 if per_chain is not None else {})
    matrix = square(pairs, len(chains)) if pairs is not None else []
    pae = folder / f"pae.model_idx_{n}.npy"
    return EngineSample(score(f"model-{n}", f"model {n}", n, _scalar(ranking), _scalar(ptm), _scalar(iptm), matrix,
                              None if clash is None else bool(clash)),
                        model, chains, chain_ptm, mean_plddt(model), pae if pae.is_file() else None)


def _scalar(value: np.ndarray | None) -> float | None:
    return None if value is None or np.asarray(value).size != 1 else float(np.asarray(value).reshape(()))


def _confidences(sample: EngineSample) -> Confidences | None:
    if sample.pae is None:
        return None
    return confidences_from_matrix(np.load(sample.pae), sample.model)
