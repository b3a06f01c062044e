"""The application log: the handler (fields, non-blocking, concurrent writers, fork-free), queries,
counters, live tail, retention and CSV export, on a real SQLite database."""
from __future__ import annotations

import csv
import io
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from services.people import users
from services.platform import applog, db, defaults
from services.platform.applog import LogFilters
from services.platform.errors import InvalidInput
from tests.conftest import ROOT, USER_PASSWORD

log = logging.getLogger("folddeck.test")


@pytest.fixture
def handler(settings):
    """The application-log handler installed for `settings`, the folddeck logger at DEBUG."""
    root = logging.getLogger("folddeck")
    old_level = root.level
    root.setLevel(logging.DEBUG)
    h = applog.install(settings)
    yield h
    root.removeHandler(h)
    h.close()
    root.setLevel(old_level)


def rows(conn, where="1 = 1", args=()):
    return [dict(r) for r in conn.execute(f"SELECT * FROM app_log WHERE {where} ORDER BY id", args)]


def seed(conn, entries):
    """Insert (ts, level, source, username, job_id, address, message) rows directly."""
    applog.write_rows(conn, list(entries))


def test_handler_stores_fields_from_extra_and_logger_name(handler, conn):
    log.info("plain %s", "event")
    logging.getLogger("folddeck.metrics.ssh").warning("host gpu1 down", extra={"job_id": None})
    logging.getLogger("folddeck.jobs").error("job 7 failed", extra={"source": "jobs", "username": "alice",
                                                                     "job_id": 7})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("folddeck").exception("unexpected")
    assert handler.flush()
    got = rows(conn)
    assert [(r["level"], r["source"], r["username"], r["job_id"]) for r in got] == [
        ("INFO", "test", None, None), ("WARNING", "metrics", None, None), ("ERROR", "jobs", "alice", 7),
        ("ERROR", "app", None, None)]
    assert got[0]["message"] == "plain event"
    assert "Traceback" in got[3]["message"] and "ValueError: boom" in got[3]["message"]
    assert abs(got[0]["ts"] - time.time()) < 30
    assert applog.sources(conn) == ["app", "jobs", "metrics", "test"]


def test_logins_are_recorded_with_address(handler, conn):
    assert users.authenticate(conn, "alice", "wrong-password", "10.1.2.3") is None
    assert users.authenticate(conn, "alice", USER_PASSWORD, "10.1.2.4") is not None
    assert handler.flush()
    got = rows(conn, "source = 'auth'")
    assert [(r["level"], r["username"], r["address"]) for r in got] == [
        ("WARNING", "alice", "10.1.2.3"), ("INFO", "alice", "10.1.2.4")]
    assert "wrong password" in got[0]["message"]


def test_emit_does_not_wait_for_a_locked_database(handler, settings, conn):
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        start = time.perf_counter()
        for i in range(2000):
            log.info("while locked %d", i)
        elapsed = time.perf_counter() - start
    finally:
        other.execute("COMMIT")
        other.close()
    assert elapsed < 1.0, f"2000 log calls took {elapsed:.2f} s with the database locked"
    assert handler.flush()
    assert conn.execute("SELECT COUNT(*) FROM app_log WHERE message LIKE 'while locked %'").fetchone()[0] == 2000


def test_full_queue_drops_instead_of_blocking(settings, conn):
    h = applog.AppLogHandler(settings.db_path, queue_max=10)
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        record = logging.LogRecord("folddeck.test", logging.INFO, __file__, 1, "r", None, None)
        for _ in range(200):
            h.emit(record)
        assert h.dropped > 0
    finally:
        other.execute("COMMIT")
        other.close()
    assert h.flush()
    h.close()
    written = conn.execute("SELECT COUNT(*) FROM app_log").fetchone()[0]
    assert written + h.dropped == 200 and written >= 10


WRITER = textwrap.dedent("""
    import logging, sys
    from services.platform import applog
    from services.platform.settings import load_settings
    from pathlib import Path
    settings = load_settings(environ={}, dotenv=None, data_dir=Path(sys.argv[1]))
    logging.getLogger("folddeck").setLevel(logging.INFO)
    applog.install(settings)
    for i in range(int(sys.argv[3])):
        logging.getLogger("folddeck.bench").info("%s %d", sys.argv[2], i, extra={"username": sys.argv[2]})
""")  # exits without flushing: logging.shutdown at exit must write the queue


