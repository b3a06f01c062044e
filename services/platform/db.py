"""SQLite access: WAL mode, a busy timeout, one connection per thread, numbered migrations.

Migrations are the files `services/migrations/NNNN_name.sql`, applied in order at start-up;
each one runs once (its number is recorded in `schema_migrations`), so re-running is safe.
"""
from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.platform import defaults, stored_paths

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_local = threading.local()


@functools.lru_cache(maxsize=64)
def _key(path: Path | str) -> str:
    """Return the resolved path (cached: resolving costs a few lstat calls, and every poll connects)."""
    return str(Path(path).resolve())


def connect(path: Path | str) -> sqlite3.Connection:
    """Return this thread's connection to the database at `path`, opening it on first use."""
    key = _key(path)
    conns: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    conn = conns.get(key)
    if conn is None:
        conn = _open(key)
        conns[key] = conn
    return conn


def _open(path: str) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN ourselves, so a read never holds a write lock.
    conn = sqlite3.connect(path, timeout=defaults.DB_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=True)
    _owner_only(path)  # before WAL: SQLite gives -wal and -shm the database file's mode
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {defaults.DB_BUSY_TIMEOUT_MS}")
    _set_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")  # durable across app crashes in WAL mode
    conn.execute("PRAGMA foreign_keys = ON")
    _add_path_functions(conn, Path(path).parent)
    return conn


def _add_path_functions(conn: sqlite3.Connection, data_dir: Path) -> None:
    """Give SQL `fd_abs(path)` and `fd_rel(path, job_id)`: rows keep paths relative to the data dir
    (the database's own folder), so a backup restored into another folder still finds its files."""
    conn.create_function("fd_abs", 1, functools.partial(stored_paths.to_absolute, data_dir), deterministic=True)
    conn.create_function("fd_rel", 2, lambda path, job_id: stored_paths.to_stored(data_dir, path, job_id),
                         deterministic=True)
    conn.create_function("fd_hide", 2, lambda text, job_id: text and stored_paths.hide(
        text, str(data_dir / "jobs" / str(job_id)), str(data_dir)), deterministic=True)


def _owner_only(path: str) -> None:
    """Make the database and its -wal/-shm files owner-only (they hold password and token hashes)."""
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, defaults.DB_FILE_MODE)
        except OSError:
            pass  # not there, or another user's file (root reading with a CLI): the owner's mode stays


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: the switch needs an exclusive lock and SQLite does not wait for it
    (no busy handler), so processes opening a new database together (web, worker, sampler) would fail."""
    deadline = time.monotonic() + defaults.DB_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def close_all() -> None:
    """Close this thread's connections (tests and forked workers call this)."""
    for conn in (getattr(_local, "conns", None) or {}).values():
        conn.close()
    _local.conns = {}


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction; IMMEDIATE takes the write lock up front (no upgrade deadlock)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrations() -> list[tuple[int, str, str]]:
    """Return (number, file name, SQL) for every migration file, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append((int(m.group(1)), path.name, path.read_text()))
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return found


def migrate(path: Path | str) -> list[str]:
    """Apply the migrations not yet applied to the database at `path`; return their names."""
    conn = connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                 "name TEXT NOT NULL, applied_at REAL NOT NULL)")
    applied = []
    for number, name, sql in migrations():
        with transaction(conn):
            # Checked inside the write lock: two processes starting together apply each file once.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (number,)).fetchone():
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, time.time()))
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would COMMIT our transaction)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip() and not buf.strip().startswith("--"):
        raise RuntimeError(f"incomplete SQL statement in migration: {buf[:80]!r}")
    return out
