import threading

from services.platform import db


def test_migrations_apply_once_and_rerun_cleanly(tmp_path):
    path = tmp_path / "x.db"
    first = db.migrate(path)
    assert first and first[0] == "0001_users.sql"
    assert db.migrate(path) == []
    conn = db.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(versions) and len(versions) == len(first)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close_all()


def test_one_connection_per_thread(tmp_path):
    path = tmp_path / "x.db"
    db.migrate(path)
    mine = db.connect(path)
    assert db.connect(path) is mine
    other = []
    t = threading.Thread(target=lambda: other.append(db.connect(path)))
    t.start(), t.join()
    assert other[0] is not mine


def test_concurrent_migrations_from_two_threads(tmp_path):
    path = tmp_path / "x.db"
    results = []

    def run():
        results.append(db.migrate(path))
        db.close_all()

    threads = [threading.Thread(target=run) for _ in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    applied = [name for r in results for name in r]
    assert len(applied) == len(set(applied))  # each migration applied exactly once
