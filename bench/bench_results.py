"""Bench the results view of a 5,000-token job and the "download all" zip, through the real server
path (Flask test client POSTing /_dash-update-component and GETting /api/jobs/<id>/archive).

    .venv/bin/python bench/bench_results.py [--big DIR] [--zip-mb 1024]

The 5,000-token output is written once by the simulator into bench/out/results-5000 (a few
minutes; reused afterwards). The page is "interactive" when its first paint (the page layout,
results as a placeholder) has arrived; the scores, plots and then the model follow by callbacks.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dash_app.components import console as cons  # noqa: E402
from dash_app.components.results import results_view as rv  # noqa: E402
from services import jobs, results  # noqa: E402
from services.people import users  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402
from tests.conftest import login  # noqa: E402

CURSOR = cons.cid("cursor", "job")  # the job page's console cursor: where every callback gets the job
AF3 = {"name": "bench", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}


def big_output(folder: Path) -> Path:
    """Return a simulator output of ~5,000 tokens (4 x 1,240-residue chains + ATP), writing it once."""
    if any(folder.glob("*/*_confidences.json")):
        return folder
    import random

    rnd = random.Random(1)
    seqs = [{"protein": {"id": c, "sequence": "".join(rnd.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(1240))}}
            for c in "ABCD"] + [{"ligand": {"id": "E", "ccdCodes": ["ATP"]}}]
    folder.mkdir(parents=True, exist_ok=True)
    inp = folder.parent / "results-5000-input.json"
    inp.write_text(json.dumps({"name": "big5000", "modelSeeds": [1], "sequences": seqs, "dialect": "alphafold3",
                               "version": 1}))
    print("writing a 5,000-token simulator output (once; a few minutes)…", flush=True)
    subprocess.run([sys.executable, "-m", "services.af3sim", f"--json_path={inp}", f"--output_dir={folder}",
                    "--speed=0", "--num_diffusion_samples=2"], cwd=ROOT, check=True, capture_output=True)
    return folder


def job_with_output(conn, settings, output: Path) -> int:
    job = jobs.submit(conn, settings, users.get_by_name(conn, "alice"), AF3, name="bench-results", accept_terms=True)
    conn.execute("UPDATE jobs SET state = 'succeeded', output_path = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                 (str(output), time.time(), time.time(), job.id))
    conn.commit()
    return job.id


def callback_key(app, outputs: list[str]) -> str:
    for key in app.callback_map:
        parts = [p.split("@")[0] for p in key.strip(".").replace("...", " ").split()]
        if parts == outputs:
            return key
    raise KeyError(outputs)


def bench_page(app, client, headers, job_id: int, output: Path) -> None:
    def post(payload):
        t = time.perf_counter()
        r = client.post("/_dash-update-component", json=payload, headers=headers)
        assert r.status_code == 200, r.data[:300]
        return (time.perf_counter() - t) * 1000, len(r.data), r

    def call(outputs, inputs, state=()):
        key = callback_key(app, [f"{i}.{p}" for i, p in outputs])
        outs = [{"id": x.rsplit(".", 1)[0], "property": x.rsplit(".", 1)[1]}
                for x in key.strip(".").replace("...", " ").split()]
        return post({"output": key, "outputs": outs if len(outs) > 1 else outs[0],
                     "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
                     "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
                     "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]})

    t = time.perf_counter()
    index = client.get(f"/jobs/{job_id}")
    index_ms = (time.perf_counter() - t) * 1000
    page = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": f"/jobs/{job_id}"},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}
    page_ms, page_b, _ = post(page)
    print(f"first paint: index {index_ms:.0f} ms ({len(index.data):,} B, Mol* bundle listed: "
          f"{'yes' if b'rcsb-molstar' in index.data else 'no'}), page layout {page_ms:.0f} ms ({page_b:,} B); "
          f"interactive after {index_ms + page_ms:.0f} ms (target < 2000 ms: "
          f"{'OK' if index_ms + page_ms < 2000 else 'MISSED'})")
    fill_ms, fill_b, r = call([(rv.BODY, "children")], [(rv.MOLSTAR_READY, "data", True)],
                              [(CURSOR, "data", {"job": job_id})])
    key = results.sample_scores(results.describe_folder(output))[0].key  # what the chooser starts on
    print(f"results body (scores, files): {fill_ms:.0f} ms, {fill_b:,} B")
    model_ms, model_b, m = call([(rv.VIEWER, "data")], [(rv.SAMPLE, "value", key), (rv.COLOUR, "value", "plddt")],
                                [(CURSOR, "data", {"job": job_id})])
    print(f"model for the viewer (URL + pLDDT-band components): {model_ms:.0f} ms, {model_b:,} B; the model file "
          f"follows: {Path(json.loads(m.data)['response'][rv.VIEWER]['data']['data']).name}")
    outs = [(rv.PAE_FIG, "data"), (rv.PLDDT, "figure"), (rv.IPTM, "figure"), (rv.PAEMIN, "figure"),
            (rv.TROUBLE, "children"), (rv.TOKENS, "data"), (rv.NOTE, "children"), (rv.CHAINS, "children")]
    ins = [(rv.SAMPLE, "value", key)]
    cold_ms, sample_b, r = call(outs, ins, [(CURSOR, "data", {"job": job_id})])
    warm_ms, _, _ = call(outs, ins, [(CURSOR, "data", {"job": job_id})])
    resp = json.loads(r.data)["response"]
    source = resp[rv.PAE_FIG]["data"]["source"]
    t = time.perf_counter()
    png = client.get(source)
    png_ms = (time.perf_counter() - t) * 1000
    side = int.from_bytes(png.data[16:20], "big")  # the PNG header's width: one pixel per token
    print(f"plots (pLDDT, matrices, the PAE's address; in parallel with the model): first visit "
          f"{cold_ms:.0f} ms (parses the PAE once), later visits {warm_ms:.0f} ms (cached); {sample_b:,} B")
    print(f"PAE image: {side}x{side} pixels (every token pair), {len(png.data):,} B, served in {png_ms:.0f} ms")
    print(f"bytes before the structure loads (index + layout + results + model request): "
          f"{len(index.data) + page_b + fill_b + model_b:,} B (+ {sample_b:,} B of plots)")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def bench_zip(client, conn, settings, mb: int) -> None:
    folder = ROOT / "bench" / "out" / f"zip-{mb}mb"
    job_dir = folder / "job"
    if not job_dir.is_dir() or sum(p.stat().st_size for p in job_dir.iterdir()) != mb * 1024 * 1024:
        job_dir.mkdir(parents=True, exist_ok=True)
        block = os.urandom(1024 * 1024)  # incompressible, like packed arrays: the worst case for deflate buffers
        for i in range(-(-mb // 64)):
            with (job_dir / f"part-{i:03d}.bin").open("wb") as fh:
                for _ in range(min(64, mb - 64 * i)):
                    fh.write(block)
    job_id = job_with_output(conn, settings, folder)
    samples, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            samples.append(current_rss_mb())
            time.sleep(0.05)

    base = current_rss_mb()
    threading.Thread(target=watch, daemon=True).start()
    t = time.perf_counter()
    r = client.get(f"/api/jobs/{job_id}/archive", buffered=False)
    sent = sum(len(chunk) for chunk in r.response)
    secs = time.perf_counter() - t
    stop.set()
    growth = max(samples) - base
    print(f"zip of a {mb:,} MB folder: {sent / 1024 / 1024:,.0f} MB sent in {secs:.1f} s; web process memory grew "
          f"{growth:.0f} MB at most while streaming (flat: {'OK' if growth < 64 else 'MISSED'})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=Path, default=ROOT / "bench" / "out" / "results-5000")
    ap.add_argument("--zip-mb", type=int, default=1024)
    args = ap.parse_args()
    output = big_output(args.big)
    data = Path(tempfile.mkdtemp(prefix="bench-results-"))
    settings = load_settings(environ={}, dotenv=None, data_dir=data)
    db.migrate(settings.db_path)
    conn = db.connect(settings.db_path)
    users.create_user(conn, "alice", "user-password-1", users.Role.USER)
    from dash_app import create_app

    app = create_app(settings)
    client = app.server.test_client()
    assert login(client, "alice", "user-password-1").status_code == 302
    client.get("/")
    headers = {"X-CSRFToken": client.get_cookie("_csrf_token").value}
    bench_zip(client, conn, settings, args.zip_mb)  # first: the PAE parse below would leave a larger heap behind
    bench_page(app, client, headers, job_with_output(conn, settings, output), output)


if __name__ == "__main__":
    main()
