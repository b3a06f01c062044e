"""FoldDeck's polls side by side with an empty Dash callback (bench/floor_app.py) under the same gunicorn.

    .venv/bin/python bench/bench_polls.py [--clients 8] [--seconds 5] [--rounds 3] [--running 400]
                                          [--browsers 1000] [--browser-seconds 20] [--skip-browsers]
                                          [--rates 400,800,...] [--step-seconds 8] [--only NAME]

Seeds a fresh data dir with realistic data (400 users, 20,000 jobs, 300 queued, `--running` running
on 4 hosts with 8 GPUs each, a sampler snapshot), starts FoldDeck and the floor app with the
gunicorn settings `make run` uses, and logs in over HTTP. The callback bodies are built the way
dash-renderer builds them: from `/_dash-dependencies` and the values in the page layout the pages
router returned, following the cursors each response sends back.

1. Hammer: `--clients` processes post one target's body for `--seconds`, first against the floor
   then against FoldDeck (the order alternates per round), `--rounds` times. Each target prints
   p50 and p95 as floor / FoldDeck / ratio (medians over the rounds) next to its target.
2. Cold dashboard load (bench/cold_load.py): every byte headless Chromium's network log counts for
   a first visit with an empty cache, the AG Grid chunk and the icon font included; then a second
   visit.
3. Many browsers and capacity (bench/capacity.py): `--browsers` simulated browsers with the real mix
   (60 % dashboard every 3 s, 25 % job console every 1.5 s, 15 % status every 5 s, each page's toast
   poll every 10 s; a sampler snapshot every 5 s and a job's progress moving every second), then the
   offered poll rate raised through `--rates`, FoldDeck and the floor interleaved, until each one's
   p95 passes 100 ms; prints both rates and their ratio.

The client runs on the same machine as the servers: on a small box, figures include its share.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import capacity  # noqa: E402
import cold_load  # noqa: E402
from dash_client import ME, PASSWORD, Client, Poll, open_page, run_initial  # noqa: E402

from dash_app.__main__ import WEB_THREADS, WEB_WORKERS  # noqa: E402
from services import jobs  # noqa: E402
from services.jobs import joblog  # noqa: E402
from services.metrics.model import Disk, Gpu, HostSnapshot  # noqa: E402
from services.metrics.store import SnapshotStore, cache_dir  # noqa: E402
from services.platform import db, defaults  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402

HOSTS = ["local", "gpu1", "gpu2", "gpu3"]


# -- seeding -------------------------------------------------------------------------------------


def seed(data_dir: Path, n_users: int, n_jobs: int, n_queued: int, n_running: int) -> dict:
    """Fill a fresh data dir; return what the clients need (the console job's id)."""
    from werkzeug.security import generate_password_hash

    settings = load_settings(environ={}, dotenv=None, data_dir=data_dir)
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    pw = generate_password_hash(PASSWORD)  # one hash for all: hashing 400 passwords would take a minute
    now = time.time()
    with db.transaction(conn):
        conn.execute("INSERT INTO users (username, password_hash, role, session_token, created_at) "
                     "VALUES ('admin', ?, 'admin', ?, ?)", (pw, secrets.token_hex(16), now))
        conn.executemany("INSERT INTO users (username, password_hash, role, session_token, created_at) "
                         "VALUES (?, ?, 'user', ?, ?)",
                         [(f"u{i:03d}", pw, secrets.token_hex(16), now) for i in range(n_users)])
    ids = [r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'user' ORDER BY username")]
    rng = random.Random(12)
    rows = []
    for i in range(n_jobs):
        age = n_jobs - i  # the newest jobs are the queued and running ones
        owner = ids[i % len(ids)]
        t = now - age * 40.0
        if age <= n_queued:
            state, started, finished, stage, progress = "queued", None, None, "", 0.0
        elif age <= n_queued + n_running:
            state, started, finished = "running", t + 5, None
            stage, progress = "inference", rng.random()
        else:
            state = rng.choices(["succeeded", "failed", "cancelled"], [85, 10, 5])[0]
            started, finished, stage, progress = t + 5, t + 600, {"succeeded": "done"}.get(state, state), 1.0
        host = HOSTS[i % len(HOSTS)] if started else None
        rows.append((owner, f"job-{i:05d}", state, "", rng.randint(50, 2500), t, t, started, finished,
                     finished or started or t, host, stage, progress, "" if state != "failed" else "exit 1"))
    with db.transaction(conn):
        conn.executemany("INSERT INTO jobs (owner_id, name, state, input_path, tokens, submitted_at, queued_at, "
                         "started_at, finished_at, updated_at, host, stage, progress, error) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    me = ids[0]
    # the console job: one of ME's running jobs with a long log
    job_id = conn.execute("SELECT id FROM jobs WHERE owner_id = ? ORDER BY state = 'running' DESC, id DESC LIMIT 1",
                          (me,)).fetchone()[0]
    conn.execute("UPDATE jobs SET state = 'running', started_at = ?, finished_at = NULL WHERE id = ?", (now, job_id))
    line = "I1121 21:10:26.672333 140000069013505 jackhmmer.py:185] Query sequence (non-sharded db): MSTEKLRQ..."
    for _ in range(10):
        joblog.append_lines(conn, job_id, [line] * 10_000)
    publish_snapshot(settings)
    db.close_all()
    return {"job_id": job_id, "settings": settings}


def publish_snapshot(settings) -> int:
    """Write one sampler tick (4 hosts, 8 GPUs each, the job board) into the store; return its seq."""
    now = time.time()
    snaps = []
    for h in HOSTS:
        gpus = [Gpu(i, "NVIDIA A100-SXM4-80GB", f"GPU-{h}-{i}", 87.0, 61_000.0, 81_920.0, 64.0, 310.0, 400.0)
                for i in range(8)]
        snaps.append(HostSnapshot(host=h, ts=now, cpu_percent=37.5, mem_used_bytes=300 * 2**30,
                                  mem_total_bytes=1024 * 2**30, disks=[Disk("/", 1 * 2**40, 2 * 2**40)], gpus=gpus))
    store = SnapshotStore(cache_dir(settings.data_dir))
    try:
        return store.put(snaps, now, jobs.job_board(db.connect(settings.db_path)))
    finally:
        store.close()


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app: str, env: dict) -> tuple[subprocess.Popen, int]:
    """Start `app` under gunicorn with make run's workers and threads; return it once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "python:dash_app.gunicorn_conf",
                             "--workers", str(WEB_WORKERS), "--threads",
                             str(WEB_THREADS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                             "--backlog", "4096", app], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/_dash-dependencies")
            conn.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{app} did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


# -- the hammer --------------------------------------------------------------------------------------


def _hammer_worker(port: int, headers: dict, body: bytes, until: float, q) -> None:
    lat, errors, codes = [], 0, {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < until:
        t = time.perf_counter()
        try:
            conn.request("POST", "/_dash-update-component", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            codes[r.status] = codes.get(r.status, 0) + 1
            if r.status >= 400:
                errors += 1
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        lat.append((time.perf_counter() - t) * 1000)
    q.put((lat, errors, codes))


def hammer(port: int, headers: dict, body: dict, clients: int, seconds: float) -> dict:
    """Post `body` from `clients` processes for `seconds`; return p50/p95 ms, requests and errors."""
    q = multiprocessing.Queue()
    until = time.time() + seconds
    procs = [multiprocessing.Process(target=_hammer_worker, args=(port, headers, json.dumps(body).encode(), until, q))
             for _ in range(clients)]
    for p in procs:
        p.start()
    lat, errors, codes = [], 0, {}
    for _ in procs:
        lt, er, cd = q.get()
        lat += lt
        errors += er
        for k, v in cd.items():
            codes[k] = codes.get(k, 0) + v
    for p in procs:
        p.join()
    lat.sort()
    return {"p50": lat[len(lat) // 2] if lat else float("nan"),
            "p95": lat[int(len(lat) * 0.95)] if lat else float("nan"), "n": len(lat), "errors": errors,
            "codes": codes}


# -- many browsers (bench/capacity.py) and the writers meanwhile -----------------------------------


def churn(settings, stop: threading.Event) -> None:
    """What the worker and sampler write meanwhile: a job's progress each second, a snapshot every 5 s."""
    conn = db.connect(settings.db_path)
    running = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE state = 'running'")]
    last_snap = 0.0
    while not stop.wait(1.0):
        if running:
            conn.execute("UPDATE jobs SET progress = ? WHERE id = ?", (random.random(), random.choice(running)))
        if time.time() - last_snap >= settings.sample_interval:
            publish_snapshot(settings)
            last_snap = time.time()
    db.close_all()


# -- main ----------------------------------------------------------------------------------------------


def median_of(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--users", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--queued", type=int, default=300)
    ap.add_argument("--running", type=int, default=400)
    ap.add_argument("--browsers", type=int, default=1000)
    ap.add_argument("--browser-seconds", type=float, default=20.0)
    ap.add_argument("--skip-browsers", action="store_true")
    ap.add_argument("--rates", default="400,800,1200,1600,2000,2500,3000,3600",
                    help="offered poll rates (polls/s) the capacity search steps through")
    ap.add_argument("--step-seconds", type=float, default=8.0)
    ap.add_argument("--only", default="", help="comma-separated target names to hammer (default: all)")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-polls-"))
    t = time.perf_counter()
    seeded = seed(data_dir, args.users, args.jobs, args.queued, args.running)
    settings = seeded["settings"]
    print(f"seeded {args.users} users, {args.jobs:,} jobs ({args.queued} queued, {args.running} running) "
          f"in {time.perf_counter() - t:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    env = {"FOLDDECK_DATA_DIR": str(data_dir), "FOLDDECK_LOG_LEVEL": "WARNING",
           "FOLDDECK_SECRET_KEY": secrets.token_hex(32)}
    fd, fd_port = start_server("dash_app.wsgi:server", env)
    fl, fl_port = start_server("bench.floor_app:server", {})
    try:
        run(args, settings, seeded, fd_port, fl_port)
    finally:
        stop_server(fd)
        stop_server(fl)


def run(args, settings, seeded: dict, fd_port: int, fl_port: int) -> None:
    me = Client(fd_port)
    deps = json.loads(me.request("GET", "/_dash-dependencies")[2])
    floor = Client(fl_port, login=False)
    floor_deps = json.loads(floor.request("GET", "/_dash-dependencies")[2])
    floor_poll = Poll(floor_deps, {}, "floor-interval")

    dash_layout = open_page(me, deps, "/")
    dash_poll = Poll(deps, dash_layout, "dashboard-interval")
    job_layout = open_page(me, deps, f"/jobs/{seeded['job_id']}")
    job_poll = Poll(deps, job_layout, "job-interval")
    status_layout = open_page(me, deps, "/status")
    status_poll = Poll(deps, status_layout, "status-interval")
    status_poll.follow(run_initial(me, deps, status_layout, "status-chart"))
    toast_poll = Poll(deps, json.loads(me.request("GET", "/_dash-layout")[2]), "toast-tick")
    status_poll.values[("status-cursor", "data")]["seq"] = -1  # one tick as if the sampler had moved: cards now
    for poll in (dash_poll, job_poll, status_poll, toast_poll):  # as a browser does: the first polls catch up
        for _ in range(20):
            status, data = me.post_json(poll.body())
            if status == 204:
                break
            poll.follow(data)
    targets = {name: (poll, goal) for name, poll, goal in polls_to_time(deps, dash_poll, status_poll, job_poll,
                                                                       args.running)}
    if args.only:
        targets = {k: v for k, v in targets.items() if any(o.strip() in k for o in args.only.split(","))}
    for name, (poll, _) in targets.items():  # one request each first: a wrong body fails here, not in the hammer
        status, _ = me.post_json(poll.body())
        assert status in (200, 204), f"{name}: HTTP {status}"
    print(f"\nhammer: {args.clients} clients x {args.seconds:g} s, {args.rounds} interleaved rounds; "
          f"gunicorn {WEB_WORKERS} workers x {WEB_THREADS} threads each side; load average {os.getloadavg()[0]:.1f}")
    print(f"{'target':<52}{'p50 floor / FoldDeck / ratio':>32}{'p95 floor / FoldDeck / ratio':>32}  target  errors")
    for name, (poll, goal) in targets.items():
        hammer_target(args, name, poll, goal, (fl_port, floor.headers(), floor_poll), (fd_port, me.headers()))

    print()
    print("\n".join(cold_load.report(cold_load.measure(f"http://127.0.0.1:{fd_port}", ME, PASSWORD))))
    if args.skip_browsers:
        return
    sessions = [me.headers()] + [Client(fd_port).headers() for _ in range(7)]
    mix = [(dash_poll, defaults.DASHBOARD_POLL_MS / 1000)] * 12 + [(job_poll, defaults.CONSOLE_POLL_MS / 1000)] * 5 \
        + [(status_poll, settings.sample_interval)] * 3
    toast = (toast_poll, defaults.TOAST_POLL_MS / 1000)
    floor_mix = [(floor_poll, i) for _, i in mix]
    sides = {"floor": {"port": fl_port, "sessions": [floor.headers()], "polls": floor_mix,
                       "toast": (floor_poll, toast[1])},
             "FoldDeck": {"port": fd_port, "sessions": sessions, "polls": mix, "toast": toast}}
    stop, writer = threading.Event(), None

    def before(name):
        nonlocal stop, writer
        if name == "FoldDeck":  # the worker and sampler write meanwhile
            stop = threading.Event()
            writer = threading.Thread(target=churn, args=(settings, stop), daemon=True)
            writer.start()

    def after(name):
        if name == "FoldDeck":
            stop.set()
            writer.join()

    rate = args.browsers * capacity.per_browser_rate(mix, toast)
    print(f"\n{args.browsers} browsers ({rate:.0f} polls/s offered: 60 % dashboard / 3 s, 25 % console / 1.5 s, "
          f"15 % status / 5 s, each with its toast poll / 10 s) for {args.browser_seconds:g} s; "
          f"load average {os.getloadavg()[0]:.1f}")
    fixed = capacity.knee(sides, [rate], args.browser_seconds, before, after)
    print(f"  target: p95 < 100 ms and no errors: "
          f"{'OK' if capacity._passes(fixed['FoldDeck']['steps'][0]) else 'MISSED'}")
    rates = [float(r) for r in args.rates.split(",")]
    print(f"\ncapacity: offered poll rate raised step by step ({args.step_seconds:g} s each, sides interleaved), "
          f"same mix; load average {os.getloadavg()[0]:.1f}")
    found = capacity.knee(sides, rates, args.step_seconds, before, after)
    fd, fl = found["FoldDeck"]["knee"], found["floor"]["knee"]
    say = lambda k: f"{k:.0f} polls/s" if k is not None else f"beyond {rates[-1]:.0f} polls/s"  # noqa: E731
    ratio = f"{fd / fl:.2f}" if fd is not None and fl else "n/a (a side never passed 100 ms: raise --rates)"
    print(f"  p95 passes 100 ms at: floor {say(fl)}, FoldDeck {say(fd)}; FoldDeck / floor = {ratio} "
          f"(target >= 0.80: {'OK' if fd is not None and fl and fd / fl >= 0.8 else 'MISSED'}); "
          f"load average {os.getloadavg()[0]:.1f}")


def polls_to_time(deps, dash_poll: Poll, status_poll: Poll, job_poll: Poll, running: int) -> list[tuple]:
    """Return (name, poll, (p50 goal, p95 goal)) of each poll the hammer times."""
    def with_cursor(poll: Poll, key: tuple, **change) -> Poll:
        copy = Poll.__new__(Poll)
        copy.dep, copy.interval, copy.values = poll.dep, poll.interval, dict(poll.values)
        copy.values[key] = {**poll.values[key], **change}
        return copy

    dkey, skey = ("dashboard-cursor", "data"), ("status-cursor", "data")
    rows = dash_poll.values[dkey]["rows"].split(",")
    one_row = ",".join([rows[0].split(":")[0] + ":0", *rows[1:]])  # the top job moved on: its row and the counts
    cards = status_poll.values[skey]["cards"]
    return [
        # the hammer's body is fixed: a cursor whose run-time minute never turns keeps it the nothing-new tick
        ("dashboard tick, unchanged", with_cursor(dash_poll, dkey, until=None), (2, 2)),
        ("dashboard tick, one job changed (row + counts)", with_cursor(dash_poll, dkey, jobs=-1, rows=one_row,
                                                                       counts="x"), (2, 3)),
        ("dashboard tick, page sent whole (stale view)", with_cursor(dash_poll, dkey, jobs=-1, view="x"), (None, None)),
        (f"status tick, new snapshot, one card changed ({running} run.)",
         with_cursor(status_poll, skey, seq=-1, cards=["x", *cards[1:]]), (2, 2)),
        ("status tick, new snapshot, every card changed", with_cursor(status_poll, skey, seq=-1, cards=None),
         (2, 2)),
        ("job console poll, no new lines", job_poll, (2, 2)),
    ]


def hammer_target(args, name: str, poll: Poll, goal: tuple, floor_side: tuple, fd_side: tuple) -> None:
    """Hammer the floor and one FoldDeck poll in interleaved rounds; print medians, ratios and the goal."""
    rounds_fl, rounds_fd = [], []
    fl_port, fl_headers, floor_poll = floor_side
    for r in range(args.rounds):
        order = [("fl", fl_port, fl_headers, floor_poll), ("fd", fd_side[0], fd_side[1], poll)]
        for side, port, headers, p in (order if r % 2 == 0 else order[::-1]):
            res = hammer(port, headers, p.body(), args.clients, args.seconds)
            (rounds_fl if side == "fl" else rounds_fd).append(res)
    line, met = f"{name:<52}", []
    for q, limit in zip(("p50", "p95"), goal, strict=True):
        f, d = median_of(rounds_fl, q), median_of(rounds_fd, q)
        ratio = statistics.median(b[q] / a[q] for a, b in zip(rounds_fl, rounds_fd, strict=True))
        line += f"{f:>12.1f} / {d:>6.1f} / {ratio:>4.1f}x"
        if limit is not None:
            met.append(ratio <= limit)
    want = "/".join(f"{g}x" for g in goal) if goal[0] is not None else "-"
    verdict = ("OK" if all(met) else "MISSED") if met else ""
    codes: dict = {}
    for res in rounds_fd:
        for k, v in res["codes"].items():
            codes[k] = codes.get(k, 0) + v
    print(f"{line}  {want:>7} {verdict:<6}  {sum(x['errors'] for x in rounds_fd)} (HTTP {codes})", flush=True)


if __name__ == "__main__":
    main()
