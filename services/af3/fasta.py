"""Turn multi-record FASTA into AF3 `sequences` entries (one chain per record, identical ones merged)."""
from __future__ import annotations

from typing import Any

from services.af3 import rules as R
from services.af3.names import int_id_to_str_id
from services.af3.problems import Problem
from services.platform.errors import InvalidInput

POLYMER_TYPES = ("protein", "rna", "dna")


def parse_fasta(text: str, force_type: str | None = None) -> list[dict[str, Any]]:
    """Parse FASTA into AF3 `sequences` entries.

    Args:
        text: FASTA text; sequence lines may wrap, be lower case, and end in a '*' stop symbol.
        force_type: "protein", "rna" or "dna" for every record; None detects it per record
            (only ACGT -> DNA, only ACGU with a U -> RNA, otherwise protein).
    Returns:
        `sequences` entries; ids A, B, … in record order, identical (type, sequence) records merged
        into one entity with an id list.
    Raises:
        InvalidInput: no records, an empty record, or bad characters (record name and position).
    """
    if force_type is not None and force_type not in POLYMER_TYPES:
        raise InvalidInput(f"Unknown sequence type {force_type!r}; use protein, rna or dna.")
    records = _records(text)
    problems = []
    typed = []
    for k, (name, line, seq) in enumerate(records):
        kind = force_type or detect_type(seq)
        problem = _record_problem(k, name, line, kind, seq)
        if problem:
            problems.append(problem)
        typed.append((kind, seq))
    if problems:
        raise InvalidInput(problems[0].message if len(problems) == 1 else
                           f"{len(problems)} FASTA records have problems; the first: {problems[0].message}", problems)
    return _merge(typed)


def _records(text: str) -> list[tuple[str, int, str]]:
    """Split FASTA text into (name, header line number, upper-cased sequence)."""
    records: list[tuple[str, int, list[str]]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith(">"):
            records.append((line[1:].strip() or f"record {len(records) + 1}", lineno, []))
        elif line and not line.startswith(";"):
            if not records:
                raise InvalidInput(f"Line {lineno} holds sequence before any '>' header; FASTA records start with "
                                   "a line like '>my_protein'.", [Problem(f"line {lineno}", "Sequence before header.")])
            records[-1][2].append(line)
    if not records:
        raise InvalidInput("No FASTA records found; each record starts with a '>' header line.")
    out = []
    for name, lineno, parts in records:
        seq = "".join("".join(parts).split()).upper()
        out.append((name, lineno, seq[:-1] if seq.endswith("*") else seq))
    return out


def detect_type(seq: str) -> str:
    """Guess the polymer type from the alphabet (ambiguous short ACGT sequences count as DNA)."""
    letters = set(seq) - {"N"}
    if letters and letters <= set("ACGT"):
        return "dna"
    if letters and letters <= set("ACGU") and "U" in letters:
        return "rna"
    return "protein"


def _record_problem(k: int, name: str, line: int, kind: str, seq: str) -> Problem | None:
    """Return the problem of one record (empty, or characters outside its alphabet), if any."""
    path = f"record {k + 1} ({name})"
    if not seq:
        return Problem(path, f"Record '{name}' (line {line}) has no sequence.")
    allowed = R.ALPHABETS[kind] + R.UNKNOWN_LETTER[kind]
    bad = [(i, c) for i, c in enumerate(seq, 1) if c not in allowed]
    if not bad:
        return None
    pos, ch = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return Problem(path, f"Record '{name}' (line {line}) has {ch!r} at position {pos}{more}; as "
                         f"{R.POLYMER_NOUN[kind]}, {R.ALPHABET_TEXT[kind]}.")


def _merge(typed: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Give each record a chain id and merge identical records into one entity."""
    entities: dict[tuple[str, str], list[str]] = {}
    for k, key in enumerate(typed, 1):
        entities.setdefault(key, []).append(int_id_to_str_id(k))
    return [{kind: {"id": ids[0] if len(ids) == 1 else ids, "sequence": seq}}
            for (kind, seq), ids in entities.items()]
