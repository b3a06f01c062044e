"""What AF3 wrote in one job folder: its layout and each sample's files.

`describe_folder` is the one place that knows the layouts met in the wild (current AF3, AF3
v3.0.0/3.0.1, best-model-only copies, AlphaFold Server downloads); everything else asks it.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from services.results.files import job_folders


class Layout(str, Enum):
    AF3 = "af3"  # current AF3: every file prefixed with the job name
    AF3_V30 = "af3-v3.0"  # v3.0.0/3.0.1: job files prefixed, per-sample files not, plain ranking_scores.csv
    BEST_ONLY = "best-only"  # only the top model's files were kept
    SERVER = "server"  # AlphaFold Server download: fold_<name>_model_N.cif, _full_data_N.json, ...
    NONE = "none"  # nothing AF3 wrote


@dataclass(frozen=True)
class SampleFiles:
    """The files of one predicted sample (seed × diffusion sample, or a server model)."""

    key: str  # stable id for the page: "seed-1_sample-0", "model-0" or "best"
    label: str  # what a person reads: "seed 1 · sample 0", "model 0", "top model"
    seed: int | None
    sample: int | None
    model: Path | None  # mmCIF
    confidences: Path | None  # full arrays: pae, atom_plddts, token ids
    summary: Path | None  # scalar scores and chain-pair matrices
    csv_score: float | None = None  # ranking score from the ranking CSV, when there is one


@dataclass(frozen=True)
class FolderContents:
    """What is in one AF3 job folder; `samples` best first."""

    layout: Layout
    folder: Path
    name: str  # the job name as the files spell it
    samples: list[SampleFiles]
    data_json: Path | None = None  # AF3's `<name>_data.json` (the input with MSAs)
    job_request: Path | None = None  # AlphaFold Server's `<name>_job_request.json`


_SAMPLE_DIR = re.compile(r"^seed-(\d+)_sample-(\d+)$", re.IGNORECASE)
_SERVER = re.compile(r"^(?P<name>.+?)_(?P<what>model|full_data|summary_confidences)_(?P<n>\d+)\.(?:cif|json)$")


def as_number(value: object) -> float | None:
    """Return a JSON/CSV value as a float (None when empty or not a number)."""
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _one(folder: Path, pattern: str, exclude: tuple[str, ...] = ()) -> Path | None:
    """Return the first file in `folder` matching `pattern` whose name holds none of `exclude`."""
    found = sorted(p for p in folder.glob(pattern) if p.is_file() and not any(x in p.name for x in exclude))
    return found[0] if found else None


def _sample_files(folder: Path, key: str, label: str, seed: int | None, sample: int | None,
                  csv_score: float | None = None) -> SampleFiles:
    """Return the model, confidences and summary of one sample folder (prefixed or not)."""
    return SampleFiles(key, label, seed, sample, _one(folder, "*model.cif"),
                       _one(folder, "*confidences.json", ("summary",)),
                       _one(folder, "*summary_confidences.json"), csv_score)


def _ranking_csv(folder: Path) -> dict[tuple[int, int], float | None]:
    """Return ranking score per (seed, sample) from `*ranking_scores.csv` ({} when absent)."""
    path = _one(folder, "*ranking_scores.csv")
    if path is None:
        return {}
    try:
        with path.open(newline="") as fh:
            return {(int(r["seed"]), int(r["sample"])): as_number(r.get("ranking_score")) for r in csv.DictReader(fh)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _server_contents(folder: Path) -> FolderContents | None:
    """Return an AlphaFold Server download's models, or None when the folder is not one."""
    models: dict[int, dict[str, Path]] = {}
    name = ""
    for path in folder.iterdir():
        m = _SERVER.match(path.name)
        if m and path.is_file():
            models.setdefault(int(m["n"]), {})[m["what"]] = path
            name = m["name"]
    if not models:
        return None
    seed = _server_seed(folder / f"{name}_job_request.json")
    samples = [SampleFiles(f"model-{n}", f"model {n}", seed, n, f.get("model"), f.get("full_data"),
                           f.get("summary_confidences")) for n, f in sorted(models.items())]
    request = folder / f"{name}_job_request.json"
    return FolderContents(Layout.SERVER, folder, name, samples, job_request=request if request.is_file() else None)


