"""Two stages and MSA reuse (issue 16): a batch of 10 jobs — one protein with 10 different ligands — on
1 GPU slot and 2 CPU slots, with the simulator at a realistic pace (AF3's relative stage timings, every
duration divided by --speed).

    .venv/bin/python bench/bench_stages.py [--speed 100] [--jobs 10]

Three modes, each on a fresh data dir with a real worker:
  one-stage       today's runs: each job searches and infers in the GPU slot (cpu slots 0, cache off)
  two-stage       data pipelines in the 2 CPU slots, inference in the GPU slot (cache off)
  two-stage+cache as above, and a chain searched once is reused by every later job

  cache+batch     as above, and the inference-ready jobs of one token bucket run in one AF3 process
                  (FOLDDECK_LOCAL_BATCH_SIZE): model start-up once per process, compilation once per bucket

Printed per mode: total wall time, its ratio to one-stage (the floor measured in the same run), and the
GPU slot's idle fraction: 1 - (time some job was in model inference) / wall time, from the job logs'
own timestamps ("Running model inference..." to "...took"), and how much of the wall time the GPU slot
was held by an attempt. In one-stage mode the slot is held throughout while its GPU sits idle during
jackhmmer; with two stages the slot is held only for inference (model start-up, featurisation and
writing included, which is why even then the GPU computes for only part of it). Also printed: the share
of GPU-slot time spent in model inference ("busy of held"), the GPU's idle share of the wall time once the
protein's MSA search is done, and how many AF3 processes ran inference.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import jobs  # noqa: E402
from services.jobs import joblog  # noqa: E402
from services.people import users  # noqa: E402
from services.platform import db  # noqa: E402
from services.platform.settings import load_settings  # noqa: E402
from services.running.worker import Worker  # noqa: E402

PROTEIN = ("MSTEKLRQAVEDALGHPNWYFTKSGEVLRIDMGSHMSRKLSEIEFKKLGEGTFGVVYKAKNRETGEIVALKKIRLDTETEGVPSTAIREIS"
           "LLKELNHPNIVKLLDVIHTENKLYLVFEFLHQDLKKFMDASALTGIPLPLIKSYLFQLLQGLAFCHSHRVLHRDLKPQNLLINTEGAIKLA"
           "DFGLARAFGVPVRTYTHEVVTLWYRAPEILLGCKYYSTAVDIWSLGCIFAEMVTRRALFPGDSEIDQLFRIFRTLGTPDEVVWPGVTSM")
LIGANDS = ["ATP", "ADP", "ANP", "GTP", "MG", "ZN", "HEM", "NAD", "FAD", "SAM", "CA", "MN"]
MODES = {"one-stage": {"local_cpu_slots": 0, "msa_cache_mb": 0},
         "two-stage": {"local_cpu_slots": 2, "msa_cache_mb": 0},
         "two-stage+cache": {"local_cpu_slots": 2, "msa_cache_mb": 2048},
         # issue 26: inference-ready jobs of one bucket folded by one AF3 process (--input_dir)
         "cache+batch": {"local_cpu_slots": 2, "msa_cache_mb": 2048, "local_batch_size": 64}}
_BATCH_LINE = "Inference runs in one AlphaFold 3 process with"


def batch(n: int) -> list[dict]:
    """Return n inputs: the same ~280-residue kinase with a different ligand each (names kept distinct)."""
    return [{"dialect": "alphafold3", "version": 1, "name": f"kinase {lig} {k}", "modelSeeds": [1],
             "sequences": [{"protein": {"id": "A", "sequence": PROTEIN}}, {"ligand": {"id": "B", "ccdCodes": [lig]}}]}
            for k, lig in enumerate((LIGANDS * (n // len(LIGANDS) + 1))[:n])]


def inference_spans(conn, job_id: int) -> list[tuple[float, float]]:
    """Return the (start, end) times the job spent in model inference, from its log."""
    spans, start = [], None
    for line in joblog.read_log(conn, job_id, 0, 1_000_000):
        if line.text.startswith("Running model inference and extracting output structure samples"):
            start = line.ts
        elif start is not None and line.text.startswith("Running model inference and extracting output structures"):
            spans.append((start, line.ts))
            start = None
    return spans


def busy_seconds(spans: list[tuple[float, float]]) -> float:
    """Return the length of the union of the spans."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def run_mode(mode: str, speed: float, n: int) -> dict:
    """Run the batch in one mode on a fresh data dir; return wall seconds, GPU idle fraction, searches."""
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(environ={}, dotenv=None, data_dir=Path(tmp) / "data", local_slots=1,
                          af3_command=f"{sys.executable} -m services.af3sim --json_path={{input}} "
                                      f"--output_dir={{output}} --speed={speed}", **MODES[mode])
        db.migrate(s.db_path)
        conn = db.connect(s.db_path)
        user = users.create_user(conn, "bench", "bench-password-1", users.Role.USER)
        users.accept_terms(conn, user.id)
        ids = [jobs.submit(conn, s, user, doc).id for doc in batch(n)]
        worker = Worker(s, poll=0.05)
        t0 = time.time()
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        while not all(jobs.get_job(conn, user, i).is_finished for i in ids):
            time.sleep(0.05)
        wall = time.time() - t0
        worker.stop()
        thread.join(60)
        states = {jobs.get_job(conn, user, i).state.value for i in ids}
        spans = [sp for i in ids for sp in inference_spans(conn, i)]
        held = [(r[0], r[1]) for r in conn.execute("SELECT started_at, finished_at FROM job_attempts "
                                                   "WHERE phase != 'data' AND finished_at IS NOT NULL")]
        logs = {i: joblog.read_log(conn, i, 0, 1_000_000) for i in ids}
        searches = sum("Getting protein MSAs for sequence" in x.text for i in ids for x in logs[i])
        msa_done = conn.execute("SELECT MIN(finished_at) FROM job_attempts WHERE phase = 'data'").fetchone()[0]
        if msa_done is None:  # one stage: the search ends inside the first job's run
            msa_done = min(x.ts for i in ids for x in logs[i] if "Getting protein MSAs took" in x.text)
        after = [(max(a, msa_done), b) for a, b in spans if b > msa_done]
        busy, end = busy_seconds(spans), t0 + wall
        groups = {x.text.split("(jobs ", 1)[1] for i in ids for x in logs[i] if x.text.startswith(_BATCH_LINE)}
        runs = conn.execute("SELECT COUNT(*) FROM job_attempts WHERE phase != 'data'").fetchone()[0]
        processes = runs - sum(g.count(",") + 1 for g in groups) + len(groups)
        db.close_all()
        return {"wall": wall, "idle": 1 - busy / wall, "held": busy_seconds(held) / wall,
                "busy_of_held": busy / max(busy_seconds(held), 1e-9),
                "idle_after_msa": 1 - busy_seconds(after) / max(end - msa_done, 1e-9),
                "states": states, "searches": searches, "processes": processes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=100.0, help="simulator pace divisor (1 = real AF3 timings)")
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes to run, in this order")
    args = parser.parse_args()
    print(f"{args.jobs} jobs (one ~{len(PROTEIN)}-residue protein, {args.jobs} ligands), 1 GPU slot, "
          f"simulator --speed={args.speed:g}")
    floor = None
    for mode in args.modes.split(","):
        r = run_mode(mode, args.speed, args.jobs)
        floor = floor or r["wall"]
        print(f"  {mode:16s} wall {r['wall']:7.1f} s  ({r['wall'] * args.speed / 60:6.1f} min at real pace)  "
              f"speed-up x{floor / r['wall']:.2f}  GPU idle {r['idle'] * 100:5.1f} %  GPU slot held "
              f"{r['held'] * 100:5.1f} %  busy of held {r['busy_of_held'] * 100:5.1f} %  idle after MSA "
              f"{r['idle_after_msa'] * 100:5.1f} %  AF3 inference processes {r['processes']:3d}  protein searches "
              f"{r['searches']:2d}  states {sorted(r['states'])}")


if __name__ == "__main__":
    main()
