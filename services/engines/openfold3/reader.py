"""Read an OpenFold3 run: <query>/seed_<S>/<query>_seed_<S>_sample_<N>_model.cif and its confidence JSONs.

Each sample has `..._confidences_aggregated.json` (avg_plddt, ptm, iptm, chain_ptm, chain_pair_iptm,
has_clash, sample_ranking_score) and `..._confidences.json` (per-atom pLDDT, PDE/PAE). Samples
number from 1.
"""
from __future__ import annotations

import re
from pathlib import Path

from services.engines.base import EngineOutputs, EngineSample
from services.engines.outputs import best_first, mean_plddt, model_chains, read_json, renamed, score, square
from services.results import as_number

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


def _sample(path: Path, m: re.Match, names: dict[str, str]) -> EngineSample:
    doc, seed, n = read_json(path), int(m["seed"]), int(m["n"])
    model = path.with_name(f"{m['stem']}_model.cif")
    model = model if model.is_file() else None
    chains = renamed(model_chains(model), names)
    raw_ptm = doc.get("chain_ptm") or {}
    chain_ptm = ({str(k): float(v) for k, v in raw_ptm.items() if as_number(v) is not None}
                 if isinstance(raw_ptm, dict) else
                 {c: float(v) for c, v in zip(chains, raw_ptm, strict=False) if as_number(v) is not None})
    ranking = doc.get("sample_ranking_score", doc.get("ranking_score"))
    plddt = as_number(doc.get("avg_plddt"))
    clash = as_number(doc.get("has_clash"))
    return EngineSample(score(f"seed-{seed}_sample-{n}", f"seed {seed} · sample {n}", n, ranking, doc.get("ptm"),
                              doc.get("iptm"), square(doc.get("chain_pair_iptm"), len(chains)) if chains else [],
                              None if clash is None else clash > 0, seed),
                        model, chains, chain_ptm, plddt if plddt is not None else mean_plddt(model))
