"""OpenFold3's stand-in: read the query JSON FoldDeck wrote, write `<query>/seed_<S>/` as OpenFold3 does.

Per sample (numbered from 1) `<query>_seed_<S>_sample_<N>_model.cif` and
`<query>_seed_<S>_sample_<N>_confidences_aggregated.json` with OpenFold3's keys (avg_plddt, ptm, iptm,
chain_ptm by chain id, chain_pair_iptm keyed "(A, B)", has_clash, sample_ranking_score); see
tests/fixtures/engine_outputs/openfold3_6BJ9 for the real thing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from services.engines.sims.structure import chain_scores, layout_of, make_model, write_cif


def af3_of(name: str, query: dict) -> dict:
    """Return the AF3-dialect job an OpenFold3 query describes (it keeps the chain ids)."""
    sequences = []
    for chain in query["chains"]:
        kind, ids = chain["molecule_type"].lower(), chain["chain_ids"]
        if kind == "ligand":
            sequences.append({"ligand": {"id": ids, **({"smiles": chain["smiles"]} if chain.get("smiles")
                                                       else {"ccdCodes": chain["ccd_codes"]})}})
            continue
        key = ("ptmType", "ptmPosition") if kind == "protein" else ("modificationType", "basePosition")
        mods = [{key[0]: code, key[1]: int(pos)} for pos, code in (chain.get("non_canonical_residues") or {}).items()]
        sequences.append({kind: {"id": ids, "sequence": chain["sequence"], "modifications": mods}})
    return {"dialect": "alphafold3", "version": 1, "name": name, "sequences": sequences, "modelSeeds": [1]}


def run(input_path: Path, out_dir: Path, samples: int, seed: int) -> None:
    """Write OpenFold3's predictions for every query of the JSON at `input_path`."""
    for name, query in json.loads(input_path.read_text())["queries"].items():
        layout = layout_of(af3_of(name, query))
        folder = out_dir / name / f"seed_{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        print(f"Predicting {name} with seed {seed}", flush=True)
        for n in range(1, samples + 1):
            model = make_model(layout, seed, n)
            scores, ids = chain_scores(model), layout.chain_ids
            stem = f"{name}_seed_{seed}_sample_{n}"
            write_cif(model, folder / f"{stem}_model.cif", stem)
            doc = {"avg_plddt": round(float(np.mean(model.plddt)), 4), "gpde": round(float(model.pae.mean() / 2), 4),
                   "iptm": scores["iptm"], "ptm": scores["ptm"], "disorder": 0.0, "has_clash": 0.0,
                   "sample_ranking_score": round(0.8 * scores["iptm"] + 0.2 * scores["ptm"], 4),
                   "chain_ptm": dict(zip(ids, scores["chain_ptm"], strict=True)),
                   "chain_pair_iptm": {f"({a}, {b})": scores["pairs"][i][j] for i, a in enumerate(ids)
                                       for j, b in enumerate(ids) if i < j}}
            (folder / f"{stem}_confidences_aggregated.json").write_text(json.dumps(doc, indent=4))
    print("Writing outputs done.", flush=True)
