"""What is wrong with the builder form, where it shows, and what the form would submit.

Pure functions only: `evaluate` translates, validates and sizes the form state; `locate` maps a
validator's problem path to a card and field; `shown_problems` keeps red off fields nobody touched yet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dash_app.builder.af3_json import to_af3
from dash_app.builder.state import MAX_COPIES, chain_ids, split_codes
from services.af3 import (
    Problem,
    SizeEstimate,
    af3_to_server,
    estimate_size,
    has_errors,
    sanitised_name,
    validate,
)
from services.af3 import rules as R

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


# -- which problems to show -------------------------------------------------------------------------------
# A fresh form is full of "required" problems; red on fields nobody touched reads as blame. The state keeps
# "touched" (keys like "name", "seeds", "bonds", "<uid>:<Location field>") and "attempted" (a submit was
# tried, or a file or job was loaded): a problem shows once its field is touched, or everything after that.


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
