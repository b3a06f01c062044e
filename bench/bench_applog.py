"""Benchmark the application log at scale: filtered pages, counters, live-tail polls, the handler.

    .venv/bin/python bench/bench_applog.py [--rows 1000000] [--db /tmp/applog-bench.db]

Seeds a database with `--rows` realistic records (reused if the file already has them), then prints
median and p95 server-side times. Targets (issue 8): a filtered page < 50 ms, a tail poll < 5 ms.
"""
from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.platform import applog, db  # noqa: E402
from services.platform.applog import LogFilters  # noqa: E402

LEVELS = ["INFO"] * 80 + ["WARNING"] * 12 + ["ERROR"] * 6 + ["DEBUG"] * 1 + ["CRITICAL"] * 1
SOURCES = ["jobs"] * 50 + ["worker"] * 20 + ["auth"] * 15 + ["metrics"] * 10 + ["admin"] * 4 + ["web"]
VERBS = ["submitted", "started on gpu1", "succeeded", "failed: exit code 1", "cancel requested", "retried",
         "queued again", "progress 40%"]


def seed(path: Path, rows: int) -> None:
    """Fill the database with `rows` records spread over 90 days (ids in time order, as in life)."""
    db.migrate(path)
    conn = db.connect(path)
    have = conn.execute("SELECT COUNT(*) FROM app_log").fetchone()[0]
    if have >= rows:
        print(f"reusing {path} ({have:,} rows)")
        return
    rng = random.Random(8)
    start = time.time() - 90 * 86400
    step = 90 * 86400 / rows
    t0 = time.perf_counter()
    batch = []
    for i in range(have, rows):
        source, user = rng.choice(SOURCES), f"user{rng.randrange(200):03d}"
        job = rng.randrange(1, 50_000) if source in ("jobs", "worker") else None
        if source == "auth":
            ok = rng.random() < 0.9
            address = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"
            msg = f"login {'succeeded' if ok else 'failed'} for {user} from {address}"
            level = "INFO" if ok else "WARNING"
        else:
            msg, level = f"job {job} ({user}-fold-{rng.randrange(999)}) {rng.choice(VERBS)}", rng.choice(LEVELS)
        batch.append((start + i * step, level, source, user, job, None, msg))
        if len(batch) == 20_000:
            applog.write_rows(conn, batch)
            batch = []
    if batch:
        applog.write_rows(conn, batch)
    conn.execute("ANALYZE")
    print(f"seeded {rows - have:,} rows in {time.perf_counter() - t0:.1f} s "
          f"({(rows - have) / (time.perf_counter() - t0):,.0f} rows/s with the trigram index)")


def timed(fn, repeat: int) -> tuple[float, float]:
    """Return (median, p95) milliseconds of `fn()` over `repeat` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def bench_queries(path: Path, repeat: int) -> None:
    conn = db.connect(path)
    now = time.time()
    cases = {
        "no filter, page 1": (LogFilters(), 0),
        "no filter, page 50": (LogFilters(), 4900),
        "level ERROR": (LogFilters(levels=("ERROR",)), 0),
        "levels WARNING+ERROR+CRITICAL": (LogFilters(levels=("WARNING", "ERROR", "CRITICAL")), 0),
        "user's failed logins": (LogFilters(username="user042", source="auth", levels=("WARNING",)), 0),
        "one job": (LogFilters(job_id=12345), 0),
        "source worker, last 24 h": (LogFilters(source="worker", since=now - 86400), 0),
        "text common ('started')": (LogFilters(text="started"), 0),
        "text rare ('fold-998')": (LogFilters(text="fold-998"), 0),
        "text absent ('zzqx')": (LogFilters(text="zzqx"), 0),
        "text absent, common trigrams ('fold-9999')": (LogFilters(text="fold-9999"), 0),
        "user + text + 7 days": (LogFilters(username="user007", text="failed", since=now - 7 * 86400), 0),
        "time range 1 h, 30 days ago": (LogFilters(since=now - 30 * 86400, until=now - 30 * 86400 + 3600), 0),
    }
    print(f"\n{'filtered page (query: 100 rows + capped total)':<52} {'median':>8} {'p95':>8}  total")
    for name, (filters, offset) in cases.items():
        med, p95 = timed(lambda filters=filters, offset=offset: applog.query(conn, filters, offset, 100), repeat)
        total = applog.total_label(applog.query(conn, filters, offset, 100)[1])
        print(f"  {name:<50} {med:7.1f}ms {p95:7.1f}ms  {total}")
    print(f"\n{'level counters (5 capped counts)':<52} {'median':>8} {'p95':>8}")
    for name in ("no filter, page 1", "user's failed logins", "one job", "text rare ('fold-998')"):
        med, p95 = timed(lambda name=name: applog.level_counts(conn, cases[name][0]), repeat)
        print(f"  {name:<50} {med:7.1f}ms {p95:7.1f}ms")
    cursor = applog.last_id(conn)
    print(f"\n{'live-tail poll (tail since the newest id)':<52} {'median':>8} {'p95':>8}")
    for name in ("no filter, page 1", "user's failed logins", "text common ('started')"):
        med, p95 = timed(lambda name=name: applog.tail(conn, cursor, cases[name][0]), repeat * 5)
        print(f"  nothing new, {name:<37} {med:7.2f}ms {p95:7.2f}ms")
    med, p95 = timed(lambda: applog.tail(conn, cursor - 20, LogFilters()), repeat * 5)
    print(f"  {'20 new rows, no filter':<50} {med:7.2f}ms {p95:7.2f}ms")
    med, p95 = timed(lambda: applog.last_id(conn), repeat * 5)
    print(f"  {'last_id (cursor on page load)':<50} {med:7.2f}ms {p95:7.2f}ms")


def bench_handler(path: Path) -> None:
    """Time logging calls through the installed handler and the writer's throughput."""
    logger = logging.getLogger("folddeck.bench")
    logging.getLogger("folddeck").setLevel(logging.INFO)
    handler = applog.AppLogHandler(path)
    logger.addHandler(handler)
    logger.propagate = False
    n = 20_000
    t = time.perf_counter()
    for i in range(n):
        logger.info("bench record %d", i, extra={"source": "bench", "username": "user001", "job_id": i})
    emit = (time.perf_counter() - t) / n * 1e6
    handler.flush(60)
    total = time.perf_counter() - t
    handler.close()
    print(f"\nhandler: {emit:.1f} µs per logging call (the request's cost); "
          f"{n:,} records on disk after {total:.2f} s ({n / total:,.0f} records/s); dropped {handler.dropped}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/folddeck-bench-applog/folddeck.db"))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    seed(args.db, args.rows)
    bench_queries(args.db, args.repeat)
    bench_handler(args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
