"""The builder form's state <-> AlphaFold 3 JSON (and FASTA records -> cards).

Pure functions only: `to_af3` writes the job the form describes (possibly invalid: the validator says
how); `from_af3` / `from_af3_as_written` load a job into the form, keeping what the form cannot show.
"""
from __future__ import annotations

from typing import Any

from dash_app.builder.state import (
    add_entity,
    chain_ids,
    clean_sequence,
    is_blank,
    split_codes,
)
from services.af3 import FoldJob, parse_fasta
from services.af3 import rules as R
from services.af3.chem.ccd import is_ion

# Fields the form edits; everything else an entity had when loaded is kept in "extra".
_EDITED = {"id", "sequence", "modifications", "unpairedMsa", "pairedMsa", "templates", "ccdCodes", "smiles"}


# -- state -> AF3 -------------------------------------------------------------------------------------


def to_af3(state: dict) -> dict[str, Any]:
    """Return the AF3-dialect job the form describes (possibly invalid: `validate` says how)."""
    ids = chain_ids(state)
    doc: dict[str, Any] = {"dialect": R.AF3_DIALECT, "version": 1, "name": state.get("name") or "",
                           "sequences": [_entity_to_af3(e, ids[e["uid"]]) for e in state["entities"]],
                           "modelSeeds": list(state.get("seeds") or [])}
    bonds = [_bond_to_af3(b) for b in state.get("bonds") or []]
    if bonds:
        doc["bondedAtomPairs"] = bonds
    doc.update(state.get("extra") or {})
    doc["version"] = _required_version(doc)
    return doc


def _required_version(doc: dict) -> int:
    """Return the lowest AF3 input version that has every field the job uses (kept fields may need more)."""
    used = set(k for k in doc if doc[k] not in (None, ""))
    for item in doc["sequences"]:
        for body in item.values():
            used |= {k for k, v in body.items() if v not in (None, "")}
            used |= {"mmcifPath" for t in body.get("templates") or [] if isinstance(t, dict) and t.get("mmcifPath")}
    return max([1] + [v for k, v in R.FIELD_VERSION.items() if k in used])


def _entity_to_af3(e: dict, ids: list[str]) -> dict[str, Any]:
    """Return one `sequences[]` item for a card."""
    body: dict[str, Any] = {"id": ids[0] if len(ids) == 1 else ids}
    if e["kind"] in ("ligand", "ion"):
        if e["ligand_mode"] == "smiles":
            body["smiles"] = (e.get("smiles") or "").strip()
        else:
            body["ccdCodes"] = split_codes(e.get("ccd"))
        body.update(e.get("extra") or {})
        return {"ligand": body}
    kind = e["kind"]
    body["sequence"] = clean_sequence(e.get("sequence"))
    if e.get("mods"):
        code_key, pos_key = R.MOD_KEYS[kind]
        body["modifications"] = [{code_key: (m.get("code") or "").strip().upper(), pos_key: m.get("position")}
                                 for m in e["mods"]]
    if kind in ("protein", "rna"):
        _msa_to_af3(e, body)
    body.update(e.get("extra") or {})
    return {kind: body}


def _msa_to_af3(e: dict, body: dict) -> None:
    """Write the MSA/template fields for the card's modes (auto = leave them out so AF3 searches)."""
    protein = e["kind"] == "protein"
    if e["msa_mode"] == "none":
        body["unpairedMsa"] = ""
        if protein:
            body["pairedMsa"] = ""
    elif e["msa_mode"] == "custom":
        body["unpairedMsa"] = e.get("msa_text") or ""
        if protein:
            body["pairedMsa"] = e.get("extra", {}).get("pairedMsa", "")
    if protein and e.get("template_mode") == "none":
        body["templates"] = []


def _bond_to_af3(b: dict) -> list[list]:
    """Return one bonded atom pair from an editor row."""
    return [[b.get("a_chain") or "", b.get("a_res"), (b.get("a_atom") or "").strip()],
            [b.get("b_chain") or "", b.get("b_res"), (b.get("b_atom") or "").strip()]]


# -- AF3 -> state -------------------------------------------------------------------------------------


def from_af3(doc: dict[str, Any]) -> tuple[dict, list[str]]:
    """Return the form state for a valid AF3-dialect job, and notes on what changed (renamed chains)."""
    job = FoldJob.from_af3(doc)
    state: dict[str, Any] = {"name": job.name, "seeds": list(job.seeds), "entities": [], "bonds": [],
                             "next_uid": 0, "extra": {k: doc[k] for k in ("userCCD", "userCCDPath") if k in doc}}
    for item in doc["sequences"]:
        (kind, body), = item.items()
        card_kind, fields = _entity_fields(kind, body)
        state = add_entity(state, card_kind, **fields)
    renamed = _chain_renames(doc["sequences"], state)
    state["bonds"] = [_bond_from_af3(pair, renamed) for pair in doc.get("bondedAtomPairs") or []]
    notes = []
    changed = {a: b for a, b in renamed.items() if a != b}
    if changed:
        notes.append("Chains were renumbered in order: " + ", ".join(f"{a} -> {b}" for a, b in changed.items()) + ".")
    return state, notes


