"""FoldDeck's AF3 job -> Protenix's input JSON (https://github.com/bytedance/Protenix, docs/infer_json_format.md).

Protenix takes entities with a `count` and names their chains itself, A, B, C... by entity and copy,
so the writer returns that renaming. Ligands are `CCD_<code>` (several codes joined: one glycan) or
SMILES, ions their own entity; bonds name entity, copy, position and atom.
"""
from __future__ import annotations

import json
import string

from services.af3.model import FoldJob, Ligand, Protein, Rna
from services.engines.base import EngineInput, common_refusals, is_ion

LABEL = "Protenix"

def refusals(job: FoldJob) -> list[str]:
    """Return what of `job` Protenix cannot run, one sentence each."""
    out = common_refusals(job, LABEL, bonds=True, multi_ccd=True, paired_msa=True)
    smiles = {cid for e in job.entities if isinstance(e, Ligand) and e.smiles for cid in e.ids}
    for bond in job.bonds:
        if bond.a[0] in smiles or bond.b[0] in smiles:
            out.append(f"{LABEL} names a SMILES ligand's atoms by index, not by name: the bond to chain "
                       f"{bond.a[0] if bond.a[0] in smiles else bond.b[0]} cannot be passed.")
    return out

def chain_names(job: FoldJob) -> dict[str, str]:
    """Return Protenix's chain id -> FoldDeck's: A, B, C... by entity and copy."""
    letters = list(string.ascii_uppercase) + [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
    return dict(zip(letters, job.chain_ids(), strict=False))

def _msa(entity: Protein | Rna, folder: str, files: dict[str, bytes]) -> dict | None:
    if entity.unpaired_msa is None:  # the command's MSA source searches
        return None
    query = f">query\n{entity.sequence}\n"
    files[f"{folder}/non_pairing.a3m"] = (entity.unpaired_msa.strip() and entity.unpaired_msa or query).encode()
    paired = getattr(entity, "paired_msa", None)
    files[f"{folder}/pairing.a3m"] = (paired.strip() and paired or query).encode()
    return {"precomputed_msa_dir": f"./{folder}", "pairing_db": "uniref100"}

def _entity(entity, n: int, files: dict[str, bytes]) -> dict:
    count = len(entity.ids)
    if isinstance(entity, Ligand):
        if is_ion(entity):
            return {"ion": {"ion": entity.ccd_codes[0], "count": count}}
        ligand = entity.smiles or "CCD_" + "_".join(entity.ccd_codes)
        return {"ligand": {"ligand": ligand, "count": count}}
    if isinstance(entity, Protein):
        body: dict = {"sequence": entity.sequence, "count": count}
        if entity.modifications:
            body["modifications"] = [{"ptmType": f"CCD_{m.code}", "ptmPosition": m.position}
                                     for m in entity.modifications]
        msa = _msa(entity, f"msa_{n}", files)
        if msa:
            body["msa"] = msa
        return {"proteinChain": body}
    body = {"sequence": entity.sequence, "count": count}
    if entity.modifications:
        body["modifications"] = [{"modificationType": f"CCD_{m.code}", "basePosition": m.position}
                                 for m in entity.modifications]
    return {"rnaSequence" if isinstance(entity, Rna) else "dnaSequence": body}

def write_input(job: FoldJob) -> EngineInput:
    """Return the JSON (and precomputed MSA folders) Protenix reads for `job`; call `refusals` first."""
    files: dict[str, bytes] = {}
    where = {cid: (n, copy) for n, e in enumerate(job.entities, start=1) for copy, cid in enumerate(e.ids, start=1)}
    doc: dict = {"name": job.name, "sequences": [_entity(e, n, files) for n, e in enumerate(job.entities, start=1)]}
    if job.bonds:
        doc["covalent_bonds"] = [_bond(b.a, b.b, where) for b in job.bonds]
    files["input.json"] = json.dumps([doc], indent=1).encode()
    return EngineInput("input.json", files, chain_names(job))

def _bond(a: tuple[str, int, str], b: tuple[str, int, str], where: dict[str, tuple[int, int]]) -> dict:
    out = {}
    for side, (chain, res, atom) in (("left", a), ("right", b)):
        entity, copy = where[chain]
        out |= {f"{side}_entity": str(entity), f"{side}_copy": copy, f"{side}_position": str(res), f"{side}_atom": atom}
    return out
