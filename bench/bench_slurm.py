"""Slurm host figures (issue 15): Slurm commands per tick with 1, 50 and 200 FoldDeck jobs in Slurm,
submit -> running on a free node, and the cost of one tracking tick with 200 jobs.

    bash tests/support/slurm_ci.sh start      # a real single-node Slurm on loopback (root, Debian 12)
    .venv/bin/python bench/bench_slurm.py [--quick]

The jobs are real sbatch submissions of FoldDeck's generated batch scripts, held (`--hold`) so
200 of them fit a 2-CPU node; every executor polls as a worker's slot thread does. Without a
running cluster the bench says so and exits 0. Everything is cancelled at the end.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import jobs  # noqa: E402
from services.hosts import Host, SlurmConfig  # noqa: E402
from services.people import users  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402
from services.running.executors.base import RunSpec  # noqa: E402
from services.running.executors.slurm import SlurmExecutor  # noqa: E402
from services.running.executors.slurm_cluster import Cluster, Queued  # noqa: E402

INPUT = {"name": "bench", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def cluster_up() -> bool:
    try:
        return subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10).stdout.count("UP") > 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def setup(root: Path, n: int, hold: bool, command: str = "sleep 600 # {input} {output}"):
    settings = load_settings(environ={}, dotenv=None, data_dir=root / "data", secret_key="bench")
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    user = users.create_user(conn, "bench", "bench-password", users.Role.USER)
    users.accept_terms(conn, user.id)
    host = Host(name="cluster", work_dir=str(root / "shared"), slots=max(n, 1), af3_command=command, kind="slurm",
                slurm=SlurmConfig(sbatch_lines=("#SBATCH --hold",) if hold else ()))
    cluster = Cluster(host, settings)
    for _ in range(n):
        jobs.submit(conn, settings, user, INPUT)
    executors = []
    for _ in range(n):
        job = jobs.claim_job(conn, settings, "bench", [host])
        ex = SlurmExecutor(host, settings, shared=cluster)
        ex.start(RunSpec(job.id, job.attempts, jobs.input_file(settings, job),
                         settings.jobs_dir / str(job.id) / "attempt-1", command))
        executors.append(ex)
    return settings, cluster, executors


def per_tick(root: Path, n: int, ticks: int) -> tuple[float, float, float]:
    """Return (Slurm commands per tick, median tick ms, max tick ms) with n FoldDeck jobs in Slurm."""
    _, cluster, executors = setup(root, n, hold=True)
    try:
        cluster.calls.clear()
        costs = []
        for _ in range(ticks):
            t0 = time.perf_counter()
            cluster.refreshed_at = float("-inf")  # a tick is due: the first poll runs the squeue
            for ex in executors:  # every slot thread polls its job, and reads its output file
                ex.poll()
                ex.read_lines(0)
            costs.append((time.perf_counter() - t0) * 1000)
        assert all(isinstance(cluster.status(ex.slurm_id, 0), Queued) for ex in executors)
        return sum(cluster.calls.values()) / ticks, statistics.median(costs), max(costs)
    finally:
        cancel(executors)


def submit_to_running(root: Path) -> tuple[float, float]:
    """Return (seconds from sbatch to Slurm's RUNNING, seconds until FoldDeck's poll saw it) on a free node."""
    _, cluster, executors = setup(root, 1, hold=False)
    ex = executors[0]
    try:
        t_sbatch = ex.since
        slurm_at = None
        while time.monotonic() - t_sbatch < 30:
            got = ex.cluster.status(ex.slurm_id, ex.since)
            if isinstance(got, Queued) and got.state == "RUNNING":
                return (slurm_at or time.monotonic()) - t_sbatch, time.monotonic() - t_sbatch
            if slurm_at is None:
                state = subprocess.run(["squeue", "-h", "-j", str(ex.slurm_id), "-o", "%T"], capture_output=True,
                                       text=True).stdout.strip()
                if state == "RUNNING":
                    slurm_at = time.monotonic()
            time.sleep(0.02)
        raise RuntimeError("the job did not start within 30 s (is the node idle?)")
    finally:
        cancel(executors)


def cancel(executors) -> None:
    ids = [str(ex.slurm_id) for ex in executors if ex.slurm_id]
    for i in range(0, len(ids), 500):
        subprocess.run(["scancel", *ids[i:i + 500]], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 and 50 jobs only, 3 ticks")
    args = parser.parse_args()
    if not cluster_up():
        print("skipped: no Slurm controller answers (start one: bash tests/support/slurm_ci.sh start)")
        return 0
    ticks = 3 if args.quick else 5
    sizes = (1, 50) if args.quick else (1, 50, 200)
    root = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    try:
        print(f"{'jobs in Slurm':>14} {'commands/tick':>14} {'tick ms (median)':>17} {'tick ms (max)':>14}")
        for n in sizes:
            calls, med, worst = per_tick(root / f"n{n}", n, ticks)
            print(f"{n:>14} {calls:>14.1f} {med:>17.1f} {worst:>14.1f}")
        slurm_s, seen_s = submit_to_running(root / "start")
        print(f"submit -> RUNNING in Slurm {slurm_s:.2f} s; seen by FoldDeck {seen_s:.2f} s "
              f"(one squeue per {1.0:.0f} s tick)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        db.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