def from_af3_as_written(doc: dict[str, Any]) -> tuple[dict, list[str]]:
    """Return the form state for an AF3-dialect job that may be invalid, and notes on what could not be shown.

    Every field the form has is loaded as written, so the validator marks each problem at its field
    instead of the whole file being refused; entities or bonds the form cannot hold are named in the notes.
    """
    name, seeds = doc.get("name"), doc.get("modelSeeds")
    state: dict[str, Any] = {"name": name if isinstance(name, str) else "",
                             "seeds": list(seeds) if isinstance(seeds, list) else [], "entities": [], "bonds": [],
                             "next_uid": 0, "extra": {k: doc[k] for k in ("userCCD", "userCCDPath") if k in doc}}
    notes, kept = [], []
    items = doc.get("sequences")
    for i, item in enumerate(items if isinstance(items, list) else []):
        (kind, body), = item.items() if isinstance(item, dict) and len(item) == 1 else ((None, None),)
        if kind not in ("protein", "rna", "dna", "ligand") or not isinstance(body, dict):
            notes.append(f"Entity {i + 1} is not a protein, RNA, DNA or ligand entry; it was left out.")
            continue
        card_kind, fields = _entity_fields(kind, body)
        state = add_entity(state, card_kind, **fields)
        kept.append(item)
    renamed = _chain_renames(kept, state)
    pairs = doc.get("bondedAtomPairs")
    for k, pair in enumerate(pairs if isinstance(pairs, list) else []):
        try:
            state["bonds"].append(_bond_from_af3(pair, renamed))
        except (TypeError, ValueError):
            notes.append(f"Bond {k + 1} is not two [chain, residue, atom] triples; it was left out.")
    return state, notes


def _entity_fields(kind: str, body: dict) -> tuple[str, dict]:
    """Return (card kind, card fields) for one AF3 entity body (as written: wrong types become blanks)."""
    ids = body.get("id")
    fields: dict[str, Any] = {"copies": len(ids) if isinstance(ids, list) and ids else 1,
                              "extra": {k: v for k, v in body.items() if k not in _EDITED}}
    if kind == "ligand":
        codes = body.get("ccdCodes")
        codes = [str(c) for c in codes] if isinstance(codes, list) else []
        card = "ion" if len(codes) == 1 and is_ion(codes[0]) else "ligand"
        smiles = body.get("smiles")
        fields.update(ligand_mode="smiles" if "smiles" in body else "ccd",
                      smiles=smiles if isinstance(smiles, str) else "", ccd=", ".join(codes))
        return card, fields
    code_key, pos_key = R.MOD_KEYS[kind]
    mods = body.get("modifications")
    sequence = body.get("sequence")
    fields.update(sequence=sequence if isinstance(sequence, str) else "",
                  mods=[{"code": str(m.get(code_key) or ""), "position": m.get(pos_key)}
                        for m in (mods if isinstance(mods, list) else []) if isinstance(m, dict)])
    if kind in ("protein", "rna"):
        fields.update(_msa_fields(kind, body, fields["extra"]))
    return kind, fields


def _msa_fields(kind: str, body: dict, extra: dict) -> dict:
    """Return the MSA/template modes for a loaded entity, keeping what the form cannot show in `extra`."""
    unpaired = body.get("unpairedMsa")
    paired = body.get("pairedMsa")
    if unpaired is None and paired is None:
        mode, text = "auto", ""
    elif not unpaired and not paired:
        mode, text = "none", ""
    else:
        mode, text = "custom", unpaired or ""
        if kind == "protein":
            extra["pairedMsa"] = paired or ""
    fields = {"msa_mode": mode, "msa_text": text, "template_mode": "auto"}
    templates = body.get("templates")
    if templates == []:
        fields["template_mode"] = "none"
    elif templates:
        extra["templates"] = templates  # custom templates are kept as loaded
    return fields


def _chain_renames(items: list, state: dict) -> dict[str, str]:
    """Map the loaded chain ids to the ones the form gives the same chains (one card per item)."""
    new_ids = chain_ids(state)
    out = {}
    for item, e in zip(items, state["entities"], strict=True):  # one card per sequence
        (_, body), = item.items()
        ids = body.get("id")
        old = [ids] if isinstance(ids, str) else [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
        out.update(zip(old, new_ids[e["uid"]], strict=False))  # copies_of clamps the count to 1..MAX_COPIES
    return out


def _bond_from_af3(pair: list, renamed: dict[str, str]) -> dict:
    """Return an editor row for one bonded atom pair."""
    (ac, ar, aa), (bc, br, ba) = pair
    return {"a_chain": renamed.get(ac, ac) if isinstance(ac, str) else "", "a_res": ar, "a_atom": aa,
            "b_chain": renamed.get(bc, bc) if isinstance(bc, str) else "", "b_res": br, "b_atom": ba}


def entities_from_fasta(state: dict, text: str, force_type: str | None = None) -> dict:
    """Return `state` with one card per distinct FASTA record (replacing a blank form).

    Raises:
        InvalidInput: the FASTA has no records or bad characters (see services.af3.parse_fasta).
    """
    items = parse_fasta(text, force_type)
    if is_blank(state):
        state = {**state, "entities": []}
    for item in items:
        (kind, body), = item.items()
        copies = 1 if isinstance(body["id"], str) else len(body["id"])
        state = add_entity(state, kind, sequence=body["sequence"], copies=copies)
    return state
