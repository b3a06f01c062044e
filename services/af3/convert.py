"""Convert between the AlphaFold Server dialect and the AlphaFold 3 dialect, as run_alphafold.py does."""
from __future__ import annotations

import random
from typing import Any

from services.af3 import rules as R
from services.af3.names import int_id_to_str_id


def server_to_af3(job: dict[str, Any], seed_rng: random.Random | None = None) -> dict[str, Any]:
    """Convert one valid AlphaFold Server job to an AF3-dialect job (version 1).

    Args:
        job: one element of a server-dialect list, already validated.
        seed_rng: source of the random seed drawn when `modelSeeds` is empty or absent
            (default: the OS's randomness, like AF3's own draw).
    Returns:
        the AF3 job: chains numbered A, B, …, Z, AA, BA, … over all copies in entity order,
        `CCD_` prefixes removed (not from ions), `useStructureTemplate: false` as `templates: []`.
    """
    seeds = [int(s) for s in job.get("modelSeeds") or []]
    if not seeds:
        seeds = [(seed_rng or random.SystemRandom()).randint(0, R.UINT32_MAX)]
    next_chain = 1
    sequences = []
    for entity in job["sequences"]:
        (kind, body), = entity.items()
        count = body.get("count", 1)
        ids = [int_id_to_str_id(k) for k in range(next_chain, next_chain + count)]
        next_chain += count
        sequences.append(_server_entity_to_af3(kind, body, ids[0] if count == 1 else ids))
    return {"dialect": R.AF3_DIALECT, "version": 1, "name": job["name"], "sequences": sequences,
            "modelSeeds": seeds}


def _server_entity_to_af3(kind: str, body: dict[str, Any], ids: str | list[str]) -> dict[str, Any]:
    """Convert one server entity body."""
    if kind == "ligand":
        return {"ligand": {"id": ids, "ccdCodes": [body["ligand"].removeprefix("CCD_")]}}
    if kind == "ion":
        return {"ligand": {"id": ids, "ccdCodes": [body["ion"]]}}
    af3_kind = R.SERVER_TO_AF3_TYPE[kind]
    code_key, pos_key = R.MOD_KEYS[af3_kind]
    out: dict[str, Any] = {"id": ids, "sequence": body["sequence"]}
    mods = body.get("modifications") or []
    if mods:
        out["modifications"] = [{code_key: m[code_key].removeprefix("CCD_"), pos_key: m[pos_key]} for m in mods]
    if af3_kind == "protein" and body.get("useStructureTemplate") is False:
        out["templates"] = []
    return {af3_kind: out}


def af3_to_server(af3: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """Convert a valid AF3-dialect job to one AlphaFold Server job where its features allow.

    Returns:
        (job, []) on success; (None, reasons) naming each feature the server format cannot express.
        Chain ids are not kept (the server numbers chains itself); descriptions are dropped.
    """
    blockers = _server_blockers(af3)
    if blockers:
        return None, blockers
    sequences = [_af3_entity_to_server(item) for item in af3["sequences"]]
    job = {"name": af3["name"], "modelSeeds": [str(s) for s in af3["modelSeeds"]], "sequences": sequences,
           "dialect": R.SERVER_DIALECT, "version": 1}
    return job, []


def _server_blockers(af3: dict[str, Any]) -> list[str]:
    """List the features of an AF3 job that the server dialect cannot express."""
    reasons = []
    if af3.get("bondedAtomPairs"):
        reasons.append("bondedAtomPairs: covalent bonds cannot be written in the AlphaFold Server format")
    if af3.get("userCCD") or af3.get("userCCDPath"):
        reasons.append("userCCD: user-defined components cannot be written in the AlphaFold Server format")
    for i, item in enumerate(af3["sequences"]):
        (kind, body), = item.items()
        where = f"sequences[{i}].{kind}"
        if kind == "ligand" and body.get("smiles"):
            reasons.append(f"{where}.smiles: the AlphaFold Server format has no SMILES ligands")
        elif kind == "ligand" and len(body.get("ccdCodes") or []) != 1:
            reasons.append(f"{where}.ccdCodes: multi-component ligands (e.g. glycans) need bonds, which the "
                           "AlphaFold Server format cannot hold")
        for key in ("unpairedMsa", "unpairedMsaPath", "pairedMsa", "pairedMsaPath"):
            if body.get(key):
                reasons.append(f"{where}.{key}: custom MSAs cannot be converted for a local AlphaFold 3")
        if kind in ("protein", "rna") and (body.get("unpairedMsa") == "" or body.get("pairedMsa") == ""):
            reasons.append(f"{where}: MSA-free mode (empty MSA) cannot be written in the AlphaFold Server format")
        if kind == "protein" and body.get("templates"):
            reasons.append(f"{where}.templates: custom templates cannot be converted for a local AlphaFold 3")
    return list(dict.fromkeys(reasons))


def _af3_entity_to_server(item: dict[str, Any]) -> dict[str, Any]:
    """Convert one AF3 entity to its server form (ids become a count)."""
    (kind, body), = item.items()
    count = 1 if isinstance(body["id"], str) else len(body["id"])
    if kind == "ligand":
        code = body["ccdCodes"][0]
        if code in R.SERVER_IONS:
            return {"ion": {"ion": code, "count": count}}
        return {"ligand": {"ligand": f"CCD_{code}", "count": count}}
    server_kind = R.AF3_TO_SERVER_TYPE[kind]
    code_key, pos_key = R.MOD_KEYS[kind]
    out: dict[str, Any] = {"sequence": body["sequence"], "count": count}
    if body.get("modifications"):
        out["modifications"] = [{code_key: f"CCD_{m[code_key]}", pos_key: m[pos_key]} for m in body["modifications"]]
    if kind == "protein" and body.get("templates") == []:
        out["useStructureTemplate"] = False
    return {server_kind: out}
