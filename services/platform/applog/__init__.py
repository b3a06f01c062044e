"""The application log: a logging handler that stores FoldDeck's events in SQLite, and its queries.

Modules, each one noun:
    entries   levels, one entry, the filters a reader asks with
    handler   writing: `install(settings)` puts one `AppLogHandler` on the "folddeck" logger; rows are
              written in batches by a background thread, so a request that logs never waits
    queries   reading: `query`, `level_counts`, `tail`, `export_csv` (totals capped, "10,000+")
    erasure   `pseudonymise`: a user's name and job names out of the log when their data is deleted

The public names are re-exported here: callers write `from services import applog; applog.query(...)`.
"""
from __future__ import annotations

from services.platform.applog.entries import CSV_HEADER, Level, LogEntry, LogFilters
from services.platform.applog.erasure import pseudonymise
from services.platform.applog.handler import (
    ROOT_LOGGER,
    AppLogHandler,
    flush,
    install,
    installed,
    log_unhandled,
    prune,
    record_row,
    write_rows,
)
from services.platform.applog.queries import (
    MIN_TEXT_CHARS,
    export_csv,
    format_ts,
    last_id,
    level_counts,
    query,
    sources,
    tail,
    total_label,
)

__all__ = [
    "CSV_HEADER", "MIN_TEXT_CHARS", "ROOT_LOGGER", "AppLogHandler", "Level", "LogEntry", "LogFilters", "export_csv",
    "flush", "format_ts", "install", "installed", "last_id", "level_counts", "log_unhandled", "prune", "pseudonymise",
    "query", "record_row", "sources", "tail", "total_label", "write_rows",
]
