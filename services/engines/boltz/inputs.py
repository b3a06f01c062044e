"""FoldDeck's AF3 job -> Boltz's YAML input (https://github.com/jwohlwend/boltz, docs/prediction.md).

Boltz keeps the chain ids it is given. An MSA FoldDeck holds goes beside the YAML as `<chain>.a3m`;
an empty one (AF3's single-sequence mode) is Boltz's `msa: empty`; none at all leaves `msa` out so
the command's MSA source (`--use_msa_server`, or the lab's own) decides.
"""
from __future__ import annotations

import re

import yaml

from services.af3.model import Dna, FoldJob, Ligand, Protein, Rna
from services.engines.base import EngineInput, common_refusals, is_ion

LABEL = "Boltz-2"


def refusals(job: FoldJob) -> list[str]:
    """Return what of `job` Boltz-2 cannot run, one sentence each."""
    out = common_refusals(job, LABEL, bonds=True)
    smiles_chains = {cid for e in job.entities if isinstance(e, Ligand) and e.smiles for cid in e.ids}
    for bond in job.bonds:
        for chain, _res, _atom in (bond.a, bond.b):
            if chain in smiles_chains:
                out.append(f"{LABEL} bonds only atoms of CCD components and residues; chain {chain} is a SMILES "
                           "ligand, whose atoms have no names it can bond.")
    return out


def _msa_name(chain: str) -> str:
    return f"msa_{re.sub(r'[^A-Za-z0-9]', '_', chain)}.a3m"


def _polymer(kind: str, entity: Protein | Rna | Dna, files: dict[str, bytes]) -> dict:
    body: dict = {"id": list(entity.ids), "sequence": entity.sequence}
    msa = getattr(entity, "unpaired_msa", None)
    if kind != "dna" and msa is not None:
        if msa.strip():
            name = _msa_name(entity.ids[0])
            files[name] = msa.encode()
            body["msa"] = f"./{name}"
        else:
            body["msa"] = "empty"
    if entity.modifications:
        body["modifications"] = [{"position": m.position, "ccd": m.code} for m in entity.modifications]
    return {kind: body}


def _ligand(entity: Ligand) -> dict:
    body: dict = {"id": list(entity.ids)}
    if entity.smiles:
        body["smiles"] = entity.smiles
    else:
        body["ccd"] = entity.ccd_codes[0]
    return {"ligand": body}


def affinity_binder(job: FoldJob) -> str | None:
    """Return the chain Boltz-2 predicts binding affinity for: the first small-molecule ligand (not an ion)."""
    return next((e.ids[0] for e in job.entities if isinstance(e, Ligand) and not is_ion(e)), None)


def write_input(job: FoldJob) -> EngineInput:
    """Return the YAML (and MSA files) Boltz reads for `job`; call `refusals` first."""
    files: dict[str, bytes] = {}
    kinds = {Protein: "protein", Rna: "rna", Dna: "dna"}
    sequences = [_ligand(e) if isinstance(e, Ligand) else _polymer(kinds[type(e)], e, files) for e in job.entities]
    doc: dict = {"version": 1, "sequences": sequences}
    if job.bonds:
        doc["constraints"] = [{"bond": {"atom1": list(b.a), "atom2": list(b.b)}} for b in job.bonds]
    binder = affinity_binder(job)
    if binder:
        doc["properties"] = [{"affinity": {"binder": binder}}]
    main = f"{safe_stem(job.name)}.yaml"
    files[main] = yaml.safe_dump(doc, sort_keys=False).encode()
    return EngineInput(main, files)


def safe_stem(name: str) -> str:
    """Return a file stem for the job name: Boltz names its output folders after the input file's stem."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "job"
