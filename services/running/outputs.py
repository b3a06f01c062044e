"""What a finished run must have left in its output folder: every sample's confidences, its _data.json.

The worker reads these to tell a run that exited 0 but wrote too little from one that succeeded.
"""
from __future__ import annotations

import re
from pathlib import Path


def expected_samples(af3: dict, command: str) -> list[tuple[int, int]]:
    """Return the (seed, sample) pairs a successful run writes, from the input and the command's flags."""
    seeds = [int(s) for s in af3.get("modelSeeds") or [1]]
    m = re.search(r"--num_seeds[= ](\d+)", command)
    if m:  # AF3 expands the first seed into consecutive seeds
        seeds = list(range(seeds[0], seeds[0] + int(m.group(1))))
    m = re.search(r"--num_diffusion_samples[= ](\d+)", command)
    samples = int(m.group(1)) if m else 5
    return [(s, i) for s in seeds for i in range(samples)]


def check_outputs(output_dir: Path, af3: dict, command: str) -> str:
    """Return "" when every expected sample has its summary confidences, else what is missing."""
    if not output_dir.is_dir():
        return "no output folder was written"
    job_dirs = [d for d in output_dir.iterdir() if d.is_dir()]
    if not job_dirs:
        return "no results were written"
    expected = expected_samples(af3, command)
    best_missing: list[tuple[int, int]] = expected
    for d in job_dirs:
        missing = [(s, i) for s, i in expected
                   if not any((d / f"seed-{s}_sample-{i}").glob("*summary_confidences.json"))]
        if not missing:
            return ""
        best_missing = min(best_missing, missing, key=len)
    s, i = best_missing[0]
    more = f" (and {len(best_missing) - 1} more)" if len(best_missing) > 1 else ""
    return f"results incomplete: no summary confidences for seed {s} sample {i}{more}"


def find_data_json(output_dir: Path) -> Path | None:
    """Return the newest `<name>_data.json` a run wrote under `output_dir` (AF3: <output>/<name>/...), or None."""
    found = [p for p in output_dir.glob("*/*_data.json") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None
