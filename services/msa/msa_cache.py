"""The MSA and template cache (issue 16): each chain is searched once, later jobs reuse the result.

After a data pipeline, each protein chain's `unpairedMsa`, `pairedMsa` and `templates` (an RNA
chain's `unpairedMsa`) are stored once, keyed by chain type + sequence and the search context (the
AF3 database set and the options that change search results). A new job with a cached chain gets
them injected into its input, so AF3 skips that chain's search; when every chain is covered, the
data pipeline stage is skipped.

Scope: by default a user reuses only their own chains (sequences may be confidential);
FOLDDECK_MSA_CACHE_SCOPE=lab, or an admin's switch on /admin/queue (kept in lab_settings, it wins),
makes it lab-wide. FOLDDECK_MSA_CACHE_MB bounds the files, least
recently used evicted first; 0 turns the cache off.

What is keyed, and how (`jobs.msa_keys`, the search context), is services.msa.msa_keys; its public
names are re-exported here for the callers that ask the cache.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import secrets
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from services.msa.msa_keys import chain_key, chain_need, polymers, split_key
from services.msa.msa_keys import dumps_keys as dumps_keys  # re-exported: callers ask the cache
from services.msa.msa_keys import search_context as search_context
from services.msa.msa_keys import search_keys as search_keys
from services.platform import defaults
from services.platform.db import transaction
from services.platform.errors import InvalidInput
from services.platform.settings import MSA_CACHE_SCOPES, Settings

log = logging.getLogger("folddeck.msa_cache")


# -- the cache itself -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reused:
    """One entity whose search results came from the cache (services.jobs.rules.wording.msa_reused says so)."""

    chains: list[str]  # chain ids of one entity, e.g. ["A"] or ["A", "B"]
    job_id: int | None  # the job whose search produced the entry (msa_cache.source_job_id)
    kind: str  # "protein" or "rna"


@dataclass(frozen=True)
class CacheStats:
    """The cache's size and use, for the admin page and the command line."""

    entries: int
    bytes: int
    owners: int
    hits: int
    limit_bytes: int
    scope: str


# What an entry supplies for each need: "m" keeps the job's own templates, "r" is an RNA chain.
_INJECTED = {"p": ("unpairedMsa", "pairedMsa", "templates"), "m": ("unpairedMsa", "pairedMsa"),
             "r": ("unpairedMsa",)}
_MB = 1024 * 1024


def enabled(settings: Settings) -> bool:
    """Tell whether the cache is on (FOLDDECK_MSA_CACHE_MB > 0)."""
    return settings.msa_cache_mb > 0


def _limit_bytes(settings: Settings) -> int:
    return settings.msa_cache_mb * _MB



@contextmanager
def _writing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Join the caller's transaction if one is open, else run the block in our own."""
    if conn.in_transaction:
        yield conn
    else:
        with transaction(conn):
            yield conn


def scope(conn: sqlite3.Connection, settings: Settings) -> str:
    """Return "user" or "lab": an admin's choice on /admin/queue, else FOLDDECK_MSA_CACHE_SCOPE."""
    row = conn.execute("SELECT value FROM lab_settings WHERE key = 'msa_cache_scope'").fetchone()
    return row[0] if row and row[0] in MSA_CACHE_SCOPES else settings.msa_cache_scope


def set_scope(conn: sqlite3.Connection, value: str, by: str) -> None:
    """Make reuse lab-wide ("lab") or per user ("user") from now on (an admin's choice, kept in the database).

    Raises:
        InvalidInput: `value` is neither.
    """
    if value not in MSA_CACHE_SCOPES:
        raise InvalidInput(f"The MSA cache scope is one of {', '.join(MSA_CACHE_SCOPES)}, not {value!r}.")
    conn.execute("INSERT INTO lab_settings (key, value, changed_by, changed_at) VALUES ('msa_cache_scope', ?, ?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value, changed_by = excluded.changed_by, "
                 "changed_at = excluded.changed_at", (value, by, time.time()))


def _scope_sql(conn: sqlite3.Connection, settings: Settings, owner_id: int) -> tuple[str, list]:
    """Return the WHERE fragment limiting entries to those this owner may reuse."""
    return ("", []) if scope(conn, settings) == "lab" else (" AND owner_id = ?", [owner_id])


