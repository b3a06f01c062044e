"""The builder form's state: a plain dict the browser keeps, and the pure edits the page makes to it.

Pure functions only: no dash, no request. The page's callbacks read the form into this dict
(`apply_form`), change its structure (`add_entity`, `add_seed`...) and remember which fields a person
touched, so every rule here is testable without a browser.

Form state::

    {"name": str, "seeds": [int, ...], "next_uid": int,
     "entities": [{"uid": int, "kind": "protein"|"rna"|"dna"|"ligand"|"ion", "sequence": str,
                   "copies": int|None, "mods": [{"code": str, "position": int|None}],
                   "msa_mode": "auto"|"none"|"custom", "msa_text": str, "template_mode": "auto"|"none",
                   "ligand_mode": "ccd"|"smiles", "ccd": str, "smiles": str, "extra": {AF3 fields kept as loaded}}],
     "bonds": [{"a_chain": str, "a_res": int|None, "a_atom": str, "b_chain": ..., "b_res": ..., "b_atom": ...}],
     "extra": {top-level AF3 fields kept as loaded (userCCD...)},
     "touched": [field keys a person changed], "attempted": bool}
"""
from __future__ import annotations

import random
import re
from typing import Any

from services.af3 import int_id_to_str_id
from services.af3 import rules as R
from services.af3.chem.ccd import COMMON_LIGANDS

KINDS = ("protein", "rna", "dna", "ligand", "ion")
POLYMERS = ("protein", "rna", "dna")
KIND_LABEL = {"protein": "Protein", "rna": "RNA", "dna": "DNA", "ligand": "Ligand", "ion": "Ion"}
MSA_MODES = ("auto", "none", "custom")
TEMPLATE_MODES = ("auto", "none")
DIALECTS = (R.AF3_DIALECT, R.SERVER_DIALECT)
MAX_COPIES = 100  # more copies than this is certainly a typo; AF3 would not fit them on a GPU anyway
MAX_SEED = R.UINT32_MAX
LIGAND_CHOICES = [(code, label) for code, label, kind in COMMON_LIGANDS if kind == "ligand"]
ION_CHOICES = [(code, label) for code, label, kind in COMMON_LIGANDS if kind == "ion"]


# -- building state ---------------------------------------------------------------------------------


def empty_state() -> dict[str, Any]:
    """Return the state of a fresh form: one empty protein, seed 1."""
    state = {"name": "", "seeds": [1], "entities": [], "bonds": [], "next_uid": 0, "extra": {}}
    return add_entity(state, "protein")


def new_entity(uid: int, kind: str) -> dict[str, Any]:
    """Return a blank entity card of `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown entity kind {kind!r}")
    return {"uid": uid, "kind": kind, "sequence": "", "copies": 1, "mods": [], "msa_mode": "auto", "msa_text": "",
            "template_mode": "auto", "ligand_mode": "ccd", "ccd": "", "smiles": "", "extra": {}}


def add_entity(state: dict, kind: str, **fields: Any) -> dict:
    """Return `state` with a new card of `kind` appended (fields override the blanks)."""
    uid = state.get("next_uid", 0)
    entity = {**new_entity(uid, kind), **fields, "uid": uid}
    return {**state, "entities": [*state["entities"], entity], "next_uid": uid + 1}


def duplicate_entity(state: dict, uid: int) -> dict:
    """Return `state` with a copy of card `uid` inserted right after it."""
    new_uid = state.get("next_uid", 0)
    out = []
    for e in state["entities"]:
        out.append(e)
        if e["uid"] == uid:
            out.append({**e, "uid": new_uid, "mods": [dict(m) for m in e["mods"]], "extra": dict(e["extra"])})
    return {**state, "entities": out, "next_uid": new_uid + 1}


def remove_entity(state: dict, uid: int) -> dict:
    """Return `state` without card `uid`."""
    return {**state, "entities": [e for e in state["entities"] if e["uid"] != uid]}


def update_entity(state: dict, uid: int, **fields: Any) -> dict:
    """Return `state` with card `uid`'s fields replaced."""
    return {**state, "entities": [{**e, **fields} if e["uid"] == uid else e for e in state["entities"]]}