def _server_seed(request: Path) -> int | None:
    """Return the seed the server used (its job request names it), or None."""
    try:
        doc = json.loads(request.read_text())
        job = doc[0] if isinstance(doc, list) else doc
        return int(job["modelSeeds"][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def describe_folder(folder: str | Path | None) -> FolderContents:
    """Return what is in an AF3 job folder: its layout and each sample's files.

    Accepts the job folder itself, an attempt's output folder holding it, or one level more (a zip
    of a whole AF3 output folder: `af_output/<job>/...`); the first job folder with AF3 files is
    used. Samples come from `seed-S_sample-N/` folders (ranked by the ranking CSV when there is
    one), from server `_model_N` files, or, when only the top model was kept, from the job-level files.
    """
    path = Path(folder) if folder else None
    if path is None or not path.is_dir():
        return FolderContents(Layout.NONE, path or Path("."), "", [])
    found = _describe_one(path)
    if found.layout is Layout.NONE:
        children = job_folders(path)
        for sub in [*children, *(deeper for child in children for deeper in job_folders(child))]:
            inner = _describe_one(sub)
            if inner.layout is not Layout.NONE:
                return inner
    return found


def describe_all(folder: str | Path | None) -> list[FolderContents]:
    """Return every AF3 job folder's contents under `folder` (itself, a child, or a grandchild), in name order.

    A zip may hold several jobs side by side (`af_output/job_a`, `af_output/job_b`): each is one.
    """
    path = Path(folder) if folder else None
    if path is None or not path.is_dir():
        return []
    found = _describe_one(path)
    if found.layout is not Layout.NONE:
        return [found]
    out = []
    for child in job_folders(path):
        inner = _describe_one(child)
        if inner.layout is not Layout.NONE:
            out.append(inner)
        else:
            out += [c for c in (_describe_one(g) for g in job_folders(child)) if c.layout is not Layout.NONE]
    return out


def _describe_one(folder: Path) -> FolderContents:
    server = _server_contents(folder)
    if server is not None:
        return server
    best_model = _one(folder, "*_model.cif")
    name = best_model.name[: -len("_model.cif")] if best_model else ""
    data_json = _one(folder, "*_data.json")
    ranks = _ranking_csv(folder)
    dirs = sorted((int(m[1]), int(m[2]), d) for d in folder.iterdir()
                  if d.is_dir() and (m := _SAMPLE_DIR.match(d.name)))
    samples = [_sample_files(d, d.name.lower(), f"seed {s} · sample {n}", s, n, ranks.get((s, n)))
               for s, n, d in dirs]
    samples = [s for s in samples if s.model or s.confidences or s.summary]
    if samples:
        bare = any(f.name in ("model.cif", "confidences.json") for s in samples for f in (s.model, s.confidences) if f)
        layout = Layout.AF3_V30 if bare else Layout.AF3
        return FolderContents(layout, folder, name, samples, data_json)
    if best_model or _one(folder, "*summary_confidences.json"):
        best = _sample_files(folder, "best", "top model", None, None)
        if ranks:  # the CSV names the top sample even when its folder was not kept
            (seed, sample), score = max(ranks.items(), key=lambda kv: kv[1] if kv[1] is not None else -1)
            best = SampleFiles("best", f"top model (seed {seed} · sample {sample})", seed, sample, best.model,
                               best.confidences, best.summary, score)
        return FolderContents(Layout.BEST_ONLY, folder, name, [best], data_json)
    return FolderContents(Layout.NONE, folder, name, [], data_json)


def find_sample(contents: FolderContents, key: str | None) -> SampleFiles | None:
    """Return the sample called `key` (None: the first)."""
    return next((s for s in contents.samples if key is None or s.key == key), None)