def coverable(conn: sqlite3.Connection, settings: Settings, owner_id: int, keys: list[str], context: str) -> set[str]:
    """Return the keys of `keys` (as in jobs.msa_keys) that the cache can supply now.

    One query and no file reads: the claim calls this inside its write transaction.
    """
    wanted = {key: split_key(key) for key in keys if split_key(key)[0] in _INJECTED}
    if not enabled(settings) or not wanted:
        return set()
    scope_sql, args = _scope_sql(conn, settings, owner_id)
    rows = conn.execute(
        "SELECT key, MAX(has_templates) FROM msa_cache WHERE context = ? "
        f"AND key IN (SELECT value FROM json_each(?)){scope_sql} GROUP BY key",
        [context, json.dumps(sorted({sha for _, sha in wanted.values()})), *args]).fetchall()
    best = {row[0]: row[1] for row in rows}
    return {key for key, (need, sha) in wanted.items()
            if sha in best and (need != "p" or best[sha])}


def _best_row(conn: sqlite3.Connection, settings: Settings, owner_id: int, sha: str, context: str,
              templates: bool) -> sqlite3.Row | None:
    """Return the entry to use for a chain: the owner's own first, else the most recently used one."""
    scope, args = _scope_sql(conn, settings, owner_id)
    return conn.execute(
        "SELECT id, owner_id, path, source_job_id, has_templates FROM msa_cache WHERE key = ? AND context = ?"
        f"{scope}{' AND has_templates = 1' if templates else ''} "
        "ORDER BY owner_id = ? DESC, last_used_at DESC, id DESC LIMIT 1",
        [sha, context, *args, owner_id]).fetchone()


def _valid_fields(entry: dict, fields: tuple[str, ...]) -> bool:
    """Tell whether `entry` holds `fields` as AF3 takes them inline (MSAs as text, templates with mmCIF text)."""
    for f in fields:
        value = entry.get(f)
        if f == "templates":
            if not isinstance(value, list) or not all(
                    isinstance(t, dict) and isinstance(t.get("mmcif"), str)
                    and isinstance(t.get("queryIndices"), list) and isinstance(t.get("templateIndices"), list)
                    for t in value):
                return False
        elif not isinstance(value, str):
            return False
    return True


