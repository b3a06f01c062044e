"""What a finished job left in its output folder: the files and the per-sample confidences.

Read only when a page shows a succeeded job (never on a poll tick); every read is bounded.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from services import defaults


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, with forward slashes
    size: int


@dataclass(frozen=True)
class SampleScore:
    seed: int
    sample: int
    ranking_score: float | None
    ptm: float | None
    iptm: float | None


@dataclass(frozen=True)
class Results:
    files: list[OutputFile]
    more_files: int  # files not listed because of the cap
    samples: list[SampleScore]  # best ranking score first


def list_files(folder: Path, cap: int = defaults.RESULTS_MAX_FILES) -> tuple[list[OutputFile], int]:
    """Return up to `cap` files under `folder` (sorted) and how many more there are."""
    if not folder.is_dir():
        return [], 0
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    files = [OutputFile(p.relative_to(folder).as_posix(), p.stat().st_size) for p in paths[:cap]]
    return files, max(0, len(paths) - cap)


def _number(value: object) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _summary(sample_dir: Path) -> dict:
    """Return a sample folder's summary confidences ({} when missing or unreadable)."""
    for path in sample_dir.glob("*summary_confidences.json"):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
    return {}


def sample_scores(job_dir: Path) -> list[SampleScore]:
    """Return ranking score, ptm and iptm per (seed, sample) of one AF3 job folder, best first."""
    scores = []
    for ranking in job_dir.glob("*ranking_scores.csv"):
        with ranking.open(newline="") as fh:
            for row in csv.DictReader(fh):
                seed, sample = int(row["seed"]), int(row["sample"])
                summary = _summary(job_dir / f"seed-{seed}_sample-{sample}")
                scores.append(SampleScore(seed, sample, _number(row.get("ranking_score")),
                                          _number(summary.get("ptm")), _number(summary.get("iptm"))))
        break
    return sorted(scores, key=lambda s: -(s.ranking_score if s.ranking_score is not None else float("-inf")))


def read_results(output_path: str | Path | None) -> Results:
    """Return the files and sample confidences of an attempt's output folder (empty when absent)."""
    if not output_path:
        return Results([], 0, [])
    folder = Path(output_path)
    files, more = list_files(folder)
    job_dirs = sorted(d for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
    samples = sample_scores(job_dirs[0]) if job_dirs else []
    return Results(files, more, samples)


def resolve_file(output_path: str | Path | None, relative: str) -> Path | None:
    """Return the file `relative` inside the output folder, or None if it is outside or missing."""
    if not output_path:
        return None
    root = Path(output_path).resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        return None
    return target