def test_concurrent_writers_threads_and_processes_lose_nothing(handler, settings, conn):
    n = 1500
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(settings.data_dir), f"proc{k}", str(n)], cwd=ROOT)
             for k in range(2)]

    def thread_writer(k):
        for i in range(n):
            log.info("thread%d %d", k, i, extra={"username": f"thread{k}"})

    threads = [threading.Thread(target=thread_writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(60) for p in procs] == [0, 0]
    assert handler.flush()
    for writer in ("proc0", "proc1", "thread0", "thread1", "thread2"):
        messages = [r[0] for r in conn.execute("SELECT message FROM app_log WHERE username = ? ORDER BY id",
                                               (writer,))]
        assert messages == [f"{writer} {i}" for i in range(n)], writer  # all there, each writer in order
    assert handler.dropped == 0


def test_install_is_idempotent_and_follows_the_database(handler, settings, tmp_path):
    assert applog.install(settings) is handler
    assert sum(isinstance(h, applog.AppLogHandler) for h in logging.getLogger("folddeck").handlers) == 1
    other = settings.with_overrides(data_dir=tmp_path / "other")
    db.migrate(other.db_path)
    replacement = applog.install(other)
    try:
        assert replacement is not handler and handler._closed
        log.warning("to the other one")
        assert replacement.flush()
        assert db.connect(other.db_path).execute("SELECT message FROM app_log").fetchall()[0][0] == "to the other one"
    finally:
        logging.getLogger("folddeck").removeHandler(replacement)
        replacement.close()


@pytest.fixture
def sample(conn):
    """A small log: 3 levels, 3 sources, 2 users, jobs, spread over 10 hours."""
    t0 = 1_700_000_000.0
    entries = []
    for i in range(300):
        level = ("INFO", "INFO", "WARNING", "ERROR")[i % 4]
        source = ("jobs", "auth", "admin")[i % 3]
        user = ("alice", "bob", None)[i % 3]
        entries.append((t0 + i * 120, level, source, user, i % 10 if source == "jobs" else None, None,
                        f"event {i} {'needle' if i % 50 == 0 else 'hay'} Mixed"))
    seed(conn, entries)
    return t0


def test_query_filters_pages_newest_first(conn, sample):
    page, total = applog.query(conn, LogFilters(), 0, 10)
    assert total == 300 and [e.message.split()[1] for e in page] == [str(i) for i in range(299, 289, -1)]
    page2, _ = applog.query(conn, LogFilters(), 10, 10)
    assert page2[0].message.startswith("event 289 ")
    assert applog.query(conn, LogFilters(levels=("ERROR",)), 0, 500)[1] == 75
    assert applog.query(conn, LogFilters(levels=("ERROR", "WARNING")), 0, 500)[1] == 150
    jobs, total = applog.query(conn, LogFilters(source="jobs", job_id=3), 0, 500)
    assert total == 10 and all(e.source == "jobs" and e.job_id == 3 for e in jobs)
    assert applog.query(conn, LogFilters(username="ALICE"), 0, 500)[1] == 100  # names are case-insensitive
    window = LogFilters(since=sample + 120 * 10, until=sample + 120 * 19)
    assert [e.id for e in applog.query(conn, window, 0, 500)[0]] == list(range(20, 10, -1))
    both, total = applog.query(conn, LogFilters(username="alice", levels=("INFO",), since=sample + 120 * 100), 0, 500)
    assert total == len(both) == 33 and all(e.username == "alice" and e.level == "INFO" for e in both)


@pytest.mark.parametrize("text, expected", [
    ("needle", 6),  # rare: answered from the trigram index
    ("NEEDLE", 6),  # case-insensitive either way
    ("hay", 294),  # common: LIKE scan
    ("mixed", 300),
    ("nt 1", 111),  # spans a space: 1, 10-19, 100-199
    ("50%", 0),  # LIKE wildcards are literal
    ('"x"', 0),  # FTS syntax is literal
    ("needle OR hay", 0),
])
def test_text_search_is_a_case_insensitive_substring(conn, sample, text, expected, monkeypatch):
    monkeypatch.setattr(defaults, "APP_LOG_COUNT_CAP", 200)  # so "hay" and "mixed" take the LIKE path
    got, total = applog.query(conn, LogFilters(text=text), 0, 1000)
    assert len(got) == expected and total == min(expected, 201)
    assert all(text.lower() in e.message.lower() for e in got)


def test_totals_and_counts_are_capped(conn, sample, monkeypatch):
    monkeypatch.setattr(defaults, "APP_LOG_COUNT_CAP", 100)
    _, total = applog.query(conn, LogFilters(), 0, 10)
    assert total == 101 and applog.total_label(total) == "100+" and applog.total_label(42) == "42"
    counts = applog.level_counts(conn, LogFilters())
    assert counts == {"DEBUG": 0, "INFO": 101, "WARNING": 75, "ERROR": 75, "CRITICAL": 0}
    assert applog.level_counts(conn, LogFilters(username="bob", levels=("ERROR",))) == {
        "DEBUG": 0, "INFO": 0, "WARNING": 0, "ERROR": 25, "CRITICAL": 0}


def test_bad_filters_are_refused(conn, sample):
    with pytest.raises(InvalidInput, match="Unknown level"):
        applog.query(conn, LogFilters(levels=("LOUD",)))
    with pytest.raises(InvalidInput, match="at least 3 characters"):
        applog.query(conn, LogFilters(text=" e "))
    with pytest.raises(InvalidInput, match="after its end"):
        applog.query(conn, LogFilters(since=10, until=5))


def test_tail_returns_only_new_matching_entries(conn, sample):
    cursor = applog.last_id(conn)
    assert cursor == 300 and applog.tail(conn, cursor, LogFilters()) == []
    seed(conn, [(sample + 99_999, "WARNING", "auth", "alice", None, "10.0.0.9", "login failed for alice"),
                (sample + 99_999, "INFO", "jobs", "bob", 1, None, "job 1 submitted")])
    new = applog.tail(conn, cursor, LogFilters(username="alice"))
    assert [(e.id, e.message, e.address) for e in new] == [(301, "login failed for alice", "10.0.0.9")]
    assert [e.id for e in applog.tail(conn, cursor, LogFilters())] == [301, 302]
    assert [e.id for e in applog.tail(conn, cursor, LogFilters(), limit=1)] == [301]


def test_prune_removes_old_entries_and_their_search_index(conn, sample):
    assert applog.prune(conn, sample + 120 * 100) == 100
    assert tuple(conn.execute("SELECT MIN(id), COUNT(*) FROM app_log").fetchone()) == (101, 200)
    assert applog.query(conn, LogFilters(text="needle"), 0, 100)[1] == 4  # 100, 150, 200, 250
    conn.execute("INSERT INTO app_log_fts(app_log_fts) VALUES ('integrity-check')")  # raises if out of step


def test_handler_prunes_by_retention(settings, conn):
    seed(conn, [(time.time() - 10 * 86400, "INFO", "app", None, None, None, "ancient"),
                (time.time() - 3600, "INFO", "app", None, None, None, "recent")])
    h = applog.AppLogHandler(settings.db_path, retention_days=7)
    h.emit(logging.LogRecord("folddeck", logging.INFO, __file__, 1, "now", None, None))
    assert h.flush()
    h.close()
    assert [r["message"] for r in rows(conn)] == ["recent", "now"]


def test_export_csv_writes_the_filtered_view(conn, sample):
    seed(conn, [(sample, "ERROR", "web", "alice", None, "1.2.3.4", "=HYPERLINK(\"x\")\nsecond line")])
    out = io.StringIO()
    n = applog.export_csv(conn, LogFilters(username="alice", levels=("ERROR",)), out)
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0] == list(applog.CSV_HEADER) and n == len(table) - 1 == 26
    formula = [row for row in table if row[3] == "web"][0]
    assert formula[7] == "'=HYPERLINK(\"x\")\nsecond line" and formula[6] == "1.2.3.4"
    assert all(row[2] == "ERROR" and row[4] == "alice" for row in table[1:])
    assert applog.export_csv(conn, LogFilters(), io.StringIO(), max_rows=5) == 5


def test_a_dead_writer_thread_is_replaced_and_nothing_queued_is_lost(settings, conn):
    """If something kills the writer (a test runner's thread killer, an async exception), the next
    record starts a new one and the records still queued are written."""
    handler = applog.AppLogHandler(settings.db_path)
    handler._ensure_writer()
    first = handler._thread
    handler._queue.put(applog.handler._STOP)  # the writer exits as on close(), without closing the handler
    first.join(5)
    assert not first.is_alive()
    logger = logging.getLogger("folddeck.test-dead-writer")
    logger.addHandler(handler)
    try:
        logger.warning("after the writer died", extra={"source": "test"})
        assert handler.flush(5) and handler._thread is not first
    finally:
        logger.removeHandler(handler)
        handler.close()
    rows = conn.execute("SELECT message FROM app_log WHERE message = 'after the writer died'").fetchall()
    assert len(rows) == 1
