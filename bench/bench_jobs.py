"""Job system figures: log ingestion, submit-to-running latency, claim throughput, dashboard reads.

    .venv/bin/python bench/bench_jobs.py [--quick]

Everything runs on a throw-away data dir in /tmp; nothing leaves the machine.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import jobs  # noqa: E402
from services.hosts import Host  # noqa: E402
from services.jobs import (
    JobState,  # noqa: E402
    joblog,  # noqa: E402
)
from services.people import users  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import Settings, load_settings  # noqa: E402
from services.running.executors.base import RunSpec  # noqa: E402
from services.running.executors.local import LocalExecutor  # noqa: E402
from services.running.worker import Worker  # noqa: E402

INPUT = {"name": "bench", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}
AF3_LINES = [
    "I1121 10:00:01.000900 140002 jackhmmer.py:185] Query sequence (non-sharded db): MSTEKLRQAVEDALGH... (len 32)",
    "Running data pipeline for chain A...",
    "W1121 10:00:02.000100 140001 pipeline.py:92] Template date is later than max date",
    "Running model inference with seed 1...",
    "some plain output line from a chatty tool with a few words in it",
    "Extracting 5 inference samples with seed 1 took 0.35 seconds.",
]


def fresh_settings(root: Path) -> Settings:
    s = load_settings(environ={}, dotenv=None, data_dir=root, secret_key="bench")
    db.migrate(s.db_path)
    return s


def make_user(conn, name: str, admin: bool = False) -> users.User:
    user = users.create_user(conn, name, "bench-password", users.Role.ADMIN if admin else users.Role.USER)
    users.accept_terms(conn, user.id)  # every submission needs the AlphaFold 3 terms accepted
    return user


def bench_ingest(s: Settings, n: int) -> None:
    conn = db.connect(s.db_path)
    job = jobs.submit(conn, s, make_user(conn, "ingest"), INPUT)
    lines = [AF3_LINES[i % len(AF3_LINES)] + f" #{i}" for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 5000):
        joblog.append_lines(conn, job.id, lines[i:i + 5000])
    dt = time.perf_counter() - t0
    print(f"log ingestion (append_lines, 5000-line batches): {n / dt:,.0f} lines/s ({n:,} lines in {dt:.2f} s)")
    t0 = time.perf_counter()
    for since in range(0, n, n // 50):
        joblog.read_log(conn, job.id, since, 1000)
    print(f"read_log(limit=1000) on a {n:,}-line log: {(time.perf_counter() - t0) / 50 * 1000:.2f} ms per read")
    t0 = time.perf_counter()
    joblog.level_counts(conn, job.id)
    joblog.error_tail(conn, job.id, 20)
    print(f"level_counts + error_tail: {(time.perf_counter() - t0) * 1000:.2f} ms")


def bench_chatty_process(s: Settings, n: int) -> None:
    """A real subprocess printing n lines, streamed through the local executor into the store."""
    conn = db.connect(s.db_path)
    job = jobs.submit(conn, s, make_user(conn, "chatty"), INPUT)
    script = (f"import sys\nw=sys.stdout.write\n"
              f"for i in range({n}): w('I1121 10:00:01.000900 1 x.py:1] line %d\\n' % i)\n")
    spec = RunSpec(job.id, 1, Path(job.input_path), s.jobs_dir / str(job.id) / "attempt-1",
                   f"{sys.executable} -c \"{script}\" {{input}} {{output}}")
    ex = LocalExecutor()
    t0 = time.perf_counter()
    ex.start(spec)
    while ex.poll() is None:
        if lines := ex.read_lines(0.1):
            joblog.append_lines(conn, job.id, lines)
    ex.close()
    dt = time.perf_counter() - t0
    got = joblog.last_seq(conn, job.id)
    print(f"chatty process -> executor -> log store: {got / dt:,.0f} lines/s ({got:,} lines in {dt:.2f} s)")


def bench_latency(s: Settings, rounds: int) -> None:
    s = s.with_overrides(af3_command="sleep 0.05; echo {input} {output}", local_slots=1)
    conn = db.connect(s.db_path)
    owner = make_user(conn, "latency")
    worker = Worker(s, concurrency=1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    waits = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        job = jobs.submit(conn, s, owner, INPUT)
        while jobs.get_job(conn, owner, job.id).state is JobState.QUEUED:
            time.sleep(0.002)
        waits.append(time.perf_counter() - t0)
        while not jobs.get_job(conn, owner, job.id).is_finished:
            time.sleep(0.01)
        time.sleep(0.05 + 0.4 * (len(waits) % 5) / 5)  # land at different points of the idle poll
    worker.stop()
    thread.join(10)
    print(f"submit -> running with a free slot: median {statistics.median(waits) * 1000:.0f} ms, "
          f"max {max(waits) * 1000:.0f} ms over {rounds} jobs")


def _claimer(db_path: str, data_dir: str, wid: str, out: mp.Queue) -> None:
    s = load_settings(environ={}, dotenv=None, data_dir=Path(data_dir), secret_key="bench")
    conn = db.connect(db_path)
    hosts = [Host(name="local", slots=10_000)]
    n = 0
    while (job := jobs.claim_job(conn, s, wid, hosts)) is not None:
        jobs.finish_attempt(conn, job, JobState.SUCCEEDED, exit_code=0)
        n += 1
    out.put(n)


def bench_claims(s: Settings, n: int) -> None:
    conn = db.connect(s.db_path)
    owners = [make_user(conn, f"claim{i}") for i in range(4)]
    for i in range(n):
        jobs.submit(conn, s, owners[i % 4], INPUT)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(str(s.db_path), str(s.data_dir), f"w{i}", out)) for i in range(4)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    counts = [out.get(timeout=300) for _ in procs]
    dt = time.perf_counter() - t0
    for p in procs:
        p.join()
    print(f"claim + finish with 4 worker processes: {sum(counts) / dt:,.0f} jobs/s ({sum(counts)} jobs, "
          f"per worker {counts}, includes process start)")


def bench_dashboard(s: Settings, total: int, mine: int) -> None:
    conn = db.connect(s.db_path)
    me = make_user(conn, "dash_me")
    others = [make_user(conn, f"dash{i}") for i in range(19)]
    states = ["succeeded", "failed", "cancelled", "queued", "running"]
    now = time.time()
    rows = []
    for i in range(total):
        owner = me if i % (total // mine) == 0 else others[i % 19]
        t = now - (total - i) * 60
        rows.append((owner.id, f"job {i}", states[i % 5] if i % 7 else "succeeded", f"/x/{i}", 100, t, t, t))
    with db.transaction(conn):
        conn.executemany("INSERT INTO jobs (owner_id, name, state, input_path, tokens, submitted_at, queued_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("ANALYZE")
    n_mine = conn.execute("SELECT COUNT(*) FROM jobs WHERE owner_id = ?", (me.id,)).fetchone()[0]
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        jobs.last_change(conn, me)
        jobs.state_counts(conn, me)
        jobs.list_jobs(conn, me, limit=50)
        jobs.list_jobs(conn, me, state="queued", limit=50)
        times.append(time.perf_counter() - t0)
    print(f"dashboard refresh (last_change + state_counts + 2x list_jobs) for a user with {n_mine} of "
          f"{total:,} jobs: median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")
    t0 = time.perf_counter()
    positions = jobs.queue_positions(conn)
    print(f"queue_positions over {len(positions):,} queued jobs: {(time.perf_counter() - t0) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    logging.getLogger("folddeck").setLevel(logging.ERROR)  # the latency jobs "fail" (no results); that is fine
    scale = 0.2 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        root = Path(tmp)
        bench_ingest(fresh_settings(root / "ingest"), int(500_000 * scale))
        bench_chatty_process(fresh_settings(root / "chatty"), int(300_000 * scale))
        bench_latency(fresh_settings(root / "latency"), 10 if args.quick else 20)
        bench_claims(fresh_settings(root / "claims"), int(2000 * scale))
        bench_dashboard(fresh_settings(root / "dash"), 20_000, 1_000)


if __name__ == "__main__":
    main()
