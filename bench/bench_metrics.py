"""Metrics benchmarks; prints figures (run as root: starts a throw-away sshd on loopback).

    .venv/bin/python bench/bench_metrics.py [--ticks 20]

1. one sampler tick, local + 3 SSH hosts (target < 100 ms wall)
2. persistent SSH connection vs a new connection per tick, same host, same run (ratio)
3. chart queries for a host with 8 GPUs: 15 min ... 30 d (target: 24 h < 50 ms)
4. history storage per host per year with the default tiers (MB), 0 and 8 GPUs
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.hosts import Host, local_host  # noqa: E402
from services.metrics import history  # noqa: E402
from services.metrics.collect_ssh import SshCollector  # noqa: E402
from services.metrics.model import Disk, Gpu, HostSnapshot, series  # noqa: E402
from services.operations.sampler import Sampler  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402

SCRIPT = ROOT / "tests" / "support" / "sshd_ci.sh"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(root: Path) -> tuple[dict, dict]:
    """Start sshd_ci.sh with a plain (non-root) user; return (facts, env)."""
    env = dict(os.environ, SSHD_ROOT=str(root), SSHD_PORT=str(free_port()),
               SSHD_USER=os.environ.get("BENCH_SSHD_USER", "fdbench"), FAKE_GPUS="8")
    out = subprocess.run(["bash", str(SCRIPT), "start"], env=env, check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split()), env


def ms(values: list[float]) -> str:
    """Return 'median / p95 / max' in ms."""
    q = sorted(values)
    return f"median {statistics.median(q):7.2f} ms   p95 {q[int(0.95 * (len(q) - 1))]:7.2f} ms   max {q[-1]:7.2f} ms"


def bench_tick(facts: dict, tmp: Path, ticks: int) -> None:
    settings = load_settings(environ={}, dotenv=None, data_dir=tmp / "data",
                             known_hosts=Path(facts["SSH_TEST_KNOWN_HOSTS"]))
    db.migrate(settings.db_path)
    hosts = [local_host(settings)] + [
        Host(name=f"gpu{i}", address=facts["SSH_TEST_HOST"], port=int(facts["SSH_TEST_PORT"]),
             user=facts["SSH_TEST_USER"], key_file=facts["SSH_TEST_KEY"]) for i in range(3)]
    sampler = Sampler(settings, hosts=hosts)
    sampler.tick()  # connect (the persistent connections are opened once, not per tick)
    walls, per_host = [], {h.name: [] for h in hosts}
    t0 = time.time()
    for i in range(ticks):
        r = sampler.tick(now=t0 + 5 * (i + 1))
        walls.append(r.wall_ms)
        assert all(s.up for s in r.snaps), [s.reason for s in r.snaps if not s.up]
        for s in r.snaps:
            per_host[s.host].append(s.collect_ms or 0.0)
        time.sleep(0.2)
    sampler.close()
    print(f"[1] sampler tick, local + 3 SSH hosts (8 fake GPUs each), {ticks} ticks:")
    print(f"    wall   {ms(walls)}   (target < 100 ms)")
    for name, values in per_host.items():
        print(f"    {name:6s} collect {ms(values)}")


def bench_persistent(facts: dict, ticks: int) -> None:
    host = Host(name="gpu", address=facts["SSH_TEST_HOST"], port=int(facts["SSH_TEST_PORT"]),
                user=facts["SSH_TEST_USER"], key_file=facts["SSH_TEST_KEY"])
    known = Path(facts["SSH_TEST_KNOWN_HOSTS"])
    results = {}
    for persistent in (True, False):
        c = SshCollector(host, known, persistent=persistent)
        c.collect()
        times = []
        for _ in range(ticks):
            t = time.perf_counter()
            snap = c.collect()
            times.append((time.perf_counter() - t) * 1000)
            assert snap.up, snap.reason
        c.close()
        results[persistent] = times
    p, n = statistics.median(results[True]), statistics.median(results[False])
    print(f"[2] one host, {ticks} ticks each, same run:")
    print(f"    persistent connection     {ms(results[True])}")
    print(f"    new connection per tick   {ms(results[False])}")
    print(f"    ratio (new / persistent, medians) = {n / p:.1f}x")


def fake_series(ts: int, gpus: int, rng: random.Random) -> str:
    snap = HostSnapshot(host="h", ts=ts, cpu_percent=rng.uniform(0, 100), mem_used_bytes=rng.randint(1, 500) * 2**30,
                        mem_total_bytes=512 * 2**30, swap_used_bytes=rng.randint(0, 8) * 2**30,
                        swap_total_bytes=8 * 2**30, disks=[Disk("/", rng.randint(1, 99), 100), Disk("/data", 40, 100)],
                        gpus=[Gpu(i, "H100", f"GPU-{i}", util=rng.uniform(0, 100), mem_used_mib=rng.uniform(0, 81559),
                                  mem_total_mib=81559, temp_c=rng.uniform(30, 85), power_w=rng.uniform(60, 700),
                                  power_limit_w=700) for i in range(gpus)])
    return json.dumps(series(snap), separators=(",", ":"))


def fill_year(conn, host: str, gpus: int, now: int, ret: history.Retention) -> None:
    """Write what one host accumulates under the default tiers: 24 h raw, 30 d minutes, 365 d hours."""
    rng = random.Random(gpus)

    def avg_like(ts: int) -> str:
        """Return a rollup-shaped row: rollups carry 2 decimals."""
        values = json.loads(fake_series(ts, gpus, rng))
        return json.dumps({k: round(v + 0.01, 2) for k, v in values.items()}, separators=(",", ":"))

    with db.transaction(conn):
        for tier, step, keep in ((0, int(ret.raw_step_s), ret.raw_s), (1, 60, ret.minute_s), (2, 3600, ret.hour_s)):
            start = (now - int(keep)) // step * step
            make = (lambda ts: fake_series(ts, gpus, rng)) if tier == 0 else avg_like
            conn.executemany("INSERT INTO metric_samples (tier, host, ts, data) VALUES (?, ?, ?, ?)",
                             ((tier, host, ts, make(ts)) for ts in range(start, now, step)))


def bench_history(tmp: Path) -> None:
    ret = history.Retention()
    now = int(time.time())
    sizes = {}
    for gpus in (0, 8):
        path = tmp / f"hist{gpus}.db"
        db.migrate(path)
        conn = db.connect(path)
        fill_year(conn, f"h{gpus}", gpus, now, ret)
        rows = conn.execute("SELECT count(*) FROM metric_samples").fetchone()[0]
        conn.execute("VACUUM")
        base = tmp / "empty.db"
        db.migrate(base)
        sizes[gpus] = ((path.stat().st_size - base.stat().st_size) / 1e6, rows)
        if gpus == 8:
            print("[3] chart query, host with 8 GPUs (all series, <= 1000 points each), 20 runs:")
            for label, span in (("15 min", 900), ("1 h", 3600), ("6 h", 21600), ("24 h", 86400), ("7 d", 7 * 86400),
                                ("30 d", 30 * 86400)):
                times = []
                for _ in range(20):
                    t = time.perf_counter()
                    h = history.query(conn, "h8", span, now, ret)
                    times.append((time.perf_counter() - t) * 1000)
                points = max(len(x) for x, _ in h.series.values())
                print(f"    {label:6s} tier {h.tier.name:6s} {len(h.series):2d} series x {points:4d} pts   {ms(times)}")
    print("[4] history storage per host per year, default tiers (24 h raw @ 5 s, 30 d minutes, 365 d hours):")
    for gpus, (mb, rows) in sizes.items():
        print(f"    {gpus} GPUs: {rows} rows, {mb:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tmp.chmod(0o755)  # the non-root sshd user must reach authorized_keys inside it
        facts, env = start_sshd(tmp / "sshd")
        try:
            print(f"(sshd on 127.0.0.1:{facts['SSH_TEST_PORT']}, user {facts['SSH_TEST_USER']}, {os.cpu_count()} CPUs)")
            bench_tick(facts, tmp, args.ticks)
            bench_persistent(facts, args.ticks)
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop"], env=env, check=False, capture_output=True)
        bench_history(tmp)


if __name__ == "__main__":
    main()
