"""One sample's confidence arrays (PAE, per-token pLDDT), read within bounds and ready for plotting.

The PAE of a large job is tens of millions of numbers: it is read from the file's text by numpy,
drawn as an image with one pixel per token pair (`pae_image`: nothing averaged), and cached on
disk so a large sample is parsed once.
"""
from __future__ import annotations

import io
import json
import mmap
from dataclasses import dataclass
from pathlib import Path

import diskcache
import numpy as np
import pandas as pd

from services.platform import defaults
from services.results.folder import SampleFiles, describe_folder, find_sample
from services.results.interfaces import Interface, find_interfaces
from services.results.mmcif_atoms import read_residues
from services.results.pae_image import pae_image
from services.results.scores import sample_scores


@dataclass(frozen=True)
class Token:
    """One PAE row/column: a polymer residue, or one atom of a ligand or modified residue."""

    chain: str
    number: int  # residue number (auth_seq_id)
    name: str  # residue CCD code
    atom: str  # atom name for per-atom tokens, "" for a residue
    plddt: float | None

    @property
    def label(self) -> str:
        """What a person reads: "A LYS 94", or "B ATP 1 C4'" for one atom of a ligand."""
        return f"{self.chain} {self.name or '?'} {self.number}{' ' + self.atom if self.atom else ''}"


@dataclass(frozen=True)
class Confidences:
    """One sample's confidence arrays, ready for plotting."""

    pae_png: bytes  # the token x token PAE as a palette PNG, one pixel per token pair (see pae_image)
    pae_block: int  # tokens per pixel side: 1 = every cell; above that, each pixel is its block's minimum
    tokens: list[Token]  # PAE order; pLDDT per residue for polymers, per atom for ligands
    chain_starts: list[tuple[str, int]]  # (chain id, first token index) in input order
    note: str = ""  # why nothing could be plotted, when arrays are empty
    interfaces: tuple[Interface, ...] = ()  # chain pairs in contact (from contact_probs), input order

    @property
    def chain_ids(self) -> list[str]:
        return [c for c, _ in self.chain_starts]


def _starts(chain_ids: list[str]) -> list[tuple[str, int]]:
    """Return where each run of equal chain ids begins."""
    return [(c, i) for i, c in enumerate(chain_ids) if i == 0 or chain_ids[i - 1] != c]


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
        elif (count == 1 and res.polymer) or len(res.atoms) != count:
            plddt = round(float(np.mean(res.plddts)), 2)
            out += [Token(res.chain, res.number, res.name, "", plddt) for _ in range(count)]
        else:
            out += [Token(res.chain, res.number, res.name, a, round(p, 2)) for a, p in zip(res.atoms, res.plddts,
                                                                                         strict=True)]
        i = j + 1
    return out


def _empty(note: str) -> Confidences:
    return Confidences(b"", 0, [], [], note=note)


def array_text(data: bytes, key: str, nested: bool) -> bytes | None:
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
    arrays used are copied (contact_probs, as large as the PAE, is read by `_read_contacts`).
    """
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pae_text = array_text(data, "pae", nested=True)
            chains_text = array_text(data, "token_chain_ids", False)
            res_text = array_text(data, "token_res_ids", False)
    except ValueError:  # an empty file cannot be mapped
        pae_text = chains_text = res_text = None
    if pae_text is not None and chains_text is not None and res_text is not None:
        rows = pae_text.count(b"[") - 1
        pae = _pae_rows(pae_text, rows) if rows > 0 else None
        if pae is not None:
            return pae, json.loads(chains_text), json.loads(res_text)
    doc = json.loads(path.read_bytes())
    return np.array(doc["pae"], dtype=np.float32), list(doc["token_chain_ids"]), list(doc["token_res_ids"])


def _read_contacts(path: Path, n: int) -> np.ndarray | None:
    """Return the n x n `contact_probs` of a confidences file (None when absent or not that shape)."""
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            text = array_text(data, "contact_probs", nested=True)
    except (OSError, ValueError):
        return None
    return _pae_rows(text, n) if text is not None and n > 0 and text.count(b"[") - 1 == n else None


def sample_confidences(files: SampleFiles, max_bytes: int = defaults.RESULTS_CONFIDENCES_MAX_BYTES,
                       max_cells: int = defaults.RESULTS_PAE_MAX_CELLS,
                       cache_dir: Path | None = None) -> Confidences | None:
    """Return one sample's PAE (as an image) and per-token pLDDT, or None when it has no arrays.

    Files over `max_bytes` are not parsed: the note says so and points at the download. With
    `cache_dir`, the image and tokens are kept there (keyed by file, size and mtime), so a large
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
    key = f"png2|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{max_cells}|{_model_stamp(files.model)}"
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


def _model_stamp(model: Path | None) -> str:
    """Return what identifies the model file's version (the tokens' names come from it)."""
    try:
        stat = model.stat() if model else None
    except OSError:
        return ""
    return f"{stat.st_size}|{stat.st_mtime_ns}" if stat else ""


def _reduce(files: SampleFiles, path: Path, max_cells: int) -> Confidences:
    try:
        pae, token_chains, token_res = _read_arrays(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _empty(f"{path.name} could not be read: {exc}")
    if pae.ndim != 2 or pae.shape[0] != pae.shape[1] or pae.shape[0] != len(token_chains):
        return _empty(f"{path.name} has a PAE that is not tokens x tokens.")
    image = pae_image(pae, max_cells)
    try:
        tokens = _tokens(token_chains, token_res, files.model)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return _empty(f"{files.model.name if files.model else 'the model'} could not be read: {exc}")
    starts = _starts(token_chains)
    contacts = _read_contacts(path, len(token_chains))
    found = () if contacts is None else tuple(find_interfaces(contacts, pae, [t.number for t in tokens], starts,
                                                              defaults.RESULTS_CONTACT_PROB))
    return Confidences(pae_png=image.png, pae_block=image.block, tokens=tokens, chain_starts=starts,
                       interfaces=found)


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
