"""Bench the dashboard and job page through the real server path (Flask test client POSTing
/_dash-update-component), each next to an empty Dash callback on the same server in the same run.

    .venv/bin/python bench/bench_pages.py [--lines 1000000] [--jobs 20000]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dash import Input, Output, html  # noqa: E402

from dash_app.components import console as cons  # noqa: E402
from services import jobs  # noqa: E402
from services.jobs import joblog  # noqa: E402
from services.people import users  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402
from tests.conftest import login  # noqa: E402

AF3 = {"name": "bench", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}


def timed(fn, n: int) -> tuple[float, int, int]:
    """Return (median ms, bytes of the last response, status) over n calls of fn()."""
    times, r = [], None
    for _ in range(n):
        t = time.perf_counter()
        r = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), len(r.data), r.status_code


def seed(conn, settings, n_jobs: int, n_lines: int):
    """Fill the database: n_jobs jobs (1,000 alice's), one of them with n_lines log lines."""
    alice = users.get_by_name(conn, "alice")
    others = [users.create_user(conn, f"user{i}", "pw-password-1", users.Role.USER) for i in range(19)]
    now = time.time()
    rows = [((alice if i % 20 == 0 else others[i % 19]).id, f"job-{i}", now - n_jobs + i) for i in range(n_jobs)]
    with db.transaction(conn):
        conn.executemany("INSERT INTO jobs (owner_id, name, state, input_path, tokens, submitted_at, queued_at, "
                         "updated_at) VALUES (?, ?, 'succeeded', '', 3, ?, ?, ?)",
                         [(o, n, t, t, t) for o, n, t in rows])
    big = jobs.submit(conn, settings, alice, AF3, name="million-lines")
    text = "I1121 21:10:26.672333 140000069013505 jackhmmer.py:185] Query sequence (non-sharded db): MSTEKLRQ..."
    for start in range(0, n_lines, 20_000):
        joblog.append_lines(conn, big.id, [text] * min(20_000, n_lines - start))
    return big


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    settings = load_settings(environ={}, dotenv=None, data_dir=data)
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    users.accept_terms(conn, users.create_user(conn, "alice", "user-password-1", users.Role.USER).id)
    t = time.perf_counter()
    big = seed(conn, settings, args.jobs, args.lines)
    print(f"seeded {args.jobs:,} jobs and {args.lines:,} log lines in {time.perf_counter() - t:.1f} s")

    from dash_app import create_app

    app = create_app(settings)
    app.callback(Output("bench-empty-out", "children"), Input("bench-empty-in", "n_clicks"))(lambda n: "")
    client = app.server.test_client()
    assert login(client, "alice", "user-password-1").status_code == 302
    client.get("/")  # a page load sets the CSRF cookie
    headers = {"X-CSRFToken": client.get_cookie("_csrf_token").value}

    def post(payload):
        return client.post("/_dash-update-component", json=payload, headers=headers)

    empty = {"output": "bench-empty-out.children", "outputs": {"id": "bench-empty-out", "property": "children"},
             "inputs": [{"id": "bench-empty-in", "property": "n_clicks", "value": 1}], "state": [],
             "changedPropIds": ["bench-empty-in.n_clicks"]}
    base_ms, base_bytes, _ = timed(lambda: post(empty), args.repeat)
    print(f"empty callback: {base_ms:.2f} ms, {base_bytes} B")

    def report(label, ms, size, status, target_ms=None, extra=""):
        goal = f" (target < {target_ms} ms: {'OK' if ms < target_ms else 'MISSED'})" if target_ms else ""
        print(f"{label}: {ms:.2f} ms, {size:,} B, HTTP {status}, {ms / base_ms:.1f}x empty{goal}{extra}")

    # opening the job page (the pages router renders the layout with the console tail)
    page = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": f"/jobs/{big.id}"},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}
    ms, size, status = timed(lambda: post(page), 5)
    sent = post(page).get_data(as_text=True).count('"data-n"')
    report("open job page (1M-line log)", ms, size, status,
           extra=f"; lines sent {sent:,} (cap {settings.console_max_lines:,}: "
                 f"{'OK' if sent <= settings.console_max_lines else 'MISSED'})")

    job_page = sys.modules["dash_app.pages.job"]
    key = next(k for k in app.callback_map if f"{job_page.HEADER}.children" in k)
    from dash_client import _outputs  # the outputs as dash-renderer lists them (the page owns the set)

    outs = [(o["id"], o["property"]) for o in _outputs(key)]
    job = jobs.get_job(conn, users.get_by_name(conn, "alice"), big.id)
    cursor = {"job": big.id, "updated": job.updated_at, "state": job.state.value}
    _, ccur = cons.initial(conn, "job", big.id, settings.console_max_lines)

    def tick(console_cursor):
        return post({"output": key, "outputs": [{"id": i, "property": p} for i, p in outs],
                     "inputs": [{**i, "value": 1 if i["id"] == job_page.INTERVAL else None}
                                for i in app.callback_map[key]["inputs"]],
                     "state": [{"id": job_page.CURSOR, "property": "data", "value": cursor},
                               {"id": cons.cid("cursor", "job"), "property": "data", "value": console_cursor}],
                     "changedPropIds": [f"{job_page.INTERVAL}.n_intervals"]})

    ms, size, status = timed(lambda: tick(ccur), args.repeat)
    report("job poll, no new lines", ms, size, status, 5, f" (target < 1 KB: {'OK' if size < 1024 else 'MISSED'})")

    times, size = [], 0
    for _ in range(10):
        joblog.append_lines(conn, big.id, [f"new line {i} \x1b[32mok\x1b[0m" for i in range(1000)])
        t = time.perf_counter()
        r = tick(ccur)
        times.append((time.perf_counter() - t) * 1000)
        size = len(r.data)
        ccur = json.loads(r.data)["response"][json.dumps(cons.cid("cursor", "job"), sort_keys=True,
                                                          separators=(",", ":"))]["data"]
    report("job poll, 1,000 new lines", statistics.median(times), size, r.status_code, 20)

    dash_page = sys.modules["dash_app.pages.dashboard"]
    dkey = next(k for k in app.callback_map if f"{dash_page.GRID}.rowData" in k)
    douts = [(dash_page.GRID, "rowData"), (dash_page.GRID, "rowTransaction"),
             (dash_page.GRID, "columnDefs"), (dash_page.STATE_FILTER, "options"),
             (dash_page.PAGER, "max_value"), (dash_page.PAGER, "active_page"), (dash_page.SUMMARY, "children"),
             (dash_page.EMPTY, "children"), (dash_page.EMPTY, "hidden"), (dash_page.CURSOR, "data")]
    dins = [(dash_page.INTERVAL, "n_intervals", 1), (dash_page.STATE_FILTER, "value", "all"),
            (dash_page.SEARCH, "value", None), (dash_page.PAGER, "active_page", 1),
            (dash_page.ALL_USERS, "value", False), (dash_page.SORT, "data", "submitted_desc")]

    def refresh(sig, sort="submitted_desc", changed=f"{dash_page.INTERVAL}.n_intervals"):
        values = [sort if i == dash_page.SORT else v for i, _, v in dins]
        return post({"output": dkey, "outputs": [{"id": i, "property": p} for i, p in douts],
                     "inputs": [{"id": i, "property": p, "value": v}
                                for (i, p, _), v in zip(dins, values, strict=True)],
                     "state": [{"id": dash_page.CURSOR, "property": "data", "value": sig}],
                     "changedPropIds": [changed]})

    ms, size, status = timed(lambda: refresh(None), args.repeat)
    report(f"dashboard refresh, changed (user with 1,000+ of {args.jobs:,} jobs)", ms, size, status, 20)
    sig = json.loads(refresh(None).data)["response"][dash_page.CURSOR]["data"]
    ms, size, status = timed(lambda: refresh(sig), args.repeat)
    report("dashboard refresh, unchanged", ms, size, status, 20)
    for sort in ("name_asc", "state", "tokens_desc"):  # a header click: the sort arrives as the trigger
        ms, size, status = timed(lambda sort=sort: refresh(sig, sort, f"{dash_page.SORT}.data"), args.repeat)
        report(f"dashboard header sort {sort}", ms, size, status, 20)
    _ = html  # keep the import: components register on import


if __name__ == "__main__":
    main()
