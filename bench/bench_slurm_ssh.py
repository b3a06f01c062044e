"""Slurm through a login node over SSH (issue 25): Slurm commands and SFTP operations per tick with 1, 50 and
200 FoldDeck jobs in Slurm, and the cost of one tracking tick, with the cluster reached only over SSH.

    bash tests/support/slurm_ci.sh start      # a real single-node Slurm on loopback (root, Debian 12)
    .venv/bin/python bench/bench_slurm_ssh.py [--quick]

The bench starts its own loopback sshd (tests/support/sshd_ci.sh) as the login node. The jobs are
real sbatch submissions over that session of FoldDeck's generated batch scripts, held (`--hold`)
so 200 of them fit a 2-CPU node, with their inputs copied up over SFTP (storage not shared);
every executor polls and reads its log as a worker's slot thread does. Without a running cluster
or sshd the bench says so and exits 0. Everything is cancelled at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
SSHD = ROOT / "tests" / "support" / "sshd_ci.sh"


def cluster_up() -> bool:
    try:
        return subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10).stdout.count("UP") > 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start_sshd(root: Path) -> dict:
    """Start a loopback sshd (the login node); return its connection facts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # A plain user, as a lab's service account is: root's shell start-up would dominate every command.
    env = dict(os.environ, SSHD_ROOT=str(root), SSHD_PORT=str(port), SSHD_USER="fdbench")
    out = subprocess.run(["bash", str(SSHD), "start"], env=env, check=True, capture_output=True, text=True).stdout
    return {**dict(line.split("=", 1) for line in out.split()), "env": env}


def setup(root: Path, facts: dict, n: int):
    settings = load_settings(environ={"FOLDDECK_KNOWN_HOSTS": facts["SSH_TEST_KNOWN_HOSTS"]}, dotenv=None,
                             data_dir=root / "data", secret_key="bench")
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    user = users.create_user(conn, "bench", "bench-password", users.Role.USER)
    users.accept_terms(conn, user.id)
    command = "sleep 600 # {input} {output}"
    (root / "cluster-side").mkdir(parents=True)
    (root / "cluster-side").chmod(0o1777)  # the service account's work dir on the cluster
    root.chmod(0o755)  # made under FoldDeck's own umask (027)
    host = Host(name="login", address=facts["SSH_TEST_HOST"], port=int(facts["SSH_TEST_PORT"]),
                user=facts["SSH_TEST_USER"], key_file=facts["SSH_TEST_KEY"], work_dir=str(root / "cluster-side"),
                slots=max(n, 1), af3_command=command, kind="slurm",
                slurm=SlurmConfig(sbatch_lines=("#SBATCH --hold",), shared_storage=False))
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
    return cluster, executors


def per_tick(root: Path, facts: dict, n: int, ticks: int) -> tuple[float, float, float, float]:
    """Return (squeue per tick, Slurm commands per tick, SFTP operations per tick, median tick ms, max tick ms)."""
    cluster, executors = setup(root, facts, n)
    try:
        cluster.calls.clear()
        ops0 = cluster.conn.file_ops
        costs = []
        for _ in range(ticks):
            t0 = time.perf_counter()
            cluster.refreshed_at = float("-inf")  # a tick is due: the first poll runs the squeue
            for ex in executors:  # every slot thread polls its job, and reads its output file
                ex.poll()
                ex.read_lines(0)
            costs.append((time.perf_counter() - t0) * 1000)
        assert all(isinstance(cluster.status(ex.slurm_id, 0), Queued) for ex in executors)
        assert cluster.conn.opened == 1
        return (cluster.calls["squeue"] / ticks, sum(cluster.calls.values()) / ticks,
                (cluster.conn.file_ops - ops0) / ticks,
                statistics.median(costs), max(costs))
    finally:
        ids = [str(ex.slurm_id) for ex in executors if ex.slurm_id]
        for i in range(0, len(ids), 500):
            cluster.run("scancel", *ids[i:i + 500], check=False)
        cluster.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 and 50 jobs only, 3 ticks")
    args = parser.parse_args()
    if not cluster_up():
        print("skipped: no Slurm controller answers (start one: bash tests/support/slurm_ci.sh start)")
        return 0
    if not Path("/usr/sbin/sshd").exists():
        print("skipped: openssh-server is not installed")
        return 0
    ticks = 3 if args.quick else 5
    sizes = (1, 50) if args.quick else (1, 50, 200)
    root = Path(tempfile.mkdtemp(prefix="bench-slurm-ssh-"))
    root.chmod(0o755)
    facts = start_sshd(root / "sshd")
    try:
        print(f"{'jobs in Slurm':>14} {'squeue/tick':>12} {'commands/tick':>14} {'SFTP ops/tick':>14} "
              f"{'tick ms (median)':>17} {'tick ms (max)':>14}")
        for n in sizes:
            squeue, calls, ops, med, worst = per_tick(root / f"n{n}", facts, n, ticks)
            print(f"{n:>14} {squeue:>12.1f} {calls:>14.1f} {ops:>14.1f} {med:>17.1f} {worst:>14.1f}")
    finally:
        subprocess.run(["bash", str(SSHD), "stop"], env=facts["env"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        db.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
