"""Boltz's stand-in: read the YAML FoldDeck wrote, write `boltz_results_<stem>/predictions/<stem>/`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from services.engines.sims.structure import layout_of, make_model, write_cif

_KINDS = {"protein": "protein", "rna": "rna", "dna": "dna"}


def af3_of(doc: dict, name: str) -> dict:
    """Return the AF3-dialect job a Boltz YAML describes (for laying out the synthetic model)."""
    sequences = []
    for entry in doc["sequences"]:
        (kind, body), = entry.items()
        ids = body["id"] if isinstance(body["id"], list) else [body["id"]]
        if kind == "ligand":
            sequences.append({"ligand": {"id": ids, **({"smiles": body["smiles"]} if "smiles" in body
                                                        else {"ccdCodes": [body["ccd"]]})}})
            continue
        keys = ("ptmType", "ptmPosition") if kind == "protein" else ("modificationType", "basePosition")
        mods = [{keys[0]: m["ccd"], keys[1]: m["position"]} for m in body.get("modifications", [])]
        sequences.append({_KINDS[kind]: {"id": ids, "sequence": body["sequence"], "modifications": mods}})
    bonds = [[c["bond"]["atom1"], c["bond"]["atom2"]] for c in doc.get("constraints", []) if "bond" in c]
    return {"dialect": "alphafold3", "version": 1, "name": name, "sequences": sequences, "modelSeeds": [1],
            **({"bondedAtomPairs": bonds} if bonds else {})}


def run(input_path: Path, out_dir: Path, samples: int, seed: int) -> Path:
    """Write Boltz's predictions for the YAML at `input_path`; return the prediction folder."""
    stem = input_path.stem
    doc = yaml.safe_load(input_path.read_text())
    print("Checking input data.", flush=True)
    for entry in doc["sequences"]:  # Boltz reads each MSA file it is given, relative to where it runs
        msa = next(iter(entry.values())).get("msa")
        if msa and msa != "empty" and not Path(msa).is_file():
            raise ValueError(f"MSA file {msa} not found.")
    layout = layout_of(af3_of(doc, stem))
    print("Processing input data.", flush=True)
    folder = out_dir / f"boltz_results_{stem}" / "predictions" / stem
    folder.mkdir(parents=True, exist_ok=True)
    print("Running structure prediction for 1 input.", flush=True)
    models = [make_model(layout, seed, n) for n in range(samples)]
    scored = sorted(((_confidence(m), m) for m in models), key=lambda cm: -cm[0]["confidence_score"])
    for n, (confidence, model) in enumerate(scored):  # Boltz numbers its models best first
        write_cif(model, folder / f"{stem}_model_{n}.cif", f"{stem}_model_{n}")
        np.savez_compressed(folder / f"pae_{stem}_model_{n}.npz", pae=model.pae)
        plddt = (model.token_plddt() / 100).astype(np.float32)  # Boltz writes 0-1 per token
        np.savez_compressed(folder / f"plddt_{stem}_model_{n}.npz", plddt=plddt)
        np.savez_compressed(folder / f"pde_{stem}_model_{n}.npz", pde=(model.pae / 2).astype(np.float32))
        (folder / f"confidence_{stem}_model_{n}.json").write_text(json.dumps(confidence, indent=4))
    print("Number of failed examples: 0", flush=True)
    binder = next((p["affinity"]["binder"] for p in doc.get("properties", []) if "affinity" in p), None)
    if binder:
        print("Running affinity prediction for 1 input.", flush=True)
        rng = np.random.default_rng(seed)
        values = {"affinity_pred_value": float(rng.normal(-1.5, 0.8)),
                  "affinity_probability_binary": float(rng.uniform(0.3, 0.9))}
        for k in (1, 2):
            values |= {f"affinity_pred_value{k}": values["affinity_pred_value"] + float(rng.normal(0, 0.2)),
                       f"affinity_probability_binary{k}": float(rng.uniform(0.3, 0.9))}
        (folder / f"affinity_{stem}.json").write_text(json.dumps(values, indent=4))
    return folder


def _confidence(model) -> dict:
    """Return Boltz's confidence_*.json for one model: ptm/iptm from the PAE, chains keyed by index."""
    layout = model.layout
    chain_of = np.array([layout.chain_ids.index(layout.residues[t.residue].chain_id) for t in layout.tokens])
    tm = 1 / (1 + (model.pae / 8.0) ** 2)
    n = len(layout.chain_ids)
    pair = {str(i): {str(j): round(float(tm[np.ix_(chain_of == i, chain_of == j)].mean()), 4) for j in range(n)}
            for i in range(n)}
    inter = tm[chain_of[:, None] != chain_of[None, :]]
    iptm = float(inter.mean()) if inter.size else 0.0
    ptm = float(tm.mean())
    plddt = float(np.mean(model.token_plddt()) / 100)
    return {"confidence_score": round(0.8 * plddt + 0.2 * iptm, 6), "ptm": round(ptm, 6), "iptm": round(iptm, 6),
            "ligand_iptm": round(iptm, 6), "protein_iptm": round(iptm, 6), "complex_plddt": round(plddt, 6),
            "complex_iplddt": round(plddt, 6), "complex_pde": round(float(model.pae.mean() / 2), 6),
            "complex_ipde": round(float(model.pae.mean() / 2), 6),
            "chains_ptm": {str(i): pair[str(i)][str(i)] for i in range(n)}, "pair_chains_iptm": pair}
