"""Upload page logic (pure): turn uploaded files into one row per job found, before anything is queued."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from services.af3 import count_tokens, load_jobs, load_json_text
from services.errors import InvalidInput


@dataclass
class JobRow:
    """One job found in an uploaded file: what the table shows, and the AF3 job when valid."""

    key: str  # "<file index>:<job index>", stable for selection and idempotency
    file: str
    name: str
    entities: int
    tokens: int | None
    valid: bool
    problems: list[str] = field(default_factory=list)
    af3: dict[str, Any] | None = None

    def table_row(self) -> dict[str, Any]:
        """Return the grid row (no AF3 document: the browser gets only what it shows)."""
        return {"key": self.key, "file": self.file, "name": self.name or "(no name)", "entities": self.entities,
                "tokens": self.tokens, "status": "valid" if self.valid else "; ".join(self.problems)}


@dataclass
class FileResult:
    """One uploaded file: its jobs, or the one reason it could not be read."""

    name: str
    rows: list[JobRow] = field(default_factory=list)
    error: str | None = None


def decode_contents(contents: str) -> bytes:
    """Return the bytes of a dcc.Upload data URL ("data:...;base64,<data>").

    Raises:
        InvalidInput: the browser sent something that is not base64.
    """
    try:
        return base64.b64decode(contents.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("The upload arrived damaged; try again.") from None


def read_file(index: int, name: str, data: bytes, max_bytes: int) -> FileResult:
    """Parse one file and return a row per job (a server-dialect list gives several)."""
    try:
        doc = load_json_text(data, max_bytes)
    except InvalidInput as exc:
        return FileResult(name, error=str(exc))
    rows = []
    for job in load_jobs(doc):
        problems = [f"{p.path or '(file)'}: {p.message}" for p in job.problems if p.is_error]
        tokens = count_tokens(job.af3)[0] if job.af3 else None
        entities = len(job.af3["sequences"]) if job.af3 else _entity_count(doc, job.index)
        rows.append(JobRow(f"{index}:{job.index}", name, job.name, entities, tokens, job.valid, problems, job.af3))
    return FileResult(name, rows)


def _entity_count(doc: Any, index: int) -> int:
    """Count the entities of an invalid job as written (0 when unreadable)."""
    job = doc if isinstance(doc, dict) else (doc[index] if isinstance(doc, list) and index < len(doc) else None)
    seqs = job.get("sequences") if isinstance(job, dict) else None
    return len(seqs) if isinstance(seqs, list) else 0


def read_uploads(names: list[str] | None, contents: list[str] | None, max_bytes: int) -> list[FileResult]:
    """Return the results for every uploaded file, in upload order."""
    results = []
    for i, (name, body) in enumerate(zip(names or [], contents or [])):
        try:
            data = decode_contents(body)
        except InvalidInput as exc:
            results.append(FileResult(name, error=str(exc)))
            continue
        if not name.lower().endswith(".json"):
            results.append(FileResult(name, error=f"{name} is not a .json file; upload AlphaFold 3 or AlphaFold "
                                                  "Server JSON (build from FASTA on the Builder page)."))
            continue
        results.append(read_file(i, name, data, max_bytes))
    return results


def valid_rows(results: list[FileResult], keys: list[str] | None = None) -> list[JobRow]:
    """Return the valid rows, limited to `keys` when given (a selection)."""
    rows = [r for f in results for r in f.rows if r.valid]
    return rows if keys is None else [r for r in rows if r.key in set(keys)]
