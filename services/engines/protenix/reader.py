"""Read a Protenix run: <name>/seed_<S>/predictions/<name>_seed_<S>_sample_<N>.cif and its summary JSON.

Older releases write `<name>/<S>/<name>_sample_<N>.cif`; both are found by the summary file
(`*_summary_confidence_sample_<N>.json`: ranking_score, ptm, iptm, chain_ptm, chain_pair_iptm,
has_clash, plddt) and the model beside it. Chains are renamed back with `names`.
"""
from __future__ import annotations

import re
from pathlib import Path

from services.engines.base import EngineOutputs, EngineSample
from services.engines.outputs import best_first, mean_plddt, model_chains, read_json, renamed, score, square
from services.results import as_number

_SUMMARY = re.compile(r"^(?P<stem>.+?)_summary_confidence_sample_(?P<n>\d+)\.json$")
_SEED = re.compile(r"seed_(\d+)|^(\d+)$")
_MAX_DEPTH = 4


def _summaries(output: Path) -> list[Path]:
    """Return the summary files up to a few levels below `output`."""
    found: list[Path] = []
    for depth in range(_MAX_DEPTH + 1):
        found += sorted(output.glob("/".join(["*"] * depth + ["*_summary_confidence_sample_*.json"])))
    return found


def read_outputs(output: Path, names: dict[str, str] | None = None) -> EngineOutputs:
    """Return the samples of a Protenix run under `output`, best ranking score first."""
    output = Path(output)
    found = _summaries(output) if output.is_dir() else []
    samples = [_sample(p, m, names or {}) for p in found if (m := _SUMMARY.match(p.name))]
    if not samples:
        return EngineOutputs("protenix", output, [], notes=["Protenix wrote no *_summary_confidence_sample_N.json."])
    return EngineOutputs("protenix", output, best_first(samples))


def _seed(path: Path) -> int | None:
    for part in reversed(path.parts[:-1]):
        if m := _SEED.search(part):
            return int(m[1] or m[2])
    return None


def _sample(path: Path, m: re.Match, names: dict[str, str]) -> EngineSample:
    doc, n, seed = read_json(path), int(m["n"]), _seed(path)
    model = path.with_name(f"{m['stem']}_sample_{n}.cif")
    model = model if model.is_file() else None
    chains = renamed(model_chains(model), names)
    chain_ptm = {c: float(v) for c, v in zip(chains, doc.get("chain_ptm") or [], strict=False)
                 if as_number(v) is not None}
    plddt = as_number(doc.get("plddt"))
    key = f"seed-{seed}_sample-{n}" if seed is not None else f"sample-{n}"
    label = f"seed {seed} · sample {n}" if seed is not None else f"sample {n}"
    clash = as_number(doc.get("has_clash"))
    return EngineSample(score(key, label, n, doc.get("ranking_score"), doc.get("ptm"), doc.get("iptm"),
                              square(doc.get("chain_pair_iptm"), len(chains)) if chains else [],
                              None if clash is None else clash > 0, seed),
                        model, chains, chain_ptm, plddt if plddt is not None else mean_plddt(model))
