"""REST API and outbox figures: job status and an idle log poll next to an empty route, and how
long a finished job's mail takes to reach a real SMTP server.

    .venv/bin/python bench/bench_api.py [--quick]

In-process (Flask test client, no network), on a throw-away data dir in /tmp. The empty route is
registered under /api/v1 so it passes the same gate with the same token: the difference is the
API's own work (rate-limit bucket, job read, log read).
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import jobs  # noqa: E402
from services.jobs import joblog  # noqa: E402
from services.notify.prefs import NotifyPrefs, set_prefs  # noqa: E402
from services.notify.sender import Sender  # noqa: E402
from services.people import api_tokens, users  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402

INPUT = {"name": "bench", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def timed(client, path: str, headers: dict, n: int) -> list[float]:
    """Return the latency in ms of n GETs (each must answer 200)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:200])
    return out


def _submit(conn, settings, owner):
    return jobs.submit(conn, settings, owner, INPUT, accept_terms=True)


def bench_requests(root: Path, n: int) -> None:
    from flask import jsonify

    from dash_app import create_app

    settings = load_settings(environ={}, dotenv=None, data_dir=root / "req", secret_key="bench",
                             api_rate_per_minute=1_000_000)  # the bucket is written on every request, never empty
    app = create_app(settings)
    logging.getLogger("folddeck").setLevel(logging.WARNING)  # create_app sets the configured level
    app.server.add_url_rule("/api/v1/_bench_empty", "bench_empty", lambda: jsonify({}))
    conn = db.connect(settings.db_path)
    alice = users.create_user(conn, "alice", "bench-password")
    secret = api_tokens.create_token(conn, alice.id, "bench", "read")[1]
    job = _submit(conn, settings, alice)
    joblog.append_lines(conn, job.id, [f"line {i}" for i in range(5000)])
    last = joblog.last_seq(conn, job.id)
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.server.test_client()
    for path in ("/api/v1/_bench_empty", f"/api/v1/jobs/{job.id}", f"/api/v1/jobs/{job.id}/log?since={last}"):
        timed(client, path, headers, 50)  # warm up
    rounds = {"empty route": [], "job status": [], "log poll, nothing new": []}
    for _ in range(5):  # interleaved, so machine load hits all three alike
        rounds["empty route"] += timed(client, "/api/v1/_bench_empty", headers, n // 5)
        rounds["job status"] += timed(client, f"/api/v1/jobs/{job.id}", headers, n // 5)
        rounds["log poll, nothing new"] += timed(client, f"/api/v1/jobs/{job.id}/log?since={last}", headers, n // 5)
    base = statistics.median(rounds["empty route"])
    print(f"API requests (Flask test client, token auth through the gate, {n} each):")
    for name, values in rounds.items():
        print(f"  {name:<24} p50 {statistics.median(values):6.2f} ms   p95 {pct(values, 95):6.2f} ms   "
              f"{statistics.median(values) / base:4.2f}x the empty route")
    ratio = statistics.median(rounds["log poll, nothing new"]) / base
    print(f"  idle log poll / empty route = {ratio:.2f}x (target <= 2x): {'OK' if ratio <= 2 else 'OVER'}")


def bench_outbox(root: Path, runs: int) -> None:
    from aiosmtpd.controller import Controller

    arrived: list[float] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            arrived.append(time.time())
            return "250 OK"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings = load_settings(environ={}, dotenv=None, data_dir=root / "mail", secret_key="bench",
                             smtp_host="127.0.0.1", smtp_port=port, smtp_security="plain")
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    admin = users.create_user(conn, "admin", "bench-password", users.Role.ADMIN)
    alice = users.create_user(conn, "alice", "bench-password")
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    sender = Sender(settings)  # the default 1 s poll, as `make run` starts it
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    latencies = []
    try:
        for i in range(runs):
            job = _submit(conn, settings, alice)
            t0 = time.time()
            jobs.cancel_job(conn, admin, job.id)  # the state change (queued -> cancelled by an admin)
            deadline = time.time() + 30
            while len(arrived) <= i and time.time() < deadline:
                time.sleep(0.005)
            latencies.append(arrived[i] - t0)
            time.sleep(0.37 * (i % 3))  # land at different points of the sender's poll cycle
    finally:
        sender.stop()
        thread.join(5)
        controller.stop()
    print(f"Outbox delivery, state change -> SMTP accepted ({runs} mails, sender polling every "
          f"{sender.poll:g} s): p50 {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
          f"(target < 5 s): {'OK' if max(latencies) < 5 else 'OVER'}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    logging.getLogger("folddeck").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="folddeck-bench-api-") as tmp:
        bench_requests(Path(tmp), 500 if args.quick else 2000)
        bench_outbox(Path(tmp), 5 if args.quick else 10)
        from services.platform import applog

        applog.flush()  # before the data dir goes away
    return 0


if __name__ == "__main__":
    sys.exit(main())