def _read_entry(settings: Settings, row: sqlite3.Row, kind: str, sequence: str, need: str) -> dict | None:
    """Return the entry file's content, or None when it is missing, unreadable or not this chain's."""
    try:
        entry = json.loads((settings.data_dir / row["path"]).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("kind") != kind or entry.get("sequence") != sequence:
        return None
    return entry if _valid_fields(entry, _INJECTED[need]) else None


def _drop(conn: sqlite3.Connection, settings: Settings, rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """Delete these entries (those not used since `rows` was read) and their files; return the ones deleted."""
    gone = []
    with _writing(conn):
        for row in rows:
            if conn.execute("DELETE FROM msa_cache WHERE id = ? AND last_used_at = ?",
                            (row["id"], row["last_used_at"])).rowcount:
                gone.append(row)
                # Unlinked under the lock (a metadata operation): a store of the same chain cannot land
                # its file between our deleting the row and the file.
                (settings.data_dir / row["path"]).unlink(missing_ok=True)
    return gone


def _load(conn: sqlite3.Connection, settings: Settings, owner_id: int, sha: str, context: str,
          need: str, kind: str, sequence: str) -> tuple[sqlite3.Row, dict] | None:
    """Return (row, entry) for a chain, or None; a broken entry is deleted so the chain is searched again."""
    row = _best_row(conn, settings, owner_id, sha, context, need == "p")
    if row is None:
        return None
    entry = _read_entry(settings, row, kind, sequence, need)
    if entry is None:
        log.warning("MSA cache entry %s (%s) is missing or unreadable; dropped", row["id"], row["path"],
                    extra={"source": "jobs", "username": None, "job_id": None})
        full = conn.execute("SELECT id, path, last_used_at FROM msa_cache WHERE id = ?", (row["id"],)).fetchone()
        if full is not None:
            _drop(conn, settings, [full])
        return None
    return row, entry


def prepare(conn: sqlite3.Connection, settings: Settings, owner_id: int, af3: dict, context: str,
            reuse: bool = True) -> tuple[dict, list[Reused]]:
    """Return a copy of the AF3-dialect input with cached MSAs/templates injected, and what was reused.

    Args:
        af3: the job's input as submitted; not modified.
        context: `search_context` of the command that would run the data pipeline.
        reuse: False when the owner asked to search again.
    Returns:
        (input for AF3, one Reused per entity that got its fields from the cache). Chains the cache cannot
        supply are left as they were; compare with `search_keys` to know whether a search is still needed.
    """
    out = copy.deepcopy(af3)
    if not enabled(settings) or not reuse:
        return out, []
    reused: list[Reused] = []
    loaded: dict[tuple[str, str], tuple[sqlite3.Row, dict] | None] = {}
    for kind, ids, body in polymers(out):
        need = chain_need(kind, body)
        if need not in _INJECTED:
            continue
        sha = chain_key(kind, body["sequence"])
        if (need, sha) not in loaded:
            loaded[need, sha] = _load(conn, settings, owner_id, sha, context, need, kind, body["sequence"])
        if (hit := loaded[need, sha]) is None:
            continue
        row, entry = hit
        body.update({f: copy.deepcopy(entry[f]) for f in _INJECTED[need]})
        reused.append(Reused([str(i) for i in ids], row["source_job_id"], kind))
    used = sorted({hit[0]["id"] for hit in loaded.values() if hit is not None})
    if used:
        with _writing(conn):
            conn.execute("UPDATE msa_cache SET hits = hits + 1, last_used_at = ? "
                         "WHERE id IN (SELECT value FROM json_each(?))", (time.time(), json.dumps(used)))
    return out, reused


def _searched_chains(data: dict) -> dict[str, tuple[str, dict]]:
    """Return chain id -> (kind, body) for the protein and RNA chains of a _data.json."""
    return {str(i): (kind, body) for kind, ids, body in polymers(data) for i in ids}


def _entry_from(kind: str, sequence: str, need: str, found: tuple[str, dict] | None) -> dict | None:
    """Return the cache entry for a chain from its searched body in _data.json, or None if it lacks fields."""
    if found is None or found[0] != kind or found[1].get("sequence") != sequence:
        return None
    fields = _INJECTED[need]
    if not _valid_fields(found[1], fields):
        return None
    return {"kind": kind, "sequence": sequence, **{f: found[1][f] for f in fields}}


def _has_as_good(conn: sqlite3.Connection, settings: Settings, owner_id: int, sha: str, context: str,
                 has_templates: int) -> bool:
    """Tell whether an entry this owner may reuse already covers as much (templates or not) as a new one."""
    scope, args = _scope_sql(conn, settings, owner_id)
    return conn.execute(f"SELECT 1 FROM msa_cache WHERE key = ? AND context = ? AND has_templates >= ?{scope}",
                        [sha, context, has_templates, *args]).fetchone() is not None


def _put(conn: sqlite3.Connection, settings: Settings, owner_id: int, job_id: int, sha: str, context: str,
         has_templates: int, entry: dict) -> int:
    """Write one entry's file and row unless an as-good entry exists; return 1 if written, else 0."""
    if _has_as_good(conn, settings, owner_id, sha, context, has_templates):
        return 0  # e.g. the chain was injected from this very entry
    rel = f"{defaults.MSA_CACHE_DIR}/{owner_id}/{sha}-{context}.json"
    final = settings.data_dir / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    raw = json.dumps(entry, separators=(",", ":")).encode()
    try:
        tmp.write_bytes(raw)
        now = time.time()
        with _writing(conn):
            if _has_as_good(conn, settings, owner_id, sha, context, has_templates):
                return 0  # another process stored it while we wrote the file
            conn.execute(
                "INSERT INTO msa_cache (owner_id, key, context, chain_type, length, has_templates, path, bytes, "
                "source_job_id, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner_id, key, context) DO UPDATE SET chain_type = excluded.chain_type, "
                "length = excluded.length, has_templates = excluded.has_templates, path = excluded.path, "
                "bytes = excluded.bytes, source_job_id = excluded.source_job_id, created_at = excluded.created_at, "
                "last_used_at = excluded.last_used_at WHERE excluded.has_templates >= msa_cache.has_templates",
                (owner_id, sha, context, entry["kind"], len(entry["sequence"]), has_templates, rel, len(raw),
                 job_id, now, now))
            # Renamed under the lock, after the row: an MSA-only entry never replaces a file with templates.
            os.replace(tmp, final)
        return 1
    finally:
        tmp.unlink(missing_ok=True)


def store(conn: sqlite3.Connection, settings: Settings, owner_id: int, job_id: int, original: dict, data: dict,
          context: str) -> int:
    """Store the chains a data pipeline searched; return how many entries were written.

    Args:
        original: the job's AF3 input as submitted, before any injection (it says what was searched).
        data: the parsed <name>_data.json the data pipeline wrote.
        context: `search_context` of the command that ran the pipeline.
    """
    if not enabled(settings):
        return 0
    searched = _searched_chains(data)
    written, done = 0, set()
    for kind, ids, body in polymers(original):
        need = chain_need(kind, body)
        sha = chain_key(kind, body["sequence"])
        if need not in _INJECTED or (need, sha) in done:
            continue
        done.add((need, sha))
        entry = _entry_from(kind, body["sequence"], need, searched.get(str(ids[0])))
        if entry is not None:
            written += _put(conn, settings, owner_id, job_id, sha, context, int(need == "p"), entry)
    if written:
        evict(conn, settings)
    return written


def evict(conn: sqlite3.Connection, settings: Settings) -> int:
    """Remove least recently used entries until the files fit FOLDDECK_MSA_CACHE_MB; return how many went.

    Does nothing while the cache is off (0): turning it off keeps the files until `clear`.
    """
    if not enabled(settings):
        return 0
    limit = _limit_bytes(settings)
    rows = conn.execute("SELECT id, path, bytes, last_used_at FROM msa_cache ORDER BY last_used_at, id").fetchall()
    total = sum(r["bytes"] for r in rows)
    victims = []
    for row in rows:
        if total <= limit:
            break
        victims.append(row)
        total -= row["bytes"]
    return len(_drop(conn, settings, victims)) if victims else 0


def clear(conn: sqlite3.Connection, settings: Settings, owner_id: int | None = None) -> int:
    """Remove every entry (or one owner's) with its files; return how many rows went.

    Also called after a user is deleted: their rows went by cascade, this removes their folder.
    """
    with _writing(conn):
        if owner_id is None:
            n = conn.execute("DELETE FROM msa_cache").rowcount
        else:
            n = conn.execute("DELETE FROM msa_cache WHERE owner_id = ?", (owner_id,)).rowcount
    root = settings.data_dir / defaults.MSA_CACHE_DIR
    shutil.rmtree(root if owner_id is None else root / str(owner_id), ignore_errors=True)
    return n


def stats(conn: sqlite3.Connection, settings: Settings) -> CacheStats:
    """Return the cache's size and use."""
    row = conn.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0), COUNT(DISTINCT owner_id), COALESCE(SUM(hits), 0) "
                       "FROM msa_cache").fetchone()
    return CacheStats(row[0], row[1], row[2], row[3], _limit_bytes(settings), scope(conn, settings))


