"""The application log: a logging handler that stores FoldDeck's events in SQLite, and its queries.

`install(settings)` puts one `AppLogHandler` on the "folddeck" logger. `emit()` only builds a row
and puts it on a queue; a background thread writes the rows in batches (one transaction per
burst), so a request that logs never waits for the database. Records carry optional `extra`
fields: `source` (else the logger name after "folddeck."), `username`, `job_id`, `address`.

Reads (`query`, `level_counts`, `tail`, `export_csv`) take a `LogFilters`; totals are capped at
`defaults.APP_LOG_COUNT_CAP` so a page over a million rows stays cheap ("10,000+").
"""
from __future__ import annotations

import csv
import json
import logging
import os
import queue
import re
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TextIO

from services import defaults
from services.db import transaction
from services.errors import InvalidInput
from services.settings import Settings

ROOT_LOGGER = "folddeck"
_ADDRESS_IN_MESSAGE = re.compile(r"\bfrom (\S+?)(?::|$|\s)")
MIN_TEXT_CHARS = 3  # the trigram index cannot answer shorter terms, and a scan of 1M rows takes ~250 ms
_install_lock = threading.Lock()


class Level(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class LogEntry:
    id: int
    ts: float
    level: str
    source: str
    username: str | None
    job_id: int | None
    address: str | None
    message: str


@dataclass(frozen=True)
class LogFilters:
    """What to show; empty fields do not filter. `since`/`until` are unix seconds, inclusive."""

    levels: tuple[str, ...] = ()
    source: str | None = None
    username: str | None = None
    job_id: int | None = None
    text: str | None = None
    since: float | None = None
    until: float | None = None


_COLUMNS = "id, ts, level, source, username, job_id, address, message"
CSV_HEADER = ("id", "time", "level", "source", "user", "job", "address", "message")


# -- writing ------------------------------------------------------------------------------------


def record_row(record: logging.LogRecord) -> tuple:
    """Return the app_log row (ts, level, source, username, job_id, address, message) for a record."""
    source = getattr(record, "source", None) or _source_from_name(record.name)
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    address = getattr(record, "address", None)
    if address is None and source == "auth":
        # users.py names the address only in the message ("login failed for x from 1.2.3.4: ...").
        m = _ADDRESS_IN_MESSAGE.search(message)
        address = m.group(1) if m else None
    job_id = getattr(record, "job_id", None)
    return (record.created, record.levelname, str(source), getattr(record, "username", None) or None,
            int(job_id) if job_id is not None else None, address,
            message[: defaults.APP_LOG_MAX_MESSAGE_CHARS])


def _source_from_name(name: str) -> str:
    """Return "metrics" for "folddeck.metrics.ssh", "app" for "folddeck" itself."""
    if name.startswith(ROOT_LOGGER + "."):
        return name.split(".")[1]
    return "app" if name in ("", ROOT_LOGGER) else name


def write_rows(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Insert app_log rows in one transaction and remember their sources."""
    with transaction(conn):
        conn.executemany("INSERT INTO app_log (ts, level, source, username, job_id, address, message) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT OR IGNORE INTO app_log_sources (source) VALUES (?)",
                         [(s,) for s in {r[2] for r in rows}])


class _Flush:
    """A marker the writer sets once every record queued before it is in the database."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class AppLogHandler(logging.Handler):
    """Queue records and write them to SQLite from a background thread, in batches."""

    def __init__(self, db_path: Path | str, retention_days: int | None = None, *,
                 queue_max: int = defaults.APP_LOG_QUEUE_MAX):
        super().__init__(level=logging.NOTSET)
        self.db_path = Path(db_path).resolve()
        self.retention_days = retention_days
        self.queue_max = queue_max
        self.dropped = 0  # records lost because the queue was full or the database refused them
        self._pid = -1
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._complained = False

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record; never wait for the database."""
        if self._closed:
            return
        try:
            row = record_row(record)
            self._ensure_writer()
            self._queue.put_nowait(row)
        except queue.Full:
            self.dropped += 1
        except Exception:  # a logging handler must not raise into the caller
            self.handleError(record)

    def _ensure_writer(self) -> None:
        """Start the writer thread in this process, again after a fork or if it died."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != os.getpid():  # after a fork the queue holds the parent's records
                self._queue = queue.Queue(maxsize=self.queue_max)
            self._thread = threading.Thread(target=self._run, name="applog-writer", daemon=True)
            self._pid = os.getpid()
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record emitted so far is in the database; False on timeout."""
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, stop the writer and detach (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                self._queue.put(_STOP)
                self._thread.join(10)
        super().close()

    # -- the writer thread --

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        next_prune = 0.0
        stop = False
        while not stop:
            rows, markers, stop = self._take_batch()
            try:
                conn = conn or _open_writer(self.db_path)
                if rows:
                    self._write(conn, rows)
                if self.retention_days and time.time() >= next_prune:
                    next_prune = time.time() + defaults.APP_LOG_PRUNE_EVERY_S
                    prune(conn, time.time() - self.retention_days * 86400)
            except sqlite3.Error as exc:
                self._complain(f"application log: cannot write to {self.db_path}: {exc}")
                self.dropped += len(rows)
                conn = _close_quietly(conn)
            for marker in markers:
                marker.done.set()
        _close_quietly(conn)

    def _take_batch(self) -> tuple[list[tuple], list[_Flush], bool]:
        """Block for the first item, then take what else is waiting (up to a batch)."""
        rows: list[tuple] = []
        markers: list[_Flush] = []
        try:
            item = self._queue.get(timeout=defaults.APP_LOG_PRUNE_EVERY_S)
        except queue.Empty:
            return rows, markers, False
        while True:
            if item is _STOP:
                return rows, markers, True
            (markers if isinstance(item, _Flush) else rows).append(item)
            if len(rows) >= defaults.APP_LOG_BATCH_MAX:
                return rows, markers, False
            try:
                item = self._queue.get_nowait()  # whatever piled up while we wrote: that is the batching
            except queue.Empty:
                return rows, markers, False

    def _write(self, conn: sqlite3.Connection, rows: list[tuple]) -> None:
        try:
            write_rows(conn, rows)
        except sqlite3.OperationalError:
            time.sleep(0.2)  # one retry covers a writer that held the lock past our busy timeout
            write_rows(conn, rows)

    def _complain(self, message: str) -> None:
        """Say once on stderr that records are being lost (logging it would loop back here)."""
        if not self._complained:
            self._complained = True
            print(message, file=sys.stderr)


def _open_writer(path: Path) -> sqlite3.Connection:
    if not path.parent.is_dir():
        raise sqlite3.OperationalError(f"folder {path.parent} does not exist")
    conn = sqlite3.connect(str(path), timeout=defaults.DB_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {defaults.DB_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _close_quietly(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
    return None


def install(settings: Settings) -> AppLogHandler:
    """Attach the application-log handler for `settings` to the "folddeck" logger; idempotent.

    A handler for another database (tests build many apps) is closed and replaced.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    path = Path(settings.db_path).resolve()
    with _install_lock:
        for handler in list(logger.handlers):
            if isinstance(handler, AppLogHandler):
                if handler.db_path == path and not handler._closed:
                    return handler
                logger.removeHandler(handler)
                handler.close()
        handler = AppLogHandler(path, settings.app_log_retention_days)
        handler._ensure_writer()  # start now, not inside the first request that logs
        logger.addHandler(handler)
    return handler


def installed() -> AppLogHandler | None:
    """Return the handler on the "folddeck" logger, if any."""
    return next((h for h in logging.getLogger(ROOT_LOGGER).handlers if isinstance(h, AppLogHandler)), None)


def flush(timeout: float = 10.0) -> bool:
    """Wait until the installed handler has written what was logged so far (tests, exports)."""
    handler = installed()
    return handler.flush(timeout) if handler else True


def log_unhandled(exception: BaseException, *, path: str, username: str | None, address: str | None) -> None:
    """Record an exception no one handled while serving `path` (the web layer calls this)."""
    logging.getLogger(ROOT_LOGGER + ".web").error(
        "unhandled error serving %s: %s", path, exception,
        exc_info=(type(exception), exception, exception.__traceback__),
        extra={"source": "web", "username": username, "address": address})


# -- reading ------------------------------------------------------------------------------------


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


def prune(conn: sqlite3.Connection, older_than: float) -> int:
    """Delete entries logged before `older_than` (unix seconds) in small batches; return how many."""
    deleted = 0
    while True:
        with transaction(conn):
            n = conn.execute("DELETE FROM app_log WHERE id IN (SELECT id FROM app_log WHERE ts < ? LIMIT 5000)",
                             (older_than,)).rowcount
        deleted += n
        if n < 5000:
            return deleted


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


# -- erasure ------------------------------------------------------------------------------------

_RENAMED = re.compile(r"^job \d+ renamed from ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") to ")
_MIN_RAW_NAME_CHARS = 3  # shorter job names are replaced only where quoted or in brackets: "a" is in every word


def pseudonymise(conn: sqlite3.Connection, username: str, job_names: dict[int, str], alias: str) -> int:
    """Put `alias` for a user's name and "job #<id>" for their job names in every entry; return how many changed.

    The user's own entries (their name in `username`, or one of their jobs) get the name replaced
    wherever it stands as a word; every other entry only where it is quoted (admins' audit lines).
    Job names (including the ones a rename logged) go in the entries of that job. Run it in the
    transaction that erases the account, after `flush()` so queued records are in the table.
    """
    ids = json.dumps(list(job_names))
    like = "%" + username.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute("SELECT id, username, job_id, message FROM app_log WHERE username = ? "
                        "OR job_id IN (SELECT value FROM json_each(?)) OR message LIKE ? ESCAPE '\\'",
                        (username, ids, like)).fetchall()
    names = _logged_names(rows, job_names)
    word = re.compile(rf"(?<![\w.@-]){re.escape(username)}(?![\w@-])")
    changed = 0
    for row_id, who, job_id, message in rows:
        new = message
        for name in names.get(job_id, ()):
            new = new.replace(repr(name), f"'job #{job_id}'").replace(f"({name})", f"(job #{job_id})")
            if len(name) >= _MIN_RAW_NAME_CHARS:
                new = new.replace(name, f"job #{job_id}")
        for quoted in (repr(username), f'"{username}"'):
            new = new.replace(quoted, repr(alias))
        if who == username or job_id in job_names:
            new = word.sub(alias, new)
        if new != message or who == username:
            conn.execute("UPDATE app_log SET message = ?, username = CASE WHEN username = ? THEN ? ELSE username END "
                         "WHERE id = ?", (new, username, alias, row_id))
            changed += 1
    return changed


def _logged_names(rows: list, job_names: dict[int, str]) -> dict[int, list[str]]:
    """Return every name each job had (now, and before each logged rename), longest first."""
    import ast

    names = {job_id: {name} for job_id, name in job_names.items() if name}
    for _, _, job_id, message in rows:
        if job_id in names and (m := _RENAMED.match(message)):
            try:
                names[job_id].add(ast.literal_eval(m.group(1)))
            except (ValueError, SyntaxError):
                pass
    return {job_id: sorted(found, key=len, reverse=True) for job_id, found in names.items()}


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas: a message is data, never something Excel should evaluate."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
