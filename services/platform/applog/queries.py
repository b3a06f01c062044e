"""Reading the application log: filtered pages, level counts, the live tail, sources and the CSV export.

Reads take a `LogFilters`; totals are capped at `defaults.APP_LOG_COUNT_CAP` so a page over a
million rows stays cheap ("10,000+").
"""
from __future__ import annotations

import csv
import json
import sqlite3
import time
from dataclasses import replace
from typing import TextIO

from services.platform import defaults
from services.platform.applog.entries import CSV_HEADER, Level, LogEntry, LogFilters
from services.platform.errors import InvalidInput

MIN_TEXT_CHARS = 3  # the trigram index cannot answer shorter terms, and a scan of 1M rows takes ~250 ms
_COLUMNS = "id, ts, level, source, username, job_id, address, message"


def _check(filters: LogFilters) -> None:
    bad = [lv for lv in filters.levels if lv not in Level.__members__]
    if bad:
        raise InvalidInput(f"Unknown level {bad[0]!r}; use {', '.join(Level.__members__)}.")
    if filters.text and len(filters.text.strip()) < MIN_TEXT_CHARS:
        raise InvalidInput(f"Search for at least {MIN_TEXT_CHARS} characters.")
    if filters.since is not None and filters.until is not None and filters.since > filters.until:
        raise InvalidInput("The start of the time range is after its end.")


def _where(filters: LogFilters, *, text_via_like: bool = True) -> tuple[str, list]:
    """Return the SQL condition and arguments for everything but a full-text term."""
    _check(filters)
    terms, args = ["1 = 1"], []
    if filters.levels:
        terms.append(f"level IN ({','.join('?' * len(filters.levels))})")
        args += list(filters.levels)
    for column, value in (("source", filters.source), ("username", filters.username)):
        if value is not None and str(value).strip():
            terms.append(f"{column} = ?")
            args.append(str(value).strip())
    if filters.job_id is not None:
        terms.append("job_id = ?")
        args.append(int(filters.job_id))
    if filters.since is not None:
        terms.append("ts >= ?")
        args.append(float(filters.since))
    if filters.until is not None:
        terms.append("ts <= ?")
        args.append(float(filters.until))
    text = (filters.text or "").strip()
    if text and text_via_like:
        terms.append("message LIKE ? ESCAPE '\\'")
        args.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return " AND ".join(terms), args


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_hits(conn: sqlite3.Connection, text: str) -> list[int] | None:
    """Return the ids whose message contains `text` if there are at most COUNT_CAP, else None.

    A rare term is answered from the trigram index; a common one returns None because a LIKE scan
    newest-first then finds a page of matches almost at once.
    """
    ids = [r[0] for r in conn.execute("SELECT rowid FROM app_log_fts WHERE app_log_fts MATCH ? LIMIT ?",
                                      (_phrase(text), defaults.APP_LOG_COUNT_CAP + 1))]
    return ids if len(ids) <= defaults.APP_LOG_COUNT_CAP else None


def _plan(conn: sqlite3.Connection, filters: LogFilters) -> tuple[str, list, bool]:
    """Return the WHERE clause for `filters` and whether it matches at most COUNT_CAP rows for sure."""
    _check(filters)
    text = (filters.text or "").strip()
    ids = _fts_hits(conn, text) if text else None
    if ids is None:
        where, args = _where(filters)
        return where, args, False
    where, args = _where(filters, text_via_like=False)
    # Trigram matching is case-insensitive like LIKE, and the id list is complete because it was not capped.
    return where + " AND id IN (SELECT value FROM json_each(?))", args + [json.dumps(ids)], True


def _entry(row: tuple) -> LogEntry:
    return LogEntry(*row)