# -- command line -----------------------------------------------------------------------------------------

def _mb(n: int) -> str:
    return f"{n / _MB:,.1f} MB"


def main(argv: list[str] | None = None) -> int:
    """`python -m services.msa.msa_cache stats | clear [--user NAME]`."""
    from services.people.users import get_by_name
    from services.platform import boot
    from services.platform.db import connect
    from services.platform.errors import FoldDeckError

    parser = argparse.ArgumentParser(prog="python -m services.msa.msa_cache", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("stats", help="print entries, size, limit and scope")
    clear_p = sub.add_parser("clear", help="remove cached MSAs and templates (all, or one user's)")
    clear_p.add_argument("--user", help="only this user's entries")
    args = parser.parse_args(argv)
    try:
        settings = boot.boot("msa_cache")
        conn = connect(settings.db_path)
        if args.cmd == "stats":
            s = stats(conn, settings)
            print(f"entries  {s.entries} ({s.owners} users, {s.hits} reuses)")
            print(f"size     {_mb(s.bytes)}")
            print(f"limit    {_mb(s.limit_bytes) if s.limit_bytes else 'off (FOLDDECK_MSA_CACHE_MB=0)'}")
            print(f"scope    {s.scope}")
        else:
            owner = get_by_name(conn, args.user) if args.user else None
            n = clear(conn, settings, owner.id if owner else None)
            print(f"Removed {n} cached chain{'s' if n != 1 else ''}" + (f" of {owner.username}." if owner else "."))
    except (FoldDeckError, OSError, sqlite3.Error) as exc:
        print(f"msa_cache: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
