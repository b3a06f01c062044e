"""Writing the application log: a logging handler that queues FoldDeck's records and a background thread
that stores them in SQLite in batches (one transaction per burst), pruning past the retention.

`install(settings)` puts one `AppLogHandler` on the "folddeck" logger. `emit()` only builds a row and
puts it on a queue, so a request that logs never waits for the database. Records carry optional
`extra` fields: `source` (else the logger name after "folddeck."), `username`, `job_id`, `address`.
"""
from __future__ import annotations

import logging
import os
import queue
import re
import sqlite3
import sys
import threading
import time
from pathlib import Path

from services.platform import defaults
from services.platform.db import transaction
from services.platform.settings import Settings

ROOT_LOGGER = "folddeck"
_ADDRESS_IN_MESSAGE = re.compile(r"\bfrom (\S+?)(?::|$|\s)")
_install_lock = threading.Lock()


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
