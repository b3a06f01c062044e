"""Every sample's scores (ranking, pTM, ipTM, chain-pair matrices), best first, and what they warn of."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from services.platform import defaults
from services.results.files import OutputFile, list_files
from services.results.folder import FolderContents, SampleFiles, as_number, describe_folder


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
    chain_ptm: list[float | None] = field(default_factory=list)  # each chain alone (the matrix's diagonal)
    chain_iptm: list[float | None] = field(default_factory=list)  # each chain against the others (AF3: use for ligands)


@dataclass(frozen=True)
class Results:
    files: list[OutputFile]
    more_files: int  # files not listed because of the cap
    samples: list[SampleScore]  # best ranking score first
    contents: FolderContents | None = None


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
    return [[as_number(x) for x in row] for row in value]


def _vector(value: object) -> list[float | None]:
    return [as_number(x) for x in value] if isinstance(value, list) else []


def _score(files: SampleFiles) -> SampleScore:
    summary = _read_json(files.summary)
    ranking = files.csv_score if files.csv_score is not None else as_number(summary.get("ranking_score"))
    clash = as_number(summary.get("has_clash"))
    return SampleScore(files.key, files.label, files.seed, files.sample, ranking, as_number(summary.get("ptm")),
                       as_number(summary.get("iptm")), as_number(summary.get("fraction_disordered")),
                       None if clash is None else clash > 0, chain_pair_iptm=_matrix(summary.get("chain_pair_iptm")),
                       chain_pair_pae_min=_matrix(summary.get("chain_pair_pae_min")),
                       chain_ptm=_vector(summary.get("chain_ptm")), chain_iptm=_vector(summary.get("chain_iptm")))


def sample_scores(contents: FolderContents | Path) -> list[SampleScore]:
    """Return every sample's scores, best ranking score first and marked `best`."""
    if not isinstance(contents, FolderContents):
        contents = describe_folder(contents)
    scores = sorted((_score(s) for s in contents.samples),
                    key=lambda s: -(s.ranking_score if s.ranking_score is not None else float("-inf")))
    if scores:
        scores[0] = SampleScore(**{**scores[0].__dict__, "best": True})
    return scores


def trouble(score: SampleScore, chain_tokens: dict[str, int] | None = None) -> list[str]:
    """Return plain-words warnings for the values that mean a prediction needs care.

    `chain_tokens` (tokens per chain id) lets the ipTM warning carry AF3's caveat: pTM and ipTM
    are very strict for chains under RESULTS_SMALL_CHAIN_TOKENS tokens (peptides, ions, ligands).
    """
    notes = []
    if score.has_clash:
        notes.append("atoms clash in this model: parts of it overlap and are not physically possible")
    if score.iptm is not None and score.iptm < defaults.RESULTS_IPTM_TROUBLE:
        note = (f"ipTM {score.iptm:.2f} is below {defaults.RESULTS_IPTM_TROUBLE}: "
                "the relative placement of the chains is likely wrong")
        small = [c for c, n in (chain_tokens or {}).items() if n < defaults.RESULTS_SMALL_CHAIN_TOKENS]
        if small:
            note += (f" — but chain{'s' if len(small) > 1 else ''} {', '.join(small)} "
                     f"{'have' if len(small) > 1 else 'has'} under {defaults.RESULTS_SMALL_CHAIN_TOKENS} tokens, "
                     "where AF3's pTM and ipTM are very strict and can be low for a correct placement: "
                     "judge those by chain ipTM and chain-pair PAE min (AF3's output docs)")
        notes.append(note)
    if score.fraction_disordered is not None and score.fraction_disordered > defaults.RESULTS_DISORDER_TROUBLE:
        notes.append(f"{score.fraction_disordered:.0%} of the model is disordered: "
                     "much of it is probably not a reliable structure")
    return notes


def read_results(output_path: str | Path | None) -> Results:
    """Return the files and sample scores of an attempt's output folder (empty when absent)."""
    if not output_path:
        return Results([], 0, [])
    folder = Path(output_path)
    files, more = list_files(folder)
    contents = describe_folder(folder)
    return Results(files, more, sample_scores(contents), contents)
