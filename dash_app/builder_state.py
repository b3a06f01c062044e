"""The builder form's state (a plain dict the browser keeps) <-> AF3 JSON, and problem paths -> form fields.

Pure functions only: no dash, no request. The page's callbacks read the form into this dict, call
`evaluate()` and render what it returns, so every rule here is testable without a browser.

Form state::

    {"name": str, "seeds": [int, ...], "next_uid": int,
     "entities": [{"uid": int, "kind": "protein"|"rna"|"dna"|"ligand"|"ion", "sequence": str,
                   "copies": int|None, "mods": [{"code": str, "position": int|None}],
                   "msa_mode": "auto"|"none"|"custom", "msa_text": str, "template_mode": "auto"|"none",
                   "ligand_mode": "ccd"|"smiles", "ccd": str, "smiles": str, "extra": {AF3 fields kept as loaded}}],
     "bonds": [{"a_chain": str, "a_res": int|None, "a_atom": str, "b_chain": ..., "b_res": ..., "b_atom": ...}],
     "extra": {top-level AF3 fields kept as loaded (userCCD...)}}
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from services.af3 import (
    FoldJob,
    Problem,
    SizeEstimate,
    af3_to_server,
    estimate_size,
    has_errors,
    int_id_to_str_id,
    parse_fasta,
    sanitised_name,
    validate,
)
from services.af3 import rules as R
from services.af3.ccd import COMMON_LIGANDS, is_ion

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
# Fields the form edits; everything else an entity had when loaded is kept in "extra".
_EDITED = {"id", "sequence", "modifications", "unpairedMsa", "pairedMsa", "templates", "ccdCodes", "smiles"}


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


# -- problems -> fields --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where a problem belongs in the form: a card (by position) and a field, or a top-level field."""

    card: int | None
    field: str
    row: int | None = None


_SEQ_PATH = re.compile(r"sequences\[(\d+)\](?:\.(\w+))?(?:\.(\w+))?(?:\[(\d+)\])?(?:\.(\w+))?")
_FIELD_OF_KEY = {"sequence": "sequence", "id": "copies", "modifications": "mods", "unpairedMsa": "msa",
                 "pairedMsa": "msa", "unpairedMsaPath": "msa", "pairedMsaPath": "msa", "templates": "templates",
                 "ccdCodes": "ccd", "smiles": "smiles", "description": "card"}


def locate(path: str) -> Location:
    """Return the form field a validator problem path points at.

    >>> locate("sequences[2].protein.modifications[1].ptmPosition")
    Location(card=2, field='mods', row=1)
    """
    if path.startswith("name"):
        return Location(None, "name")
    if path.startswith("modelSeeds"):
        m = re.match(r"modelSeeds\[(\d+)\]", path)
        return Location(None, "seeds", int(m.group(1)) if m else None)
    if path.startswith("bondedAtomPairs"):
        m = re.match(r"bondedAtomPairs\[(\d+)\]", path)
        return Location(None, "bonds", int(m.group(1)) if m else None)
    m = _SEQ_PATH.match(path)
    if m:
        card, key, row = int(m.group(1)), m.group(3), m.group(4)
        fld = _FIELD_OF_KEY.get(key or "", "card")
        return Location(card, fld, int(row) if row is not None and fld == "mods" else None)
    return Location(None, "job")


# -- evaluation -----------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Everything the live panel shows for one form state."""

    af3: dict[str, Any]
    problems: list[Problem]
    size: SizeEstimate | None
    folder: str
    chains: dict[int, list[str]]
    export: dict[str, Any] | list | None = None
    export_blockers: list[str] = field(default_factory=list)
    size_warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Tell whether the job may be submitted (warnings allowed)."""
        return not has_errors(self.problems)

    def problems_by_card(self) -> dict[int, list[tuple[Location, Problem]]]:
        """Group problems by card position (None = job-level)."""
        out: dict[Any, list] = {}
        for p in self.problems:
            loc = locate(p.path)
            out.setdefault(loc.card, []).append((loc, p))
        return out


def form_problems(state: dict) -> list[Problem]:
    """Return problems the AF3 validator cannot see because the form smooths them over (copies, blanks)."""
    out = []
    for i, e in enumerate(state["entities"]):
        n = e.get("copies")
        if not (isinstance(n, int) and 1 <= n <= MAX_COPIES):
            out.append(Problem(f"sequences[{i}].{_kind(e)}.id", f"Copies must be a whole number from 1 to "
                                                                 f"{MAX_COPIES}."))
        if e["kind"] in ("ligand", "ion") and e["ligand_mode"] == "ccd" and not split_codes(e["ccd"]):
            what = "Pick an ion or type its CCD code (e.g. MG)." if e["kind"] == "ion" else \
                "Pick a ligand or type its CCD code (e.g. ATP)."
            out.append(Problem(f"sequences[{i}].ligand.ccdCodes", what))
    return out


def _kind(e: dict) -> str:
    """Return the AF3 entity key of a card."""
    return "ligand" if e["kind"] in ("ligand", "ion") else e["kind"]


def evaluate(state: dict, dialect: str = R.AF3_DIALECT, max_tokens: int | None = None) -> Evaluation:
    """Translate, validate and size the form; convert to the export dialect when valid."""
    af3 = to_af3(state)
    problems = form_problems(state)
    taken = {p.path for p in problems}
    problems += [p for p in validate(af3) if not (p.path in taken and "empty" in p.message)]
    ev = Evaluation(af3, problems, None, sanitised_name(af3["name"]), chain_ids(state))
    if not ev.valid:
        return ev
    ev.size = estimate_size(af3)
    if max_tokens is not None and ev.size.tokens > max_tokens:
        ev.size_warnings.append(f"{ev.size.tokens} tokens exceed your limit of {max_tokens} tokens per job; "
                                "the queue will refuse it.")
    ev.export = af3
    if dialect == R.SERVER_DIALECT:
        job, blockers = af3_to_server(af3)
        ev.export, ev.export_blockers = ([job] if job else None), blockers
    return ev


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


# -- which problems to show -------------------------------------------------------------------------------
# A fresh form is full of "required" problems; red on fields nobody touched reads as blame. The state keeps
# "touched" (keys like "name", "seeds", "bonds", "<uid>:<Location field>") and "attempted" (a submit was
# tried, or a file or job was loaded): a problem shows once its field is touched, or everything after that.

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


def problem_key(state: dict, loc: Location) -> str:
    """Return the touched-key of the field a problem belongs to."""
    if loc.card is None:
        return loc.field
    entities = state.get("entities") or []
    uid = entities[loc.card]["uid"] if loc.card < len(entities) else loc.card
    return f"{uid}:{loc.field}"


def shown_problems(state: dict, problems: list[Problem]) -> list[Problem]:
    """Return the problems to show now: all after a submit attempt or a load, else those of touched fields."""
    if state.get("attempted"):
        return list(problems)
    touched = set(state.get("touched") or [])
    cards = {k.split(":", 1)[0] for k in touched if ":" in k}
    out = []
    for p in problems:
        key = problem_key(state, locate(p.path))
        if key in touched or (key.endswith(":card") and key.split(":", 1)[0] in cards):
            out.append(p)
    return out
