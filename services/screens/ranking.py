"""A screen's results as one table: every member's best sample, ranked by AF3's ranking score.

Per member: the ranking score, the ipTM of the varied chain (the ligand) with the rest (the best pair
over the other chains, from `chain_pair_iptm`), the varied chain's own `chain_iptm`, the smallest PAE
between it and the other chains (`chain_pair_pae_min`, both directions) and its mean atom pLDDT
(`atom_plddts` over `atom_chain_ids` in the sample's confidences.json). Chains are indexed in the
order AF3 wrote them (`token_chain_ids`), never guessed from the input.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from services import results
from services.platform import defaults
from services.screens.store import Screen

COLUMNS = ("rank", "label", "value", "job_id", "state", "ranking_score", "iptm_pair", "chain_iptm", "pae_min",
           "plddt", "ptm", "iptm")


@dataclass(frozen=True)
class Row:
    rank: int | None  # 1 = best ranking score; None for a member without results
    label: str
    value: str
    job_id: int
    state: str
    ranking_score: float | None = None
    iptm_pair: float | None = None  # ipTM of the varied chain with the other chains (best pair)
    chain_iptm: float | None = None
    pae_min: float | None = None  # smallest min-PAE between the varied chain and any other chain (Å)
    plddt: float | None = None  # mean pLDDT of the varied chain's atoms
    ptm: float | None = None
    iptm: float | None = None


def _confidences(path: Path | None) -> dict:
    """Return a sample's confidences.json ({} when missing, too large or unreadable)."""
    if path is None or not path.is_file() or path.stat().st_size > defaults.RESULTS_CONFIDENCES_MAX_BYTES:
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _chain_order(conf: dict) -> list[str]:
    """Return the chain ids in AF3's order (first appearance in token_chain_ids, else atom_chain_ids)."""
    ids = conf.get("token_chain_ids") or conf.get("atom_chain_ids") or []
    return list(dict.fromkeys(ids))


def _pick(matrix: list[list[float | None]], i: int, others: list[int], best: type = max) -> float | None:
    """Return the best of matrix[i][j] and matrix[j][i] over j in `others` (None when none is known)."""
    values = [v for j in others for v in (matrix[i][j] if i < len(matrix) and j < len(matrix[i]) else None,
                                           matrix[j][i] if j < len(matrix) and i < len(matrix[j]) else None)
              if v is not None]
    return best(values) if values else None


def member_scores(output_path: str | Path | None, chain: str) -> dict[str, float | None]:
    """Return the scores of a member's best sample for its varied chain `chain` ({} without results)."""
    read = results.read_results(output_path)
    if not read.samples or read.contents is None:
        return {}
    best = read.samples[0]
    files = results.find_sample(read.contents, best.key)
    conf = _confidences(files.confidences if files else None)
    order = _chain_order(conf)
    out: dict[str, float | None] = {"ranking_score": best.ranking_score, "ptm": best.ptm, "iptm": best.iptm}
    if chain not in order:
        return out
    i = order.index(chain)
    others = [j for j in range(len(order)) if j != i]
    summary = json.loads(files.summary.read_text()) if files and files.summary else {}
    chain_iptm = summary.get("chain_iptm") or []
    out["chain_iptm"] = results.as_number(chain_iptm[i]) if i < len(chain_iptm) else None
    out["iptm_pair"] = _pick(best.chain_pair_iptm, i, others, max)
    out["pae_min"] = _pick(best.chain_pair_pae_min, i, others, min)
    plddts = [p for c, p in zip(conf.get("atom_chain_ids") or [], conf.get("atom_plddts") or [], strict=False)
              if c == chain and isinstance(p, int | float)]
    out["plddt"] = round(sum(plddts) / len(plddts), 2) if plddts else None
    return out


def ranked_rows(screen: Screen) -> list[Row]:
    """Return one row per member, those with results first by ranking score (best first), then the rest."""
    rows = []
    for m in screen.members:
        scores = member_scores(m.job.output_path, m.chain_id) if m.job.state.value == "succeeded" else {}
        rows.append(Row(None, m.label, m.value, m.job.id, m.job.state.value, **scores))
    ranked = sorted((r for r in rows if r.ranking_score is not None), key=lambda r: -r.ranking_score)
    rest = [r for r in rows if r.ranking_score is None]
    return [Row(**{**asdict(r), "rank": n}) for n, r in enumerate(ranked, start=1)] + rest


def rows_csv(rows: list[Row]) -> str:
    """Return the table as CSV text, one header line then one line per member."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return out.getvalue()
