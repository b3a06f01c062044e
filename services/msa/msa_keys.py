"""What a data pipeline would search, as the MSA cache keys it (services.msa.msa_cache stores and reuses them).

Key strings in `jobs.msa_keys` (computed at submission by `search_keys`):
    "p:<sha>"  protein chain given nothing: needs unpairedMsa + pairedMsa + templates
    "m:<sha>"  protein chain given templates (any list, [] included) but no MSA: needs the two MSAs
    "r:<sha>"  RNA chain without unpairedMsa: needs unpairedMsa
    "x:<sha>"  a chain AF3 must search that the cache cannot cover (e.g. MSAs given, templates not)
<sha> = chain_key(kind, sequence): the same for "p" and "m" of one sequence.

The search context names the database set and the AF3 flags that change search results: an entry
is reused only in the same context.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import shlex
from collections.abc import Iterator

from services.platform.settings import Settings

_MSA_FIELDS = ("unpairedMsa", "unpairedMsaPath", "pairedMsa", "pairedMsaPath")


def chain_key(kind: str, sequence: str) -> str:
    """Return the cache key of a chain: sha256 of its type and sequence (modifications do not change a search)."""
    return hashlib.sha256(f"{kind}:{sequence}".encode()).hexdigest()


def polymers(af3: dict) -> Iterator[tuple[str, list[str], dict]]:
    """Yield (kind, chain ids, body) for each protein and RNA entity of an AF3-dialect input."""
    for entity in af3.get("sequences") or []:
        for kind in ("protein", "rna"):
            body = entity.get(kind) if isinstance(entity, dict) else None
            if isinstance(body, dict) and isinstance(body.get("sequence"), str):
                ids = body.get("id")
                yield kind, ids if isinstance(ids, list) else [ids], body


def chain_need(kind: str, body: dict) -> str:
    """Return what a chain needs from a search: "p", "m", "r", "x" (cannot be cached) or "" (nothing)."""
    has_msa = any(body.get(f) is not None for f in _MSA_FIELDS)
    has_templates = body.get("templates") is not None
    if kind == "rna":
        return "" if has_msa else "r"
    if not has_msa:
        return "m" if has_templates else "p"
    complete = all(body.get(a) is not None or body.get(b) is not None
                   for a, b in (("unpairedMsa", "unpairedMsaPath"), ("pairedMsa", "pairedMsaPath")))
    return "" if complete and has_templates else "x"  # AF3 searches what is missing; we store only whole sets


def search_keys(af3: dict) -> list[str]:
    """Return the keys ("p:<sha>", ...) of the chains a data pipeline would search, each once, in input order."""
    keys: list[str] = []
    for kind, _ids, body in polymers(af3):
        need = chain_need(kind, body)
        key = f"{need}:{chain_key(kind, body['sequence'])}" if need else ""
        if key and key not in keys:
            keys.append(key)
    return keys


def dumps_keys(af3: dict) -> str:
    """Return `search_keys` as the JSON stored in jobs.msa_keys."""
    return json.dumps(search_keys(af3), separators=(",", ":"))


_CONTEXT_FLAGS = ("db_dir", "max_template_date")  # plus every --*_database_path
_FLAG = re.compile(r"^--?([A-Za-z0-9_]+)(?:=(.*))?$", re.S)


def search_context(settings: Settings, command: str) -> str:
    """Return 16 hex characters naming the database set and the AF3 flags that change search results."""
    return _search_context(settings.af3_db_dir, command)


@functools.lru_cache(maxsize=256)
def _search_context(db_dir: str, command: str) -> str:
    # Cached: the claim and every "why does it wait" sentence ask per queued job, and shlex is slow.
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: the command fails anyway, but the hash must not
        words = command.split()
    found = []
    for i, word in enumerate(words):
        m = _FLAG.match(word)
        if not m or not (m.group(1) in _CONTEXT_FLAGS or m.group(1).endswith("_database_path")):
            continue
        value = m.group(2)
        if value is None:  # "--db_dir /x": the value is the next word
            value = words[i + 1] if i + 1 < len(words) else ""
        found.append(f"{m.group(1)}={value}")
    text = "\n".join([db_dir, *sorted(found)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_key(key: str) -> tuple[str, str]:
    """Return (need, sha) of a key ("p:<sha>" -> ("p", "<sha>"))."""
    need, _, sha = key.partition(":")
    return need, sha
