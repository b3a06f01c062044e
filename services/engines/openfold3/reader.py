"""Read an OpenFold3 run: <query>/seed_<S>/<query>_seed_<S>_sample_<N>_model.cif and its confidence JSONs.

Each sample has `..._confidences_aggregated.json` (avg_plddt 0-100, ptm, iptm, has_clash,
sample_ranking_score, chain_ptm by chain id, chain_pair_iptm keyed "(A, B)") and `..._confidences.json`
(per-atom pLDDT, PDE/PAE). Samples number from 1; OpenFold3 keeps FoldDeck's chain ids. Tested on a
published OpenFold3 output (tests/fixtures/engine_outputs/openfold3_6BJ9).
"""
from __future__ import annotations

import re
from pathlib import Path

from services.engines.base import EngineOutputs, EngineSample
from services.engines.outputs import best_first, mean_plddt, model_chains, read_json, renamed, score, square
from services.results import as_number

_PAIR = re.compile(r"^\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)$")
_AGGREGATED = re.compile(r"^(?P<stem>.+_seed_(?P<seed>\d+)_sample_(?P<n>\d+))_confidences_aggregated\.json$")
_MAX_DEPTH = 4


def read_outputs(output: Path, names: dict[str, str] | None = None) -> EngineOutputs:
    """Return the samples of an OpenFold3 run under `output`, best ranking score first."""
    output = Path(output)
    found: list[Path] = []
    for depth in range(_MAX_DEPTH + 1) if output.is_dir() else []:
        found += sorted(output.glob("/".join(["*"] * depth + ["*_confidences_aggregated.json"])))
    samples = [_sample(p, m, names or {}) for p in found if (m := _AGGREGATED.match(p.name))]
    if not samples:
        return EngineOutputs("openfold3", output, [], notes=["OpenFold3 wrote no *_confidences_aggregated.json."])
    return EngineOutputs("openfold3", output, best_first(samples))


def _pairs(doc: object, chains: list[str]) -> list[list[float | None]]:
    """Return the chain-pair ipTM matrix from OpenFold3's {"(A, B)": x} (symmetric), or a written matrix."""
    if not isinstance(doc, dict):
        return square(doc, len(chains)) if chains and doc is not None else []
    out: list[list[float | None]] = [[None] * len(chains) for _ in chains]
    for key, value in doc.items():
        m = _PAIR.match(str(key))
        if m and m[1] in chains and m[2] in chains and as_number(value) is not None:
            i, j = chains.index(m[1]), chains.index(m[2])
            out[i][j] = out[j][i] = float(value)
    return out


def _sample(path: Path, m: re.Match, names: dict[str, str]) -> EngineSample:
    doc, seed, n = read_json(path), int(m["seed"]), int(m["n"])
    model = path.with_name(f"{m['stem']}_model.cif")
    model = model if model.is_file() else None
    raw_ptm = doc.get("chain_ptm") or {}
    chains = renamed(model_chains(model) or (list(raw_ptm) if isinstance(raw_ptm, dict) else []), names)
    chain_ptm = ({names.get(str(k), str(k)): float(v) for k, v in raw_ptm.items() if as_number(v) is not None}
                 if isinstance(raw_ptm, dict) else
                 {c: float(v) for c, v in zip(chains, raw_ptm, strict=False) if as_number(v) is not None})
    ranking = doc.get("sample_ranking_score", doc.get("ranking_score"))
    plddt = as_number(doc.get("avg_plddt"))
    clash = as_number(doc.get("has_clash"))
    return EngineSample(score(f"seed-{seed}_sample-{n}", f"seed {seed} · sample {n}", n, ranking, doc.get("ptm"),
                              doc.get("iptm"), _pairs(doc.get("chain_pair_iptm"), chains),
                              None if clash is None else clash > 0, seed),
                        model, chains, chain_ptm, plddt if plddt is not None else mean_plddt(model))
