"""Synthetic confidences shaped and related like AF3's: pLDDT, PAE, contacts and the summary scores.

Scores are derived from each other the way AF3 derives them (pTM/ipTM from PAE with the TM-score
kernel, chain_pair_pae_min from PAE, contacts from the sample's distances, ranking from ipTM/pTM),
so a viewer sees self-consistent numbers. None of it is a prediction.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from services.af3sim.structure import Layout, Vec, representative_points

_PAE_MAX = 31.75  # AF3's PAE bins end here
_CONTACT_CUTOFF_A = 8.0  # AF3 contact_probs: representative atoms within 8 A
_DISORDER_PLDDT = 50.0  # stand-in for AF3's RASA test: low-confidence protein residues count as disordered


@dataclass
class Sample:
    """Everything one diffusion sample writes."""

    coords: list[list[Vec]]
    atom_plddts: list[float]
    pae: list[list[float]]
    contact_probs: list[list[float]]
    summary: dict
    ranking_score: float  # full precision, as the ranking CSV writes it


def _residue_plddts(layout: Layout, rng: random.Random) -> list[float]:
    """Return one smooth pLDDT per residue: per-chain quality, wavy profile, floppy termini."""
    quality = {cid: rng.uniform(68.0, 93.0) for cid in layout.chain_ids}
    lengths: dict[str, int] = {}
    for r in layout.residues:
        lengths[r.chain_id] = max(lengths.get(r.chain_id, 0), r.res_id)
    phase = rng.uniform(0, 2 * math.pi)
    out = []
    for r in layout.residues:
        ends = min(r.res_id - 1, lengths[r.chain_id] - r.res_id)
        terminus = 0.0 if r.kind == "ligand" else max(0.0, 18.0 - 4.0 * ends)
        wave = 6.0 * math.sin(r.res_id / 7.0 + phase)
        out.append(min(98.5, max(20.0, quality[r.chain_id] + wave - terminus + rng.gauss(0, 1.5))))
    return out


def _atom_plddts(layout: Layout, res_plddt: list[float], rng: random.Random) -> list[float]:
    """Return per-atom pLDDT: the residue's value, a little lower towards side-chain tips."""
    out = []
    for r, base in zip(layout.residues, res_plddt, strict=True):
        n = len(r.atoms)
        out += [min(99.99, max(0.0, base - 3.0 * j / max(n, 1) + rng.gauss(0, 0.6))) for j in range(n)]
    return out


def _token_plddts(layout: Layout, res_plddt: list[float]) -> list[float]:
    """Return the pLDDT of each token's residue."""
    return [res_plddt[t.residue] for t in layout.tokens]


def _pae(layout: Layout, tok_plddt: list[float], rng: random.Random) -> list[list[float]]:
    """Return token x token PAE: low inside confident chains, higher across chains and far in sequence."""
    chain_of = [layout.residues[t.residue].chain_id for t in layout.tokens]
    pos = [layout.residues[t.residue].res_id for t in layout.tokens]
    pair_offset: dict[tuple[str, str], float] = {}
    for a in layout.chain_ids:
        for b in layout.chain_ids:
            if a != b and (b, a) not in pair_offset:
                pair_offset[(a, b)] = rng.uniform(1.5, 12.0)
    n = len(layout.tokens)
    pae = []
    uniform = rng.random
    for i in range(n):
        row_base = 0.3 + (100.0 - tok_plddt[i]) / 20.0  # 0.6 base minus the 0.3 jitter offset
        row = []
        for j in range(n):
            if i == j:
                row.append(0.2 + uniform() * 0.4)
                continue
            base = row_base + (100.0 - tok_plddt[j]) / 7.0
            if chain_of[i] == chain_of[j]:
                base += min(6.0, 0.04 * abs(pos[i] - pos[j]))
            else:
                base += pair_offset.get((chain_of[i], chain_of[j])) or pair_offset[(chain_of[j], chain_of[i])]
            row.append(min(_PAE_MAX, base + 0.6 * uniform()))
        pae.append(row)
    return pae


def _contacts(points: list[Vec]) -> list[list[float]]:
    """Return contact probabilities from representative-atom distances (logistic around 8 A)."""
    far = (_CONTACT_CUTOFF_A + 12.0) ** 2  # beyond this the logistic is < 1e-4: skip the exp
    out = []
    for i, (px, py, pz) in enumerate(points):
        row = []
        for j, (qx, qy, qz) in enumerate(points):
            d2 = (px - qx) ** 2 + (py - qy) ** 2 + (pz - qz) ** 2
            if i == j:
                row.append(1.0)
            elif d2 > far:
                row.append(0.0)
            else:
                row.append(1.0 / (1.0 + math.exp((math.sqrt(d2) - _CONTACT_CUTOFF_A) / 1.2)))
        out.append(row)
    return out


