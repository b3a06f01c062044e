"""Protenix's stand-in: read the JSON FoldDeck wrote, write `<name>/seed_<S>/predictions/` as Protenix does.

Protenix names chains A, B, C... by entity and copy and numbers its samples by rank (0 is the best);
each sample is `<name>_sample_N.cif` with `<name>_summary_confidence_sample_N.json` (plddt 0-100,
ptm, iptm, chain_ptm, chain_pair_iptm, has_clash, ranking_score).
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np

from services.engines.sims.structure import chain_scores, layout_of, make_model, write_cif

_POLYMERS = {"proteinChain": ("protein", "ptmType", "ptmPosition"), "dnaSequence": ("dna", "modificationType",
                                                                                   "basePosition"),
             "rnaSequence": ("rna", "modificationType", "basePosition")}


def af3_of(job: dict) -> dict:
    """Return the AF3-dialect job a Protenix input entry describes; chains are A, B, C... by entity and copy."""
    letters = iter(string.ascii_uppercase)
    sequences = []
    for entity in job["sequences"]:
        (kind, body), = entity.items()
        ids = [next(letters) for _ in range(body.get("count", 1))]
        if kind == "ion":
            sequences.append({"ligand": {"id": ids, "ccdCodes": [body["ion"]]}})
        elif kind == "ligand":
            ligand = body["ligand"]
            sequences.append({"ligand": {"id": ids, **({"ccdCodes": ligand[4:].split("_")} if ligand.startswith("CCD_")
                                                     else {"smiles": ligand})}})
        else:
            name, code, pos = _POLYMERS[kind]
            mods = [{code: m[code].removeprefix("CCD_"), pos: m[pos]} for m in body.get("modifications", [])]
            sequences.append({name: {"id": ids, "sequence": body["sequence"], "modifications": mods}})
    return {"dialect": "alphafold3", "version": 1, "name": job["name"], "sequences": sequences, "modelSeeds": [1]}


def run(input_path: Path, out_dir: Path, samples: int, seed: int) -> None:
    """Write Protenix's predictions for every job of the JSON list at `input_path`."""
    for job in json.loads(input_path.read_text()):
        layout = layout_of(af3_of(job))
        folder = out_dir / job["name"] / f"seed_{seed}" / "predictions"
        folder.mkdir(parents=True, exist_ok=True)
        print(f"Running inference for {job['name']} with seed {seed}", flush=True)
        scored = [(chain_scores(m), m) for m in (make_model(layout, seed, n) for n in range(samples))]
        scored.sort(key=lambda sm: -(0.8 * sm[0]["iptm"] + 0.2 * sm[0]["ptm"]))
        for n, (scores, model) in enumerate(scored):  # Protenix's sample number is its rank
            write_cif(model, folder / f"{job['name']}_sample_{n}.cif", f"{job['name']}_sample_{n}")
            summary = {"plddt": round(float(np.mean(model.plddt)), 4), "gpde": round(float(model.pae.mean() / 2), 4),
                       "ptm": scores["ptm"], "iptm": scores["iptm"], "chain_ptm": scores["chain_ptm"],
                       "chain_pair_iptm": scores["pairs"], "has_clash": 0.0, "disorder": 0.0,
                       "ranking_score": round(0.8 * scores["iptm"] + 0.2 * scores["ptm"], 4), "num_recycles": 10}
            (folder / f"{job['name']}_summary_confidence_sample_{n}.json").write_text(json.dumps(summary, indent=2))
    print("Dumping predictions done.", flush=True)
