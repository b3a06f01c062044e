"""Upload page logic (pure): turn uploaded files into one row per job found, before anything is queued."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from services.af3 import count_tokens, input_files, load_jobs, load_json_text
from services.jobs import too_many_jobs, too_many_tokens
from services.platform import defaults
from services.platform.errors import InvalidInput


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
    attachment: bytes | None = None  # an MSA, template or user-CCD file sent beside the JSON (issue 22)


def decode_contents(contents: str) -> bytes:
    """Return the bytes of a dcc.Upload data URL ("data:...;base64,<data>").

    Raises:
        InvalidInput: the browser sent something that is not base64.
    """
    try:
        return base64.b64decode(contents.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("The upload arrived damaged; try again.") from None


def read_file(index: int, name: str, data: bytes, max_bytes: int, max_jobs: int = defaults.MAX_JOBS_PER_SUBMIT,
              max_tokens: int | None = None) -> FileResult:
    """Parse one file and return a row per job (a server-dialect list gives several).

    A file with more than `max_jobs` jobs is refused before any is checked; a job over
    `max_tokens` is shown as not valid, with the limit.
    """
    try:
        doc = load_json_text(data, max_bytes)
    except InvalidInput as exc:
        return FileResult(name, error=str(exc))
    if isinstance(doc, list) and len(doc) > max_jobs:
        return FileResult(name, error=too_many_jobs(len(doc), max_jobs, "This file"))
    rows = []
    for job in load_jobs(doc):
        problems = [f"{p.path or '(file)'}: {p.message}" for p in job.problems if p.is_error]
        tokens = count_tokens(job.af3)[0] if job.af3 else None
        if tokens is not None and max_tokens is not None and tokens > max_tokens:
            problems.append(too_many_tokens(tokens, max_tokens))
        entities = len(job.af3["sequences"]) if job.af3 else _entity_count(doc, job.index)
        rows.append(JobRow(f"{index}:{job.index}", name, job.name, entities, tokens, job.valid and not problems,
                           problems, job.af3))
    return FileResult(name, rows)


def _entity_count(doc: Any, index: int) -> int:
    """Count the entities of an invalid job as written (0 when unreadable)."""
    job = doc if isinstance(doc, dict) else (doc[index] if isinstance(doc, list) and index < len(doc) else None)
    seqs = job.get("sequences") if isinstance(job, dict) else None
    return len(seqs) if isinstance(seqs, list) else 0


def read_uploads(names: list[str] | None, contents: list[str] | None, max_bytes: int) -> list[FileResult]:
    """Return the results for every uploaded file, in upload order."""
    pairs = zip(names or [], contents or [], strict=True)  # dcc.Upload sends one name per content
    return [_read_one(i, name, body, max_bytes) for i, (name, body) in enumerate(pairs)]


def read_batch(files: list[dict] | None, max_bytes: int, request_bytes: int,
               max_jobs: int = defaults.MAX_JOBS_PER_SUBMIT, max_tokens: int | None = None) -> list[FileResult]:
    """Return the results for the upload page's batch (see `upload.SPLIT_BATCH`), in upload order.

    Args:
        files: one {"name", "bytes", "contents", "skipped"} per file; the browser sends no contents for a file
            that is not .json ("type"), over `max_bytes` ("size") or past what one drop carries ("batch").
        max_bytes: the per-file cap, checked again here on what did arrive.
        request_bytes: the file bytes one drop carries (`drop_capacity`), for the message.
        max_jobs, max_tokens: the submitting user's limits (see `read_file`).
    """
    results = []
    for i, f in enumerate(files or []):
        name = str(f.get("name") or f"file {i + 1}")
        if f.get("contents") is None:
            results.append(FileResult(name, error=skipped_message(f.get("skipped"), f.get("bytes"), max_bytes,
                                                                  request_bytes, name)))
        else:
            results.append(_read_one(i, name, f["contents"], max_bytes, max_jobs, max_tokens))
    return results


def skipped_message(reason: str | None, size: int | None, max_bytes: int, request_bytes: int,
                    name: str = "") -> str:
    """Explain why the browser did not send a file, and what to do."""
    if reason == "batch":
        return (f"Not uploaded: the files dropped together pass {human_bytes(request_bytes)}, the most one upload "
                "carries. Nothing from it is queued; submit these, then drop it again with fewer files.")
    if reason == "type":
        return not_json_message(name)
    return too_large_message(size, max_bytes, sent=False)


def not_json_message(name: str) -> str:
    """Say why a file that is not .json was refused, and where its content belongs instead."""
    return (f"Refused: {name or 'this file'} is not a .json file. Upload AlphaFold 3 or AlphaFold Server JSON "
            "(with the .a3m and .cif files its paths name, also .gz or .xz); "
            "build a job from FASTA on the Builder page.")


# Files a job's unpairedMsaPath / pairedMsaPath / mmcifPath / userCCDPath may name (the upload page's JS agrees).
ATTACHMENT = re.compile(r"[.](a3m|cif|mmcif)([.](gz|xz))?$", re.IGNORECASE)


def drop_capacity(request_bytes: int) -> int:
    """Return the file bytes one drop carries, rounded down to a whole MB (or KB): files travel base64-encoded,
    4 bytes for every 3, inside a request of `request_bytes`."""
    raw = request_bytes * 3 // 4
    unit = 1024 * 1024 if raw >= 1024 * 1024 else 1024
    return max(unit, raw // unit * unit)


def too_large_message(size: int | None, max_bytes: int, sent: bool) -> str:
    """Say that a file is over the per-file cap and that nothing from it is queued."""
    size_text = f" is {human_bytes(size)}," if isinstance(size, int) else " is"
    fate = "Nothing from it is queued." if sent else "It was not uploaded and nothing from it is queued."
    return f"The file{size_text} more than the {human_bytes(max_bytes)} allowed per file. {fate}"


def human_bytes(n: int) -> str:
    """Format a byte count for people ("812 KB", "12.4 MB")."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def _read_one(index: int, name: str, body: str, max_bytes: int, max_jobs: int = defaults.MAX_JOBS_PER_SUBMIT,
              max_tokens: int | None = None) -> FileResult:
    """Decode one data URL and parse it, refusing non-JSON names."""
    try:
        data = decode_contents(body)
    except InvalidInput as exc:
        return FileResult(name, error=str(exc))
    if len(data) > max_bytes:  # a browser that skipped the page's own check, or an old page
        return FileResult(name, error=too_large_message(len(data), max_bytes, sent=True))
    if ATTACHMENT.search(name) and input_files.safe_name(name):
        return FileResult(name, attachment=data)
    if not name.lower().endswith(".json"):
        return FileResult(name, error=not_json_message(name))
    return read_file(index, name, data, max_bytes, max_jobs, max_tokens)


def attachments(results: list[FileResult]) -> dict[str, bytes]:
    """Return the files dropped beside the JSON, by name, for the jobs whose paths name them."""
    return {r.name: r.attachment for r in results if r.attachment is not None}


def bind_rows(results: list[FileResult], shared) -> None:
    """Mark a valid job that names a file neither dropped with it nor shared as not valid, saying so
    at review time (the submit checks the same rule again: `services.af3.input_files.bind`)."""
    files = attachments(results)
    for row in (r for f in results for r in f.rows if r.valid and r.af3 is not None):
        problems = input_files.bind(row.af3, files, shared)[2]
        if problems:
            row.valid, row.problems = False, problems


def valid_rows(results: list[FileResult], keys: list[str] | None = None) -> list[JobRow]:
    """Return the valid rows, limited to `keys` when given (a selection)."""
    rows = [r for f in results for r in f.rows if r.valid]
    return rows if keys is None else [r for r in rows if r.key in set(keys)]
