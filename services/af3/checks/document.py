"""Document-shape rules: dialect, version, name, seeds and the version the used fields need."""
from __future__ import annotations

import re
from typing import Any

from services.af3 import rules as R
from services.af3.checks.report import _Report
from services.af3.names import sanitised_name
from services.af3.problems import is_int, join, kind_of, show


def _check_dialect_version(rep: _Report, doc: dict, base: str) -> None:
    """Check `dialect` and `version`."""
    dialect, version = doc.get("dialect"), doc.get("version")
    if "dialect" not in doc:
        rep.error(join(base, "dialect"), 'The "dialect" field is missing; write "dialect": "alphafold3".')
    elif dialect == R.SERVER_DIALECT:
        rep.error(join(base, "dialect"), 'This is an AlphaFold Server job ("alphafoldserver"); such jobs must be '
                                         "wrapped in a JSON list [ ... ], or convert it to the alphafold3 format.")
    elif dialect != R.AF3_DIALECT:
        rep.error(join(base, "dialect"), f'The dialect is {show(dialect)}; it must be "alphafold3".')
    if "version" not in doc:
        rep.error(join(base, "version"), 'The "version" field is missing; write "version": 1 (or 2, 3, 4 if you '
                                         "use newer fields).")
    elif not is_int(version) or version not in R.AF3_VERSIONS:
        rep.error(join(base, "version"), f"The version is {show(version)}; AlphaFold 3 accepts the whole numbers "
                                         "1, 2, 3 or 4.")


def _check_name(rep: _Report, doc: dict, base: str) -> None:
    """Check that the job name exists and leaves a usable folder name."""
    path = join(base, "name")
    if "name" not in doc:
        rep.error(path, "The job has no name; add a \"name\" (letters, digits, '.', '-', '_').")
    elif not isinstance(doc["name"], str):
        rep.error(path, f"The job name must be text, found {kind_of(doc['name'])}.")
    elif not sanitised_name(doc["name"]):
        rep.error(path, f"The job name {show(doc['name'])} has no usable character; AlphaFold 3 names the output "
                        "folder from its letters, digits, dots, dashes and underscores.")


def _check_seeds(rep: _Report, seeds: Any, present: bool, path: str, server: bool) -> None:
    """Check `modelSeeds`: a non-empty list of whole numbers 0 … 4294967295 (server: may be empty)."""
    if not present:
        if not server:
            rep.error(path, 'No seeds given; add "modelSeeds": [1] (one or more whole numbers).')
        return
    if not isinstance(seeds, list):
        rep.error(path, f"The seeds must be a list of whole numbers, found {kind_of(seeds)}.")
        return
    if not seeds and not server:
        rep.error(path, "The seed list is empty; give at least one seed, e.g. [1].")
    seen: set[int] = set()
    for i, seed in enumerate(seeds):
        value = _seed_value(seed, server)
        if value is None:
            allowed = "whole numbers (or their text, e.g. \"42\")" if server else "whole numbers"
            rep.error(join(path, i), f"Seed {show(seed)} is not a whole number; seeds must be {allowed}.")
        elif not 0 <= value <= R.UINT32_MAX:
            rep.error(join(path, i), f"Seed {value} is out of range; seeds must be between 0 and {R.UINT32_MAX}.")
        elif value in seen:
            rep.warn(join(path, i), f"Seed {value} is listed twice; the same seed gives the same prediction.")
        else:
            seen.add(value)


def _seed_value(seed: Any, server: bool) -> int | None:
    """Return a seed as an int, or None if it is not an acceptable seed value."""
    if is_int(seed):
        return seed
    if server and isinstance(seed, str) and re.fullmatch(r"\s*[0-9]+\s*", seed):
        return int(seed)
    return None


def _check_version_covers(rep: _Report, doc: dict, base: str) -> None:
    """Warn when the declared version is lower than the features used (older AF3 installs refuse it)."""
    version = doc.get("version")
    if is_int(version) and version in R.AF3_VERSIONS and version < rep.needed_version:
        rep.warn(join(base, "version"), f"Version {version} is declared but {rep.needed_by} needs version "
                                        f"{rep.needed_version}; AlphaFold 3 releases older than that field refuse "
                                        f"the file. Set \"version\": {rep.needed_version}.")
