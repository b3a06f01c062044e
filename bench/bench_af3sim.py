"""Bench the AF3 simulator: wall time at --speed=0 by input size, and the modelled AF3 time at --speed=1.

Run: .venv/bin/python bench/af3sim.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.af3sim import timing  # noqa: E402

AA = "ACDEFGHIKLMNPQRSTVWY"


def job(name: str, lengths: list[int], ligands: list[str]) -> dict:
    """Return an AF3 input with proteins of `lengths` and CCD ligands."""
    seqs = [{"protein": {"id": chr(65 + i), "sequence": (AA * 300)[i: i + n]}} for i, n in enumerate(lengths)]
    seqs += [{"ligand": {"id": chr(65 + len(lengths) + i), "ccdCodes": [c]}} for i, c in enumerate(ligands)]
    return {"dialect": "alphafold3", "version": 1, "name": name, "modelSeeds": [1], "sequences": seqs}


def modelled_seconds(lengths: list[int], tokens: int, bucket: int) -> float:
    """Return the AF3 seconds the simulator sleeps at --speed=1 (one seed, 5 samples)."""
    msa = sum(max(timing.jackhmmer_seconds(db, n) for db in timing.JACKHMMER_S) + timing.TEMPLATE_SEARCH_S
              for n in lengths)
    return (timing.STARTUP_S + timing.PARAMS_CHECK_S + msa + timing.featurise_seconds(tokens)
            + timing.inference_seconds(bucket, 5, 10, True) + 5 * (timing.EXTRACT_PER_SAMPLE_S
                                                                   + timing.WRITE_PER_SAMPLE_S))


def main() -> None:
    """Print one line per case."""
    cases = [("small", [32], [], 32, 128), ("dimer_300+ATP", [300, 300], ["ATP"], 631, 768),
             ("large_1000", [500, 500], [], 1000, 1024)]
    print(f"{'case':<16}{'tokens':>8}{'wall s @speed=0':>18}{'modelled AF3 s @speed=1':>26}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, lengths, ligands, tokens, bucket in cases:
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(job(name, lengths, ligands)))
            start = time.monotonic()
            subprocess.run([sys.executable, "-m", "services.af3sim", f"--json_path={path}",
                            f"--output_dir={tmp}/out", "--speed=0"], cwd=ROOT, check=True, capture_output=True)
            wall = time.monotonic() - start
            print(f"{name:<16}{tokens:>8}{wall:>18.2f}{modelled_seconds(lengths, tokens, bucket):>26.0f}")


if __name__ == "__main__":
    main()
