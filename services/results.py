"""What a finished job left in its output folder: the files, every sample's scores and arrays.

`describe_folder` is the one place that knows the layouts met in the wild (current AF3, AF3
v3.0.0/3.0.1, best-model-only copies, AlphaFold Server downloads); everything else asks it.
Read only when a page shows a finished job (never on a poll tick); every read is bounded.
"""
from __future__ import annotations

import csv
import io
import json
import mmap
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import diskcache
import numpy as np
import pandas as pd

from services import defaults
from services.mmcif_atoms import read_residues


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, with forward slashes
    size: int


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


@dataclass(frozen=True)
class SampleScore:
    key: str
    label: str
    seed: int | None
    sample: int | None
    ranking_score: float | None
    ptm: float | None
    iptm: float | None
    fraction_disordered: float | None = None
    has_clash: bool | None = None
    best: bool = False
    chain_pair_iptm: list[list[float | None]] = field(default_factory=list)
    chain_pair_pae_min: list[list[float | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Results:
    files: list[OutputFile]
    more_files: int  # files not listed because of the cap
    samples: list[SampleScore]  # best ranking score first
    contents: FolderContents | None = None


_SAMPLE_DIR = re.compile(r"^seed-(\d+)_sample-(\d+)$", re.IGNORECASE)
_SERVER = re.compile(r"^(?P<name>.+?)_(?P<what>model|full_data|summary_confidences)_(?P<n>\d+)\.(?:cif|json)$")


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
            return {(int(r["seed"]), int(r["sample"])): _number(r.get("ranking_score")) for r in csv.DictReader(fh)}
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

    Accepts the job folder itself or an attempt's output folder holding it (the first job folder
    with AF3 files is used). Samples come from `seed-S_sample-N/` folders (ranked by the ranking
    CSV when there is one), from server `_model_N` files, or, when only the top model was kept,
    from the job-level files.
    """
    path = Path(folder) if folder else None
    if path is None or not path.is_dir():
        return FolderContents(Layout.NONE, path or Path("."), "", [])
    found = _describe_one(path)
    if found.layout is Layout.NONE:
        for sub in job_folders(path):
            inner = _describe_one(sub)
            if inner.layout is not Layout.NONE:
                return inner
    return found


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


def _read_json(path: Path | None) -> dict:
    """Return a small JSON object ({} when missing, unreadable or not an object)."""
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _matrix(value: object) -> list[list[float | None]]:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        return []
    return [[_number(x) for x in row] for row in value]


def _score(files: SampleFiles) -> SampleScore:
    summary = _read_json(files.summary)
    ranking = files.csv_score if files.csv_score is not None else _number(summary.get("ranking_score"))
    clash = _number(summary.get("has_clash"))
    return SampleScore(files.key, files.label, files.seed, files.sample, ranking, _number(summary.get("ptm")),
                       _number(summary.get("iptm")), _number(summary.get("fraction_disordered")),
                       None if clash is None else clash > 0, chain_pair_iptm=_matrix(summary.get("chain_pair_iptm")),
                       chain_pair_pae_min=_matrix(summary.get("chain_pair_pae_min")))


def sample_scores(contents: FolderContents | Path) -> list[SampleScore]:
    """Return every sample's scores, best ranking score first and marked `best`."""
    if not isinstance(contents, FolderContents):
        contents = describe_folder(contents)
    scores = sorted((_score(s) for s in contents.samples),
                    key=lambda s: -(s.ranking_score if s.ranking_score is not None else float("-inf")))
    if scores:
        scores[0] = SampleScore(**{**scores[0].__dict__, "best": True})
    return scores


def trouble(score: SampleScore) -> list[str]:
    """Return plain-words warnings for the values that mean a prediction needs care."""
    notes = []
    if score.has_clash:
        notes.append("atoms clash in this model: parts of it overlap and are not physically possible")
    if score.iptm is not None and score.iptm < defaults.RESULTS_IPTM_TROUBLE:
        notes.append(f"ipTM {score.iptm:.2f} is below {defaults.RESULTS_IPTM_TROUBLE}: "
                     "the relative placement of the chains is likely wrong")
    if score.fraction_disordered is not None and score.fraction_disordered > defaults.RESULTS_DISORDER_TROUBLE:
        notes.append(f"{score.fraction_disordered:.0%} of the model is disordered: "
                     "much of it is probably not a reliable structure")
    return notes


@dataclass(frozen=True)
class Token:
    """One PAE row/column: a polymer residue, or one atom of a ligand or modified residue."""

    chain: str
    number: int  # residue number (auth_seq_id)
    name: str  # residue CCD code
    atom: str  # atom name for per-atom tokens, "" for a residue
    plddt: float | None


@dataclass(frozen=True)
class Confidences:
    """One sample's confidence arrays, reduced for plotting."""

    pae: list[list[float]]  # block-averaged token x token PAE (Å)
    pae_block: int  # tokens per heatmap cell (1 = full resolution)
    tokens: list[Token]  # PAE order; pLDDT per residue for polymers, per atom for ligands
    chain_starts: list[tuple[str, int]]  # (chain id, first token index) in input order
    note: str = ""  # why nothing could be plotted, when arrays are empty

    @property
    def chain_ids(self) -> list[str]:
        return [c for c, _ in self.chain_starts]


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
    padded = np.full((cells * block, cells * block), np.nan, dtype=matrix.dtype)
    padded[:n, :n] = matrix
    with np.errstate(invalid="ignore"):
        reduced = np.nanmean(padded.reshape(cells, block, cells, block), axis=(1, 3))
    return reduced, block


def _tokens(token_chains: list[str], token_res: list[int], model: Path | None) -> list[Token]:
    """Return one Token per PAE index, its pLDDT from the model's B-factors (None without a model).

    A run of tokens with the same chain and residue is a per-atom tokenised residue (ligand,
    modified residue); a single token stands for a whole residue and gets its atoms' mean pLDDT.
    """
    residues = read_residues(model) if model and model.is_file() else []
    by_key = iter(residues)
    out: list[Token] = []
    i, n = 0, len(token_chains)
    while i < n:
        j = i
        while j + 1 < n and token_chains[j + 1] == token_chains[i] and token_res[j + 1] == token_res[i]:
            j += 1
        res = next(by_key, None)
        while res is not None and res.chain != token_chains[i]:
            res = next(by_key, None)
        count = j - i + 1
        if res is None:
            out += [Token(token_chains[k], int(token_res[k]), "", "", None) for k in range(i, j + 1)]
        elif (count == 1 and not res.hetero) or len(res.atoms) != count:
            plddt = round(float(np.mean(res.plddts)), 2)
            out += [Token(res.chain, res.number, res.name, "", plddt) for _ in range(count)]
        else:
            out += [Token(res.chain, res.number, res.name, a, round(p, 2)) for a, p in zip(res.atoms, res.plddts,
                                                                                         strict=True)]
        i = j + 1
    return out


def _empty(note: str) -> Confidences:
    return Confidences([], 0, [], [], note=note)


def _array_text(data: bytes, key: str, nested: bool) -> bytes | None:
    """Return the text of the JSON array under `key` (found by position, not by parsing the file)."""
    at = data.find(f'"{key}"'.encode())
    start = data.find(b"[", at) if at >= 0 else -1
    if start < 0:
        return None
    end = data.find(b"]]" if nested else b"]", start)
    return data[start:end + (2 if nested else 1)] if end >= 0 else None


def _pae_rows(text: bytes, rows: int) -> np.ndarray | None:
    """Return the rows x rows matrix written as `[[a,b],[c,d]]` (None when it is not one).

    pandas' C reader takes AF3's compact text one row per line; spaced JSON goes through numpy.
    """
    try:
        pae = pd.read_csv(io.BytesIO(text.strip()[2:-2].replace(b"],[", b"\n")), header=None, dtype=np.float32,
                          engine="c").to_numpy()
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        flat = np.fromstring(text.translate(None, b"[]").decode(), dtype=np.float32, sep=",")
        pae = flat.reshape(rows, rows) if flat.size == rows * rows else None
    return pae if pae is not None and pae.shape == (rows, rows) else None


def _read_arrays(path: Path) -> tuple[np.ndarray, list[str], list[int]]:
    """Return PAE, token chain ids and token residue numbers of a confidences file.

    The PAE of a 5,000-token job is 25 million numbers: parsed by numpy from the array's text
    (seconds, one float array) rather than by `json` (a Python object per number, gigabytes).
    Files that do not look like AF3's fall back to `json`. The file is mapped, not read: only the
    arrays used are copied (contact_probs, as large as the PAE, never is).
    """
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pae_text = _array_text(data, "pae", nested=True)
            chains_text = _array_text(data, "token_chain_ids", False)
            res_text = _array_text(data, "token_res_ids", False)
    except ValueError:  # an empty file cannot be mapped
        pae_text = chains_text = res_text = None
    if pae_text is not None and chains_text is not None and res_text is not None:
        rows = pae_text.count(b"[") - 1
        pae = _pae_rows(pae_text, rows) if rows > 0 else None
        if pae is not None:
            return pae, json.loads(chains_text), json.loads(res_text)
    doc = json.loads(path.read_bytes())
    return np.array(doc["pae"], dtype=np.float32), list(doc["token_chain_ids"]), list(doc["token_res_ids"])


def sample_confidences(files: SampleFiles, max_bytes: int = defaults.RESULTS_CONFIDENCES_MAX_BYTES,
                       max_cells: int = defaults.RESULTS_PAE_MAX_CELLS,
                       cache_dir: Path | None = None) -> Confidences | None:
    """Return one sample's PAE (block-averaged) and per-token pLDDT, or None when it has no arrays.

    Files over `max_bytes` are not parsed: the note says so and points at the download. With
    `cache_dir`, the reduced arrays are kept there (keyed by file, size and mtime), so a large
    sample is parsed once, not on every visit.
    """
    path = files.confidences
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    if stat.st_size > max_bytes:
        return _empty(f"{path.name} is {stat.st_size / 1024 / 1024:.0f} MB; download it to look at it.")
    if cache_dir is None:
        return _reduce(files, path, max_cells)
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{max_cells}"
    with diskcache.Cache(str(cache_dir)) as cache:
        hit = cache.get(key)
        if isinstance(hit, Confidences):
            return hit
        # one parse per sample at a time, across threads and web workers: a second visitor waits for
        # the first one's result instead of holding another few hundred MB for the same file
        with diskcache.Lock(cache, f"lock|{key}", expire=defaults.RESULTS_PARSE_LOCK_SECONDS):
            hit = cache.get(key)
            if isinstance(hit, Confidences):
                return hit
            conf = _reduce(files, path, max_cells)
            if not conf.note:
                cache.set(key, conf, expire=defaults.RESULTS_CACHE_SECONDS)
    return conf


def _reduce(files: SampleFiles, path: Path, max_cells: int) -> Confidences:
    try:
        pae, token_chains, token_res = _read_arrays(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _empty(f"{path.name} could not be read: {exc}")
    if pae.ndim != 2 or pae.shape[0] != pae.shape[1] or pae.shape[0] != len(token_chains):
        return _empty(f"{path.name} has a PAE that is not tokens x tokens.")
    reduced, block = _block_mean(pae, max_cells)
    try:
        tokens = _tokens(token_chains, token_res, files.model)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return _empty(f"{files.model.name if files.model else 'the model'} could not be read: {exc}")
    return Confidences(pae=np.round(reduced.astype(float), 1).tolist(), pae_block=block, tokens=tokens,
                       chain_starts=_starts(token_chains))


def best_confidences(job_dir: Path, max_bytes: int = defaults.RESULTS_CONFIDENCES_MAX_BYTES,
                     max_cells: int = defaults.RESULTS_PAE_MAX_CELLS,
                     cache_dir: Path | None = None) -> Confidences | None:
    """Return the top-ranked sample's confidences (see `sample_confidences`), or None.

    The job page opens on that sample: the worker calls this with the page's `cache_dir` when a job
    succeeds, so a large PAE is parsed then and the first visit finds it reduced.
    """
    contents = describe_folder(job_dir)
    scores = sample_scores(contents)
    if not scores:
        return None
    return sample_confidences(find_sample(contents, scores[0].key), max_bytes, max_cells, cache_dir=cache_dir)


def find_sample(contents: FolderContents, key: str | None) -> SampleFiles | None:
    """Return the sample called `key` (None: the first)."""
    return next((s for s in contents.samples if key is None or s.key == key), None)


def job_folders(output_path: str | Path | None) -> list[Path]:
    """Return the AF3 job folders inside an attempt's output folder (one per fold job)."""
    folder = Path(output_path) if output_path else None
    return sorted(d for d in folder.iterdir() if d.is_dir()) if folder and folder.is_dir() else []


def read_results(output_path: str | Path | None) -> Results:
    """Return the files and sample scores of an attempt's output folder (empty when absent)."""
    if not output_path:
        return Results([], 0, [])
    folder = Path(output_path)
    files, more = list_files(folder)
    contents = describe_folder(folder)
    return Results(files, more, sample_scores(contents), contents)


def relative_to_output(output_path: str | Path, path: Path | None) -> str | None:
    """Return `path` relative to the output folder with forward slashes (for download URLs)."""
    if path is None:
        return None
    try:
        return path.resolve().relative_to(Path(output_path).resolve()).as_posix()
    except ValueError:
        return None


def resolve_file(output_path: str | Path | None, relative: str) -> Path | None:
    """Return the file `relative` inside the output folder, or None if it is outside or missing."""
    if not output_path:
        return None
    root = Path(output_path).resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        return None
    return target
