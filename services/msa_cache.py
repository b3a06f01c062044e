"""The MSA and template cache (issue 16): each chain is searched once, later jobs reuse the result.

After a data pipeline, each protein chain's `unpairedMsa`, `pairedMsa` and `templates` (an RNA
chain's `unpairedMsa`) are stored once, keyed by chain type + sequence and the search context (the
AF3 database set and the options that change search results). A new job with a cached chain gets
them injected into its input, so AF3 skips that chain's search; when every chain is covered, the
data pipeline stage is skipped.

Scope: by default a user reuses only their own chains (sequences may be confidential);
FOLDDECK_MSA_CACHE_SCOPE=lab makes it lab-wide. FOLDDECK_MSA_CACHE_MB bounds the files, least
recently used evicted first; 0 turns the cache off.

Key strings in `jobs.msa_keys` (computed at submission by `search_keys`):
    "p:<sha>"  protein chain given nothing: needs unpairedMsa + pairedMsa + templates
    "m:<sha>"  protein chain given templates (any list, [] included) but no MSA: needs the two MSAs
    "r:<sha>"  RNA chain without unpairedMsa: needs unpairedMsa
    "x:<sha>"  a chain AF3 must search that the cache cannot cover (e.g. MSAs given, templates not)
<sha> = chain_key(kind, sequence): the same for "p" and "m" of one sequence.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

_MSA_FIELDS = ("unpairedMsa", "unpairedMsaPath", "pairedMsa", "pairedMsaPath")


def chain_key(kind: str, sequence: str) -> str:
    """Return the cache key of a chain: sha256 of its type and sequence (modifications do not change a search)."""
    return hashlib.sha256(f"{kind}:{sequence}".encode()).hexdigest()


def _polymers(af3: dict) -> Iterator[tuple[str, list[str], dict]]:
    """Yield (kind, chain ids, body) for each protein and RNA entity of an AF3-dialect input."""
    for entity in af3.get("sequences") or []:
        for kind in ("protein", "rna"):
            body = entity.get(kind) if isinstance(entity, dict) else None
            if isinstance(body, dict) and isinstance(body.get("sequence"), str):
                ids = body.get("id")
                yield kind, ids if isinstance(ids, list) else [ids], body


def _need(kind: str, body: dict) -> str:
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
    for kind, _ids, body in _polymers(af3):
        need = _need(kind, body)
        key = f"{need}:{chain_key(kind, body['sequence'])}" if need else ""
        if key and key not in keys:
            keys.append(key)
    return keys


def dumps_keys(af3: dict) -> str:
    """Return `search_keys` as the JSON stored in jobs.msa_keys."""
    return json.dumps(search_keys(af3), separators=(",", ":"))
