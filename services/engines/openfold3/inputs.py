"""FoldDeck's AF3 job -> an OpenFold3 query JSON (https://github.com/aqlaboratory/openfold-3).

OpenFold3 keeps FoldDeck's chain ids (`chain_ids`); modified residues are `non_canonical_residues`
(position -> CCD code); an MSA FoldDeck holds is written beside the query and named in
`main_msa_file_paths`.
"""
from __future__ import annotations

import json

from services.af3.model import Dna, FoldJob, Ligand, Protein, Rna
from services.engines.base import EngineInput, common_refusals

LABEL = "OpenFold3"


def refusals(job: FoldJob) -> list[str]:
    """Return what of `job` OpenFold3 cannot run, one sentence each."""
    return common_refusals(job, LABEL)


def _chain(entity, n: int, files: dict[str, bytes]) -> dict:
    if isinstance(entity, Ligand):
        body: dict = {"molecule_type": "ligand", "chain_ids": list(entity.ids)}
        if entity.smiles:
            body["smiles"] = entity.smiles
        else:
            body["ccd_codes"] = list(entity.ccd_codes)
        return body
    kind = {Protein: "protein", Rna: "rna", Dna: "dna"}[type(entity)]
    body = {"molecule_type": kind, "chain_ids": list(entity.ids), "sequence": entity.sequence}
    if entity.modifications:
        body["non_canonical_residues"] = {str(m.position): m.code for m in entity.modifications}
    msa = getattr(entity, "unpaired_msa", None)
    if msa and msa.strip():
        name = f"msa_{n}/colabfold_main.a3m"
        files[name] = msa.encode()
        body["main_msa_file_paths"] = [f"./msa_{n}"]
    return body


def write_input(job: FoldJob) -> EngineInput:
    """Return the query JSON (and MSA files) OpenFold3 reads for `job`; call `refusals` first."""
    files: dict[str, bytes] = {}
    chains = [_chain(e, n, files) for n, e in enumerate(job.entities, start=1)]
    files["query.json"] = json.dumps({"queries": {job.name: {"chains": chains}}}, indent=1).encode()
    return EngineInput("query.json", files)
