"""A screen's definition and its expansion into one AF3-dialect input per member.

The shared part is an ordinary AF3-dialect input (protein chains, cofactors, seeds); each member adds
its ligand as one more chain, or applies its point mutations to one protein chain. Every member's
input then passes the same validation as any job (services.af3.load_jobs), so a screen refuses what a
single job would, naming the member.
"""
from __future__ import annotations

import copy
import string
from dataclasses import dataclass, field
from typing import Any

from services.af3 import load_jobs
from services.platform.errors import InvalidInput
from services.screens.members import (
    Member,
    ccd_members,
    mutate,
    mutation_members,
    name_part,
    sdf_members,
    smiles_members,
)

KINDS = ("ligands", "mutations")


@dataclass(frozen=True)
class ScreenSpec:
    """What a user asks for: a shared input and the variable parts, as text from the builder, upload or API.

    `smiles`: one `SMILES [name]` per line; `ccd`: CCD codes by line or comma; `sdf`: an SDF file's text;
    `mutations`: one variant per line (`A123G,K45R`) applied to chain `mutate_chain`.
    """

    name: str
    shared: dict[str, Any]
    smiles: str = ""
    ccd: str = ""
    sdf: bytes | str = b""
    mutations: str = ""
    mutate_chain: str = ""
    ligand_chain: str = ""  # the members' ligand chain id; '' picks the first id the shared part leaves free

    @property
    def kind(self) -> str:
        return "mutations" if self.mutations.strip() else "ligands"


@dataclass(frozen=True)
class Expanded:
    """A screen ready to submit: each member with its validated AF3-dialect input."""

    name: str
    kind: str
    shared: dict[str, Any]
    chain_id: str  # the ligand's chain, or the mutated chain
    members: list[Member] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)


def chain_ids(af3: dict[str, Any]) -> list[tuple[str, str, dict]]:
    """Return (chain id, entity type, entity body) for every chain of an AF3-dialect input."""
    out = []
    for entity in af3.get("sequences") or []:
        for kind, body in (entity.items() if isinstance(entity, dict) else []):
            ids = body.get("id") if isinstance(body, dict) else None
            for chain in ids if isinstance(ids, list) else [ids]:
                if isinstance(chain, str):
                    out.append((chain, kind, body))
    return out


def free_chain_id(af3: dict[str, Any]) -> str:
    """Return the first single-letter chain id the input does not use (AF3 ids are upper-case letters)."""
    used = {c for c, _, _ in chain_ids(af3)}
    return next((c for c in string.ascii_uppercase if c not in used), "LIG")


def _shared(spec: ScreenSpec) -> dict[str, Any]:
    """Return the shared part checked as a job input of its own (it must fold alone).

    Raises:
        InvalidInput: it is not a valid single AF3 input.
    """
    if not isinstance(spec.shared, dict) or not spec.shared.get("sequences"):
        raise InvalidInput("The screen's shared part must be one AF3 input with at least one chain; nothing was "
                           "submitted.", ["shared: no sequences"])
    docs = load_jobs({"name": spec.name or "screen", **{k: v for k, v in spec.shared.items() if k != "name"}})
    problems = [f"shared part: {p.message}" for d in docs for p in d.problems if p.is_error]
    if problems or docs[0].af3 is None:
        raise InvalidInput("The screen's shared part has problems; nothing was submitted.", problems)
    return docs[0].af3


def _members(spec: ScreenSpec, shared: dict[str, Any]) -> tuple[list[Member], str]:
    """Return the members and the varied chain id.

    Raises:
        InvalidInput: a line or record cannot be read, or there is no member at all.
    """
    if spec.mutations.strip():
        chains = {c: (k, b) for c, k, b in chain_ids(shared)}
        kind, body = chains.get(spec.mutate_chain, ("", {}))
        if kind != "protein":
            raise InvalidInput("Point mutations need the id of a protein chain of the shared part; nothing was "
                               "submitted.", [f"mutate_chain: {spec.mutate_chain!r} is not a protein chain"])
        members, problems = mutation_members(spec.mutations, body["sequence"])
        chain = spec.mutate_chain
    else:
        members, problems = [], []
        for found, refused in (smiles_members(spec.smiles), ccd_members(spec.ccd),
                               sdf_members(spec.sdf) if spec.sdf else ([], [])):
            members += found
            problems += refused
        chain = spec.ligand_chain or free_chain_id(shared)
    if problems:
        raise InvalidInput("Some of the screen's members cannot be read; nothing was submitted.", problems)
    if not members:
        raise InvalidInput("The screen has no members: give SMILES, CCD codes, an SDF file or mutations.",
                           ["members: none given"])
    return members, chain


def member_input(shared: dict[str, Any], member: Member, chain: str, screen_name: str) -> dict[str, Any]:
    """Return the AF3-dialect input of one member: the shared part plus its ligand, or with its mutations."""
    af3 = copy.deepcopy(shared)
    af3["name"] = f"{screen_name}_{name_part(member.label)}"
    if member.mutations:
        for entity in af3["sequences"]:
            body = entity.get("protein")
            ids = body.get("id") if body else None
            if body and chain in (ids if isinstance(ids, list) else [ids]):
                body["sequence"] = mutate(body["sequence"], member.mutations)
                for key in ("unpairedMsa", "pairedMsa", "templates", "unpairedMsaPath", "pairedMsaPath"):
                    body.pop(key, None)  # the wild type's MSA does not start with the variant's sequence
        return af3
    ligand = {"id": chain, "smiles": member.smiles} if member.smiles else {"id": chain,
                                                                          "ccdCodes": list(member.ccd_codes)}
    af3["sequences"].append({"ligand": ligand})
    return af3


def expand(spec: ScreenSpec) -> Expanded:
    """Check a screen and build every member's input.

    Raises:
        InvalidInput: the shared part, a member, or a member's full input has problems (all listed,
            each naming the member); nothing is built.
    """
    name = (spec.name or "").strip() or "screen"
    shared = _shared(spec)
    members, chain = _members(spec, shared)
    inputs, problems = [], []
    for member in members:
        docs = load_jobs(member_input(shared, member, chain, name))
        refused = [p.message for d in docs for p in d.problems if p.is_error]
        problems += [f"{member.label}: {m}" for m in refused]
        inputs.append(docs[0].af3 if not refused else {})
    if problems:
        raise InvalidInput("Some of the screen's members have problems; nothing was submitted.", problems)
    return Expanded(name, spec.kind, shared, chain, members, inputs)