def query(conn: sqlite3.Connection, filters: LogFilters, offset: int = 0,
          limit: int = defaults.APP_LOG_PAGE_SIZE) -> tuple[list[LogEntry], int]:
    """Return one page of matching entries, newest first, and the total (capped).

    Returns:
        (entries, total): total is exact up to APP_LOG_COUNT_CAP; above it, APP_LOG_COUNT_CAP + 1
        ("10,000+", see `total_label`).
    Raises:
        InvalidInput: an unknown level or a time range that ends before it starts.
    """
    where, args, _ = _plan(conn, filters)
    rows = conn.execute(f"SELECT {_COLUMNS} FROM app_log WHERE {where} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?",
                        args + [max(0, int(limit)), max(0, int(offset))]).fetchall()
    total = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM app_log WHERE {where} LIMIT ?)",
                         args + [defaults.APP_LOG_COUNT_CAP + 1]).fetchone()[0]
    return [_entry(tuple(r)) for r in rows], total


def total_label(total: int) -> str:
    """Return "1,234" or "10,000+" for a capped total."""
    cap = defaults.APP_LOG_COUNT_CAP
    return f"{cap:,}+" if total > cap else f"{total:,}"


def level_counts(conn: sqlite3.Connection, filters: LogFilters) -> dict[str, int]:
    """Return level -> number of matching entries (capped like `query`'s total), for every level."""
    where, args, _ = _plan(conn, replace(filters, levels=()))
    cap = defaults.APP_LOG_COUNT_CAP
    counts = {level.value: 0 for level in Level}
    probe = conn.execute(f"SELECT level, COUNT(*) FROM (SELECT level FROM app_log WHERE {where} LIMIT ?) "
                         "GROUP BY level", args + [cap + 1]).fetchall()
    if sum(n for _, n in probe) <= cap:  # the whole filtered set in one pass: exact
        counts.update({level: n for level, n in probe})
    else:  # a big set: one capped count per level, each an index range
        for level in counts:
            counts[level] = conn.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM app_log WHERE level = ? AND {where} LIMIT ?)",
                [level] + args + [cap + 1]).fetchone()[0]
    if filters.levels:
        counts = {level: (n if level in filters.levels else 0) for level, n in counts.items()}
    return counts


def last_id(conn: sqlite3.Connection) -> int:
    """Return the newest entry's id (0 when the log is empty): the live tail's starting cursor."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM app_log").fetchone()[0]


def tail(conn: sqlite3.Connection, since_id: int, filters: LogFilters,
         limit: int = defaults.APP_LOG_PAGE_SIZE) -> list[LogEntry]:
    """Return matching entries with id > since_id, oldest first (at most `limit`)."""
    where, args = _where(filters)
    rows = conn.execute(f"SELECT {_COLUMNS} FROM app_log WHERE id > ? AND {where} ORDER BY id LIMIT ?",
                        [int(since_id)] + args + [max(1, int(limit))]).fetchall()
    return [_entry(tuple(r)) for r in rows]


def sources(conn: sqlite3.Connection) -> list[str]:
    """Return every source seen so far, sorted."""
    return [r[0] for r in conn.execute("SELECT source FROM app_log_sources ORDER BY source")]


def format_ts(ts: float) -> str:
    """Return local time as "YYYY-MM-DD HH:MM:SS.mmm"."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def export_csv(conn: sqlite3.Connection, filters: LogFilters, out: TextIO,
               max_rows: int = defaults.APP_LOG_EXPORT_MAX_ROWS) -> int:
    """Write matching entries (newest first, at most max_rows) as CSV to `out`; return the row count."""
    where, args, _ = _plan(conn, filters)
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    n = 0
    for row in conn.execute(f"SELECT {_COLUMNS} FROM app_log WHERE {where} ORDER BY ts DESC, id DESC LIMIT ?",
                            args + [max(0, int(max_rows))]):
        e = _entry(tuple(row))
        writer.writerow((e.id, format_ts(e.ts), e.level, e.source, e.username or "", e.job_id or "",
                         e.address or "", _csv_safe(e.message)))
        n += 1
    return n


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas: a message is data, never something Excel should evaluate."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
