"""Check an AlphaFold 3 input (either dialect) and report every problem with its JSON path.

Covers AF3's own parse-time checks, the checks its data pipeline only makes later (MSA/template
combinations), and the stricter rules of the reference's recommended validator. Never raises for
any JSON value.

Each rule family lives in its own module under `services.af3.checks`: document shape, entities,
modifications and bonds, user CCD, AlphaFold Server dialect.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from services.af3 import rules as R
from services.af3.checks.document import (
    _check_dialect_version,
    _check_name,
    _check_seeds,
    _check_version_covers,
)
from services.af3.checks.entities import _check_sequences
from services.af3.checks.mods_bonds import _check_bonds
from services.af3.checks.report import _Report, _unknown_keys
from services.af3.checks.server import validate_server, validate_server_job
from services.af3.checks.user_ccd import _check_user_ccd
from services.af3.chem.ccd import try_ccd
from services.af3.problems import Problem, join, kind_of

__all__ = ["validate", "validate_af3", "validate_server", "validate_server_job"]


def validate(doc: Any) -> list[Problem]:
    """Return every problem of an input document: an object is AF3 dialect, a list is server dialect."""
    if isinstance(doc, dict):
        return validate_af3(doc)
    if isinstance(doc, list):
        return validate_server(doc)
    return [Problem("", f"The file holds {kind_of(doc)}; expected a JSON object (one AlphaFold 3 job) "
                        "or a list of AlphaFold Server jobs.")]


# -- AlphaFold 3 dialect ---------------------------------------------------------------------


def validate_af3(doc: Any, base: str = "", json_path: Path | None = None) -> list[Problem]:
    """Return every problem of one AF3-dialect job; paths start with `base`.

    `json_path` is the file the job was read from: AF3 resolves a relative `userCCDPath` against it, and
    with it FoldDeck reads that file and judges the job's components as AF3 will.
    """
    rep = _Report(ccd=try_ccd())
    if not isinstance(doc, dict):
        rep.error(base, f"A job must be a JSON object, found {kind_of(doc)}.")
        return rep.problems
    _unknown_keys(rep, doc, R.TOP_KEYS, base, "at the top level")
    _check_dialect_version(rep, doc, base)
    _check_name(rep, doc, base)
    _check_seeds(rep, doc.get("modelSeeds"), "modelSeeds" in doc, join(base, "modelSeeds"), server=False)
    has_user_ccd = _check_user_ccd(rep, doc, base, json_path)
    _check_sequences(rep, doc, base, has_user_ccd)
    _check_bonds(rep, doc.get("bondedAtomPairs"), join(base, "bondedAtomPairs"))
    _check_version_covers(rep, doc, base)
    return rep.problems