def add_seed(state: dict, rng: random.Random | None = None) -> dict:
    """Return `state` with one more seed: the next number, or a random one when `rng` is given."""
    seeds = list(state["seeds"])
    if rng is not None:
        seed = rng.randint(0, MAX_SEED)
    else:
        seed = max((s for s in seeds if isinstance(s, int)), default=0) + 1
    return {**state, "seeds": [*seeds, seed]}


def is_blank(state: dict) -> bool:
    """Tell whether the form holds nothing the user typed (so FASTA/JSON may replace it silently)."""
    return not state.get("name") and all(
        not e["sequence"] and not e["ccd"] and not e["smiles"] for e in state["entities"])


# -- chains ------------------------------------------------------------------------------------------


def copies_of(entity: dict) -> int:
    """Return the usable number of copies of a card (1 when the field is empty or out of range)."""
    n = entity.get("copies")
    return n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_COPIES else 1


def chain_ids(state: dict) -> dict[int, list[str]]:
    """Return each card's chain ids (uid -> ids), numbered A, B, …, Z, AA, BA, … over all copies in order."""
    out, k = {}, 1
    for e in state["entities"]:
        n = copies_of(e)
        out[e["uid"]] = [int_id_to_str_id(i) for i in range(k, k + n)]
        k += n
    return out


def chain_lengths(state: dict) -> dict[str, tuple[str, int]]:
    """Return chain id -> (kind, residue count) for the bond editor (ligand residues = CCD codes)."""
    ids = chain_ids(state)
    out = {}
    for e in state["entities"]:
        if e["kind"] in POLYMERS:
            length = len(clean_sequence(e["sequence"]))
        elif e["ligand_mode"] == "ccd":
            length = len(split_codes(e["ccd"]))
        else:
            length = 0  # SMILES ligands cannot be bonded
        for cid in ids[e["uid"]]:
            out[cid] = (e["kind"], length)
    return out


# -- field helpers ------------------------------------------------------------------------------------


def clean_sequence(text: str | None) -> str:
    """Return the sequence as AF3 wants it: upper case, without spaces or line breaks (pasted wraps)."""
    return re.sub(r"\s+", "", text or "").upper()


def sequence_issues(kind: str, text: str | None) -> list[tuple[int, str]]:
    """Return (1-based position, character) of every character outside the polymer's alphabet."""
    if kind not in POLYMERS:
        return []
    allowed = set(R.ALPHABETS[kind] + R.UNKNOWN_LETTER[kind])
    return [(i, c) for i, c in enumerate(clean_sequence(text), 1) if c not in allowed]


def describe_issues(issues: list[tuple[int, str]], limit: int = 5) -> str:
    """Render invalid characters as text for the card ("'1' at 4, 'J' at 9 and 3 more")."""
    shown = ", ".join(f"{c!r} at {p}" for p, c in issues[:limit])
    return shown + (f" and {len(issues) - limit} more" if len(issues) > limit else "")


def split_codes(text: str | None) -> list[str]:
    """Return the CCD codes typed in a ligand field ("NAG, NAG MAN" -> 3 codes), upper-cased."""
    return [c.upper() for c in re.split(r"[\s,;]+", text or "") if c]


# -- reading the form back -------------------------------------------------------------------------------

ENTITY_FIELDS = ("sequence", "copies", "msa_mode", "msa_text", "template_mode", "ligand_mode", "ccd", "smiles")
BOND_FIELDS = ("a_chain", "a_res", "a_atom", "b_chain", "b_res", "b_atom")
_INT_FIELDS = {"copies", "a_res", "b_res"}


