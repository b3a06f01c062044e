"""The running report every check writes to, and what all rule families share: the unknown-key check and the
unknown-CCD-code message."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from services.af3.problems import Problem, Severity, join, show


@dataclass
class _Report:
    """Problems found so far, plus facts later checks need (chains, features used)."""

    problems: list[Problem] = field(default_factory=list)
    chains: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # id -> (type, length, first path)
    needed_version: int = 1
    needed_by: str = ""
    ccd: Any = None  # the CcdIndex codes are judged with (None: none loadable, form checks only)
    user: dict[str, Any] = field(default_factory=dict)  # userCCD components by code
    user_ids: set[str] = field(default_factory=set)  # userCCD block names, parsed or not
    user_path: bool = False  # a userCCDPath file may define further components FoldDeck cannot see
    bodies: dict[str, tuple[str, dict]] = field(default_factory=dict)  # chain id -> (type, entity body)

    def component(self, code: str) -> Any:
        """Return the userCCD or CCD component `code` (userCCD wins, as in AF3), or None."""
        comp = self.user.get(code)
        if comp is None and self.ccd is not None:
            comp = self.ccd.get(code)
        return comp

    def unknown_code(self, code: str) -> bool:
        """Tell whether `code` is surely unknown to AF3: in neither the CCD nor the job's userCCD."""
        if self.ccd is None or self.user_path or code in self.user_ids:
            return False
        return code not in self.ccd and code not in self.user

    def error(self, path: str, message: str) -> None:
        """Record an error."""
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        """Record a warning."""
        self.problems.append(Problem(path, message, Severity.WARNING.value))

    def need(self, version: int, what: str) -> None:
        """Note that a feature needs at least `version`."""
        if version > self.needed_version:
            self.needed_version, self.needed_by = version, what


def unknown_code_message(rep: _Report, code: str, what: str) -> str:
    """Say that `code` is in neither the CCD nor the userCCD, and what to write instead."""
    where = f"the CCD ({rep.ccd.source}, {rep.ccd.date})" if rep.ccd is not None else "the CCD"
    fix = ("give the ligand as a SMILES string instead, or define the component in userCCD" if what == "ligand"
           else "define the modified residue in userCCD")
    return (f"{show(code)} is not in {where} nor in this job's userCCD, so AlphaFold 3 would stop on it; {fix}. "
            "Search the builder's ligand picker by name to find the right code.")


def _unknown_keys(rep: _Report, obj: dict, allowed: tuple[str, ...], base: str, where: str) -> None:
    """Report keys that the format does not know, with a did-you-mean hint."""
    for key in obj:
        if key in allowed:
            continue
        hint = _did_you_mean(str(key), allowed)
        rep.error(join(base, str(key)), f"Unknown field {show(key)} {where}.{hint} "
                                        f"Allowed here: {', '.join(allowed)}.")


def _did_you_mean(key: str, allowed: tuple[str, ...]) -> str:
    """Suggest the allowed key closest to a misspelt one."""
    by_case = [a for a in allowed if a.lower() == key.lower()]
    close = by_case or difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    return f" Did you mean {show(close[0])}?" if close else ""
