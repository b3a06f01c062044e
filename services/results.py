"""What a finished job left in its output folder: the files and the per-sample confidences.

Read only when a page shows a succeeded job (never on a poll tick); every read is bounded.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


@dataclass(frozen=True)
class Confidences:
    """The best model's confidence arrays, reduced for plotting."""

    pae: list[list[float]]  # block-averaged token x token PAE (Å)
    pae_block: int  # tokens per heatmap cell (1 = full resolution)
    tokens: int
    chain_starts: list[tuple[str, int]]  # (chain id, first token index) in input order
    plddt: list[float]  # per-atom pLDDT, thinned to at most RESULTS_PLDDT_MAX_POINTS
    plddt_step: int  # atoms per plotted point
    atom_chain_starts: list[tuple[str, int]]  # (chain id, first atom index)
    note: str = ""  # why nothing could be plotted, when arrays are empty


def _starts(chain_ids: list[str]) -> list[tuple[str, int]]:
    """Return where each run of equal chain ids begins."""
    return [(c, i) for i, c in enumerate(chain_ids) if i == 0 or chain_ids[i - 1] != c]


def _block_mean(matrix: np.ndarray, max_cells: int) -> tuple[np.ndarray, int]:
    """Average square blocks so the matrix is at most max_cells wide (NaN-aware, edge blocks partial)."""
    n = matrix.shape[0]
    block = max(1, -(-n // max_cells))
    if block == 1:
        return matrix, 1
    cells = -(-n // block)
    padded = np.full((cells * block, cells * block), np.nan)
    padded[:n, :n] = matrix
    with np.errstate(invalid="ignore"):
        reduced = np.nanmean(padded.reshape(cells, block, cells, block), axis=(1, 3))
    return reduced, block


def best_confidences(job_dir: Path, max_bytes: int = defaults.RESULTS_CONFIDENCES_MAX_BYTES,
                     max_cells: int = defaults.RESULTS_PAE_MAX_CELLS) -> Confidences | None:
    """Return the top-ranked model's PAE and pLDDT reduced for plotting, or None if there is none.

    Reads `<job>_confidences.json` (AF3 writes the best sample there; the viewer also accepts the
    v3.0.1 name `confidences.json`). Files over `max_bytes` are not parsed: a note says so.
    """
    found = sorted(p for p in job_dir.glob("*confidences.json") if "summary" not in p.name)
    if not found:
        return None
    path = found[0]
    if path.stat().st_size > max_bytes:
        mb = path.stat().st_size / 1024 / 1024
        return Confidences([], 0, 0, [], [], 0, [], note=f"{path.name} is {mb:.0f} MB; download it to look at it.")
    try:
        doc = json.loads(path.read_text())
        pae = np.array(doc["pae"], dtype=float)
        plddt = np.array([np.nan if v is None else v for v in doc["atom_plddts"]], dtype=float)
        token_chains, atom_chains = list(doc["token_chain_ids"]), list(doc["atom_chain_ids"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Confidences([], 0, 0, [], [], 0, [], note=f"{path.name} could not be read: {exc}")
    if pae.ndim != 2 or pae.shape[0] != pae.shape[1] or pae.shape[0] != len(token_chains):
        return Confidences([], 0, 0, [], [], 0, [], note=f"{path.name} has a PAE that is not tokens x tokens.")
    reduced, block = _block_mean(pae, max_cells)
    step = max(1, -(-len(plddt) // defaults.RESULTS_PLDDT_MAX_POINTS))
    return Confidences(pae=np.round(reduced, 1).tolist(), pae_block=block, tokens=len(token_chains),
                       chain_starts=_starts(token_chains), plddt=np.round(plddt[::step], 2).tolist(),
                       plddt_step=step, atom_chain_starts=_starts(atom_chains))


def job_folders(output_path: str | Path | None) -> list[Path]:
    """Return the AF3 job folders inside an attempt's output folder (one per fold job)."""
    folder = Path(output_path) if output_path else None
    return sorted(d for d in folder.iterdir() if d.is_dir()) if folder and folder.is_dir() else []


def read_results(output_path: str | Path | None) -> Results:
    """Return the files and sample confidences of an attempt's output folder (empty when absent)."""
    if not output_path:
        return Results([], 0, [])
    folder = Path(output_path)
    files, more = list_files(folder)
    job_dirs = job_folders(folder)
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
