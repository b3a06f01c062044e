"""Helpers every engine reader shares: chain order, pLDDT, chain-pair matrices, ranking."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from services.engines.base import EngineSample
from services.results import SampleScore, as_number
from services.results.mmcif_atoms import read_residues


def model_chains(model: Path | None) -> list[str]:
    """Return the chain ids of a model mmCIF in file order (empty when it cannot be read)."""
    try:
        return list(dict.fromkeys(r.chain for r in read_residues(model))) if model and model.is_file() else []
    except (OSError, ValueError, KeyError, IndexError):
        return []


def mean_plddt(model: Path | None) -> float | None:
    """Return the mean per-atom pLDDT (B-factors) of a model, 0-100, or None."""
    try:
        values = [p for r in read_residues(model) for p in r.plddts] if model and model.is_file() else []
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return round(float(np.mean(values)), 2) if values else None


def read_json(path: Path | None) -> dict:
    """Return a small JSON object ({} when missing or unreadable)."""
    try:
        doc = json.loads(path.read_text()) if path and path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def square(values: object, n: int) -> list[list[float | None]]:
    """Return an n x n matrix from nested lists/arrays ([] when the shape is not n x n)."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return []
    if arr.shape != (n, n):
        return []
    return [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in arr]


def from_index_dict(doc: object, n: int) -> list[list[float | None]]:
    """Return a matrix from Boltz's {"0": {"1": x}} chain-index dictionaries ([] when absent)."""
    if not isinstance(doc, dict):
        return []
    out: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i, row in doc.items():
        for j, value in (row.items() if isinstance(row, dict) else []):
            if str(i).isdigit() and str(j).isdigit() and int(i) < n and int(j) < n:
                out[int(i)][int(j)] = as_number(value)
    return out


def renamed(chains: list[str], names: dict[str, str]) -> list[str]:
    """Return chain ids in FoldDeck's names (`names`: the engine's id -> FoldDeck's; others unchanged)."""
    return [names.get(c, c) for c in chains]


def best_first(samples: list[EngineSample]) -> list[EngineSample]:
    """Return samples by ranking score, best first, the first marked `best`."""
    ordered = sorted(samples, key=lambda s: -(s.score.ranking_score if s.score.ranking_score is not None
                                               else float("-inf")))
    if ordered:
        ordered[0] = replace(ordered[0], score=replace(ordered[0].score, best=True))
    return ordered


def score(key: str, label: str, sample: int | None, ranking: object, ptm: object, iptm: object,
          pair_iptm: list[list[float | None]], clash: bool | None = None, seed: int | None = None) -> SampleScore:
    """Return FoldDeck's SampleScore for one engine sample."""
    return SampleScore(key, label, seed, sample, as_number(ranking), as_number(ptm), as_number(iptm),
                       has_clash=clash, chain_pair_iptm=pair_iptm)
