"""Read a Boltz-1/Boltz-2 run: predictions/<name>/<name>_model_N.cif, confidence_*.json, pae_*.npz, affinity.

Layout (Boltz's own writer): `<out>/boltz_results_<input stem>/predictions/<name>/`, holding per
model N (0 is Boltz's best) `<name>_model_N.cif` (pLDDT 0-100 in B-factors), `confidence_<name>_model_N.json`
(confidence_score, ptm, iptm, complex_plddt 0-1, chains_ptm and pair_chains_iptm keyed by chain index),
`pae_<name>_model_N.npz` (key `pae`), `plddt_<name>_model_N.npz`, and with Boltz-2's affinity
`affinity_<name>.json`. Tested on real Boltz output (../shared/engine_outputs/boltz1_6BJ9).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from services.engines.base import EngineOutputs, EngineSample
from services.engines.outputs import best_first, from_index_dict, model_chains, read_json, renamed, score
from services.results import Confidences, as_number
from services.results.engine_arrays import confidences_from_matrix

_CONFIDENCE = re.compile(r"^confidence_(?P<name>.+)_model_(?P<n>\d+)\.json$")
_MAX_DEPTH = 4  # <out>/boltz_results_x/predictions/<name>/: never walk a whole output tree


def prediction_folder(output: Path) -> Path | None:
    """Return the folder holding Boltz's confidence_*_model_N.json files, searched a few levels down."""
    level = [output]
    for _ in range(_MAX_DEPTH + 1):
        for folder in level:
            if any(_CONFIDENCE.match(p.name) for p in folder.glob("confidence_*_model_*.json")):
                return folder
        level = sorted(d for f in level for d in f.iterdir() if d.is_dir()) if level else []
    return None


def read_outputs(output: Path, names: dict[str, str] | None = None) -> EngineOutputs:
    """Return the samples (best first) and affinity of a Boltz run under `output`."""
    folder = prediction_folder(Path(output)) if Path(output).is_dir() else None
    if folder is None:
        return EngineOutputs("boltz", Path(output), [], notes=["Boltz wrote no confidence_*_model_N.json files."])
    samples, stem = [], ""
    for path in sorted(folder.glob("confidence_*_model_*.json")):
        m = _CONFIDENCE.match(path.name)
        if not m:
            continue
        stem, n = m["name"], int(m["n"])
        samples.append(_sample(folder, stem, n, path, names or {}))
    affinity = {k: v for k, v in read_json(folder / f"affinity_{stem}.json").items() if as_number(v) is not None}
    return EngineOutputs("boltz", folder, best_first(samples), {k: float(v) for k, v in affinity.items()},
                         confidences=_confidences)


def _sample(folder: Path, stem: str, n: int, confidence: Path, names: dict[str, str]) -> EngineSample:
    doc = read_json(confidence)
    model = folder / f"{stem}_model_{n}.cif"
    model = model if model.is_file() else None
    chains = renamed(model_chains(model), names)
    count = len(chains) or len(doc.get("chains_ptm") or {})
    chain_ptm = {chains[int(i)]: float(v) for i, v in (doc.get("chains_ptm") or {}).items()
                 if str(i).isdigit() and int(i) < len(chains) and as_number(v) is not None}
    plddt = as_number(doc.get("complex_plddt"))
    pae = folder / f"pae_{stem}_model_{n}.npz"
    return EngineSample(score(f"model-{n}", f"model {n}", n, doc.get("confidence_score"), doc.get("ptm"),
                              doc.get("iptm"), from_index_dict(doc.get("pair_chains_iptm"), count)),
                        model, chains, chain_ptm, None if plddt is None else round(plddt * 100, 2),
                        pae if pae.is_file() else None)


def _confidences(sample: EngineSample) -> Confidences | None:
    """Return the sample's PAE (reduced) and pLDDT for plotting, or None without a PAE file."""
    if sample.pae is None:
        return None
    with np.load(sample.pae) as data:
        pae = data["pae"]
    return confidences_from_matrix(pae, sample.model)