def as_int(value: Any) -> int | None:
    """Return a number input's value as an int (None when empty or not whole)."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def apply_form(state: dict, name: str | None, fields: dict[str, dict[int, Any]],
               mods: dict[tuple[int, int], tuple[Any, Any]], bonds: dict[str, dict[int, Any]]) -> dict:
    """Return `state` updated from the values on screen.

    Args:
        fields: entity field name (ENTITY_FIELDS) -> {card uid: value}; cards absent keep their values.
        mods: (card uid, row) -> (code, position) for every modification row on screen.
        bonds: bond field name (BOND_FIELDS) -> {row: value}.
    """
    shown = {uid for values in fields.values() for uid in values}
    entities = []
    for e in state["entities"]:
        uid = e["uid"]
        e = {**e, **{f: (as_int(v[uid]) if f in _INT_FIELDS else v[uid]) for f, v in fields.items() if uid in v}}
        if uid in shown:
            rows = sorted(r for (u, r) in mods if u == uid)
            e["mods"] = [{"code": mods[(uid, r)][0] or "", "position": as_int(mods[(uid, r)][1])} for r in rows]
        entities.append(e)
    rows = sorted({r for values in bonds.values() for r in values})
    new_bonds = [{f: (as_int(bonds.get(f, {}).get(r)) if f in _INT_FIELDS else bonds.get(f, {}).get(r) or "")
                  for f in BOND_FIELDS} for r in rows]
    return {**state, "name": name or "", "entities": entities,
            "bonds": new_bonds if rows or not state.get("bonds") else state["bonds"]}


def residue_options(state: dict, chain: str | None) -> list[dict]:
    """Return the residue numbers a bond may use on `chain` (CCD codes for ligands), as dropdown options."""
    kind_length = chain_lengths(state).get(chain or "")
    if not kind_length:
        return []
    kind, length = kind_length
    seq_by_chain = {cid: e for e in state["entities"] for cid in chain_ids(state)[e["uid"]]}
    e = seq_by_chain[chain]
    if kind in POLYMERS:
        seq = clean_sequence(e["sequence"])
        return [{"label": f"{i} {seq[i - 1]}", "value": i} for i in range(1, length + 1)]
    codes = split_codes(e["ccd"])
    return [{"label": f"{i} {codes[i - 1]}", "value": i} for i in range(1, length + 1)]


def chain_options(state: dict) -> list[dict]:
    """Return the chains a bond may name: every chain except SMILES ligands, with what it is."""
    return [{"label": f"{cid} ({KIND_LABEL[kind] if kind in KIND_LABEL else kind}, {n})", "value": cid}
            for cid, (kind, n) in chain_lengths(state).items() if n > 0]


# -- which fields a person touched ------------------------------------------------------------------------
# The state keeps "touched" (keys like "name", "seeds", "bonds", "<uid>:<Location field>") so that problems
# show only at fields someone changed (dash_app.builder.problems.shown_problems).

_TOUCH_FIELDS = {"sequence": ("sequence",), "copies": ("copies",), "msa_mode": ("msa",), "msa_text": ("msa",),
                 "template_mode": ("templates",), "ligand_mode": ("ccd", "smiles"), "ccd": ("ccd",),
                 "smiles": ("smiles",), "mods": ("mods",)}


def touch(state: dict, *keys: str) -> dict:
    """Return `state` with `keys` marked as touched by the user."""
    touched = list(state.get("touched") or [])
    return {**state, "touched": touched + [k for k in keys if k not in touched]}


def touch_changes(old: dict, new: dict) -> dict:
    """Return `new` with every field whose value differs from `old` marked touched (a field that only
    appeared, such as a new card's blank inputs, is not: nobody typed in it)."""
    keys = []
    if (old.get("name") or "") != (new.get("name") or ""):
        keys.append("name")
    before = {e["uid"]: e for e in old.get("entities") or []}
    for e in new.get("entities") or []:
        prev = before.get(e["uid"])
        if prev is None:
            continue
        for fld, where in _TOUCH_FIELDS.items():
            if prev.get(fld) != e.get(fld):
                keys += [f"{e['uid']}:{w}" for w in where]
    if (old.get("bonds") or []) != (new.get("bonds") or []) and old.get("bonds"):
        keys.append("bonds")
    return touch(new, *keys) if keys else new