def _tm(pae: list[list[float]], rows: list[int], cols_of, n_tokens: int) -> float:
    """Return max over aligned frames i in `rows` of the mean TM kernel over `cols_of(i)` (AF3's pTM shape)."""
    d0 = 1.24 * (max(n_tokens, 19) - 15) ** (1.0 / 3.0) - 1.8
    best = float("nan")
    for i in rows:
        cols = cols_of(i)
        if not cols:
            continue
        score = sum(1.0 / (1.0 + (pae[i][j] / d0) ** 2) for j in cols) / len(cols)
        best = score if math.isnan(best) else max(best, score)
    return best


def _r2(x: float) -> float | None:
    """Round to 2 decimals; NaN becomes None (JSON null), as AF3 writes it."""
    return None if math.isnan(x) else round(x, 2)


def summarise(layout: Layout, pae: list[list[float]], res_plddt: list[float]) -> dict:
    """Return the summary-confidences dict (unrounded keys sorted later by json.dumps)."""
    chain_of = [layout.residues[t.residue].chain_id for t in layout.tokens]
    members = {cid: [i for i, c in enumerate(chain_of) if c == cid] for cid in layout.chain_ids}
    every = list(range(len(chain_of)))
    ptm = _tm(pae, every, lambda i: every, len(every))
    multi = len(layout.chain_ids) > 1
    iptm = _tm(pae, every, lambda i: [j for j in every if chain_of[j] != chain_of[i]], len(every)) if multi \
        else float("nan")
    pair_iptm, pae_min = [], []
    for a in layout.chain_ids:
        row_i, row_p = [], []
        for b in layout.chain_ids:
            both = members[a] + members[b] if a != b else members[a]
            if a == b:
                row_i.append(_tm(pae, both, lambda i, m=members[a]: m, len(both)))
            else:
                row_i.append(_tm(pae, both, lambda i, s=set(members[a]), x=members[a], y=members[b]:
                                 y if i in s else x, len(both)))
            row_p.append(min(pae[i][j] for i in members[a] for j in members[b]))
        pair_iptm.append(row_i)
        pae_min.append(row_p)
    k = len(layout.chain_ids)
    chain_iptm = [sum(pair_iptm[a][b] for b in range(k) if b != a) / (k - 1) if multi else float("nan")
                  for a in range(k)]
    protein = [p for r, p in zip(layout.residues, res_plddt, strict=True) if r.kind == "protein"]
    disordered = sum(p < _DISORDER_PLDDT for p in protein) / len(protein) if protein else 0.0
    has_clash = 0.0
    core = ptm if math.isnan(iptm) else 0.8 * iptm + 0.2 * ptm
    return {
        "chain_ids": chain_of,
        "chain_iptm": [_r2(x) for x in chain_iptm],
        "chain_pair_iptm": [[_r2(x) for x in row] for row in pair_iptm],
        "chain_pair_pae_min": [[_r2(x) for x in row] for row in pae_min],
        "chain_ptm": [_r2(pair_iptm[a][a]) for a in range(k)],
        "fraction_disordered": _r2(disordered),
        "has_clash": has_clash,
        "iptm": _r2(iptm),
        "ptm": _r2(ptm),
        "ranking_score": _r2(core + 0.5 * disordered - 100.0 * has_clash),
        "_ranking_score_full": core + 0.5 * disordered - 100.0 * has_clash,
    }


def make_sample(layout: Layout, base_coords: list[list[Vec]], rng: random.Random) -> Sample:
    """Return one sample: the base structure jittered, with confidences derived from it."""
    coords = [[(x + rng.gauss(0, 0.25), y + rng.gauss(0, 0.25), z + rng.gauss(0, 0.25)) for x, y, z in res]
              for res in base_coords]
    res_plddt = _residue_plddts(layout, rng)
    atom_plddt = _atom_plddts(layout, res_plddt, rng)
    pae = _pae(layout, _token_plddts(layout, res_plddt), rng)
    contacts = _contacts(representative_points(layout, coords))
    summary = summarise(layout, pae, res_plddt)
    return Sample(coords, atom_plddt, pae, contacts, summary, summary.pop("_ranking_score_full"))
