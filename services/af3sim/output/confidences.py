"""Synthetic confidences shaped and related like AF3's: pLDDT, PAE, contacts and the summary scores.

Scores are derived from each other the way AF3 derives them (pTM/ipTM from PAE with the TM-score
kernel, chain_pair_pae_min from PAE, contacts from the sample's distances, ranking from ipTM/pTM),
so a viewer sees self-consistent numbers. None of it is a prediction.

Vectorised with numpy and worked in row blocks: a 5,000-token sample has 25 M PAE and 25 M contact
values. They are kept at the precision the files show (PAE in tenths as uint16, contact
probabilities in hundredths as uint8), which is also what the summary scores are computed from.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from services.af3sim.output.structure import Layout, Vec

_PAE_MAX = 31.75  # AF3's PAE bins end here
_CONTACT_CUTOFF_A = 8.0  # AF3 contact_probs: representative atoms within 8 A
_DISORDER_PLDDT = 50.0  # stand-in for AF3's RASA test: low-confidence protein residues count as disordered
_BLOCK_ROWS = 256  # rows per block: a 5,000-token block of float32 temporaries stays ~5 MB


@dataclass
class Sample:
    """Everything one diffusion sample writes."""

    coords: np.ndarray  # (atoms, 3) float64, in layout atom order
    atom_plddts: np.ndarray  # (atoms,) float64 in [0, 99.99]
    pae_tenths: np.ndarray  # (tokens, tokens) uint16: PAE in units of 0.1 A, as written
    contact_pct: np.ndarray  # (tokens, tokens) uint8: contact probability in hundredths, as written
    summary: dict
    ranking_score: float  # full precision, as the ranking CSV writes it

    @property
    def pae(self) -> np.ndarray:
        """Return PAE in Angstrom (float32)."""
        return self.pae_tenths.astype(np.float32) / 10.0

    @property
    def contact_probs(self) -> np.ndarray:
        """Return contact probabilities in [0, 1] (float32)."""
        return self.contact_pct.astype(np.float32) / 100.0


@dataclass(frozen=True)
class _Tokens:
    """Per-token arrays of a layout, computed once per sample."""

    chain: np.ndarray  # chain index of each token
    pos: np.ndarray  # residue number of each token
    members: list[np.ndarray]  # token indices per chain, in layout.chain_ids order


def _tokens(layout: Layout) -> _Tokens:
    index = {cid: k for k, cid in enumerate(layout.chain_ids)}
    chain = np.fromiter((index[layout.residues[t.residue].chain_id] for t in layout.tokens), np.int32,
                        len(layout.tokens))
    pos = np.fromiter((layout.residues[t.residue].res_id for t in layout.tokens), np.int32, len(layout.tokens))
    return _Tokens(chain, pos, [np.flatnonzero(chain == k) for k in range(len(layout.chain_ids))])


def _residue_plddts(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """Return one smooth pLDDT per residue: per-chain quality, wavy profile, floppy termini."""
    quality = {cid: q for cid, q in zip(layout.chain_ids, rng.uniform(68.0, 93.0, len(layout.chain_ids)),
                                        strict=True)}
    lengths: dict[str, int] = {}
    for r in layout.residues:
        lengths[r.chain_id] = max(lengths.get(r.chain_id, 0), r.res_id)
    res_id = np.array([r.res_id for r in layout.residues], np.float64)
    ends = np.array([min(r.res_id - 1, lengths[r.chain_id] - r.res_id) for r in layout.residues], np.float64)
    ligand = np.array([r.kind == "ligand" for r in layout.residues])
    terminus = np.where(ligand, 0.0, np.maximum(0.0, 18.0 - 4.0 * ends))
    wave = 6.0 * np.sin(res_id / 7.0 + rng.uniform(0, 2 * math.pi))
    base = np.array([quality[r.chain_id] for r in layout.residues])
    return np.clip(base + wave - terminus + rng.normal(0, 1.5, len(layout.residues)), 20.0, 98.5)


def _atom_plddts(layout: Layout, res_plddt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return per-atom pLDDT: the residue's value, a little lower towards side-chain tips."""
    counts = np.array([len(r.atoms) for r in layout.residues], np.int64)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    j = np.arange(counts.sum()) - starts  # atom index inside its residue
    n = np.repeat(np.maximum(counts, 1), counts)
    base = np.repeat(res_plddt, counts)
    return np.clip(base - 3.0 * j / n + rng.normal(0, 0.6, len(base)), 0.0, 99.99)


def _pae_tenths(layout: Layout, toks: _Tokens, tok_plddt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return token x token PAE in tenths: low inside confident chains, higher across chains and far in sequence."""
    k = len(layout.chain_ids)
    offsets = np.zeros((k, k), np.float32)
    for a in range(k):
        for b in range(a + 1, k):
            offsets[a, b] = offsets[b, a] = rng.uniform(1.5, 12.0)
    n = len(layout.tokens)
    col = ((100.0 - tok_plddt) / 7.0).astype(np.float32)
    row = (0.3 + (100.0 - tok_plddt) / 20.0).astype(np.float32)  # 0.6 base minus the 0.3 jitter offset
    pos = toks.pos.astype(np.float32)
    out = np.empty((n, n), np.uint16)
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        # across chains: the chain pair's offset; inside a chain: grows with sequence distance, up to 6 A
        block = np.take(offsets[toks.chain[lo:hi]], toks.chain, axis=1)
        far = np.abs(pos[lo:hi, None] - pos[None, :])
        np.multiply(far, 0.04, out=far)
        np.minimum(far, 6.0, out=far)
        same = toks.chain[lo:hi, None] == toks.chain[None, :]
        np.copyto(block, far, where=same)
        block += row[lo:hi, None]
        block += col[None, :]
        noise = rng.random((hi - lo, n), np.float32)
        noise *= 0.6
        block += noise
        np.minimum(block, _PAE_MAX, out=block)
        diag = np.arange(lo, hi)
        block[diag - lo, diag] = 0.2 + 0.4 * rng.random(hi - lo, np.float32)
        block *= 10.0
        np.rint(block, out=block)
        out[lo:hi] = block
    return out


def _contact_pct(points: np.ndarray) -> np.ndarray:
    """Return contact probabilities in hundredths from representative-atom distances (logistic around 8 A)."""
    n = len(points)
    far = (_CONTACT_CUTOFF_A + 12.0) ** 2  # beyond this the logistic is < 1e-4: written as 0
    pts = points.astype(np.float32)
    sq = (pts ** 2).sum(axis=1)
    out = np.empty((n, n), np.uint8)
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        d2 = pts[lo:hi] @ pts.T
        d2 *= -2.0
        d2 += sq[lo:hi, None]
        d2 += sq[None, :]
        near = d2 <= far
        np.maximum(d2, 0.0, out=d2)
        np.sqrt(d2, out=d2)
        d2 -= _CONTACT_CUTOFF_A
        d2 /= 1.2
        np.minimum(d2, 80.0, out=d2)  # exp stays finite in float32
        np.exp(d2, out=d2)
        d2 += 1.0
        np.reciprocal(d2, out=d2)
        d2 *= 100.0
        d2 += 0.5
        np.floor(d2, out=d2)
        d2 *= near
        diag = np.arange(lo, hi)
        d2[diag - lo, diag] = 100.0
        out[lo:hi] = d2
    return out


def _d0(n_tokens: int) -> float:
    """Return the TM-score distance scale for `n_tokens` (AF3's pTM)."""
    return 1.24 * (max(n_tokens, 19) - 15) ** (1.0 / 3.0) - 1.8


def _tm_rows(pae_tenths: np.ndarray, d0: float) -> np.ndarray:
    """Return the TM kernel 1 / (1 + (pae / d0)^2) of a (sub)matrix, float32."""
    x = pae_tenths.astype(np.float32) / np.float32(10.0 * d0)
    return 1.0 / (1.0 + x * x)


def _best(rows: np.ndarray) -> float:
    """Return the max of per-row means (nan when there are none)."""
    return float(rows.max()) if rows.size else float("nan")


def _r2(x: float) -> float | None:
    """Round to 2 decimals; NaN becomes None (JSON null), as AF3 writes it."""
    return None if math.isnan(x) else round(float(x), 2)


def _global_tm(pae_tenths: np.ndarray, toks: _Tokens) -> tuple[float, float]:
    """Return (pTM, ipTM) over all tokens: max over aligned rows of the mean kernel (ipTM: other chains only)."""
    n = len(pae_tenths)
    d0 = _d0(n)
    ptm_rows, iptm_rows = np.empty(n), np.empty(n)
    sizes = np.array([len(m) for m in toks.members])
    one_hot = np.zeros((n, len(toks.members)), np.float32)
    one_hot[np.arange(n), toks.chain] = 1.0
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        kern = _tm_rows(pae_tenths[lo:hi], d0)
        total = kern.sum(axis=1, dtype=np.float64)
        ptm_rows[lo:hi] = total / n
        own = (kern @ one_hot)[np.arange(hi - lo), toks.chain[lo:hi]].astype(np.float64)  # same-chain sums
        others = n - sizes[toks.chain[lo:hi]]
        with np.errstate(invalid="ignore", divide="ignore"):
            iptm_rows[lo:hi] = np.where(others > 0, (total - own) / np.maximum(others, 1), np.nan)
    iptm = iptm_rows[~np.isnan(iptm_rows)]
    return _best(ptm_rows), (_best(iptm) if len(toks.members) > 1 else float("nan"))


def summarise(layout: Layout, pae_tenths: np.ndarray, res_plddt: np.ndarray, toks: _Tokens | None = None) -> dict:
    """Return the summary-confidences dict (unrounded keys sorted later by json.dumps)."""
    toks = toks or _tokens(layout)
    chain_of = [layout.chain_ids[c] for c in toks.chain]
    ptm, iptm = _global_tm(pae_tenths, toks)
    multi = len(layout.chain_ids) > 1
    k = len(layout.chain_ids)
    pair_iptm = [[float("nan")] * k for _ in range(k)]
    pae_min = [[float("nan")] * k for _ in range(k)]
    for a in range(k):
        for b in range(a, k):
            ma, mb = toks.members[a], toks.members[b]
            ab = pae_tenths[np.ix_(ma, mb)]
            ba = ab.T if a == b else pae_tenths[np.ix_(mb, ma)]
            pae_min[a][b] = float(ab.min()) / 10.0 if ab.size else float("nan")
            pae_min[b][a] = float(ba.min()) / 10.0 if ba.size else float("nan")
            if a == b:
                pair_iptm[a][a] = _best(_tm_rows(ab, _d0(len(ma))).mean(axis=1, dtype=np.float64))
            else:
                d0 = _d0(len(ma) + len(mb))
                pair_iptm[a][b] = pair_iptm[b][a] = max(_best(_tm_rows(ab, d0).mean(axis=1, dtype=np.float64)),
                                                        _best(_tm_rows(ba, d0).mean(axis=1, dtype=np.float64)))
    chain_iptm = [sum(pair_iptm[a][b] for b in range(k) if b != a) / (k - 1) if multi else float("nan")
                  for a in range(k)]
    protein = np.array([p for r, p in zip(layout.residues, res_plddt, strict=True) if r.kind == "protein"])
    disordered = float((protein < _DISORDER_PLDDT).mean()) if protein.size else 0.0
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


def representative_atoms(layout: Layout) -> np.ndarray:
    """Return each token's atom index in layout atom order: CA/C1'-like first atom, or the token's own atom."""
    starts, at = [], 0
    for r in layout.residues:
        starts.append(at)
        at += len(r.atoms)
    return np.array([starts[t.residue] + (t.atom if t.atom is not None else min(1, len(layout.residues[t.residue]
                                                                                       .atoms) - 1))
                     for t in layout.tokens], np.int64)


def flat_coords(base_coords: list[list[Vec]] | np.ndarray) -> np.ndarray:
    """Return coordinates as one (atoms, 3) array in layout atom order."""
    if isinstance(base_coords, np.ndarray):
        return base_coords
    return np.array([p for res in base_coords for p in res], np.float64).reshape(-1, 3)


def make_sample(layout: Layout, base_coords: list[list[Vec]] | np.ndarray, rng: random.Random) -> Sample:
    """Return one sample: the base structure jittered, with confidences derived from it."""
    gen = np.random.default_rng(rng.getrandbits(64))
    base = flat_coords(base_coords)
    coords = base + gen.normal(0.0, 0.05, base.shape)  # samples differ, bonds stay bond-length (Cα–Cα ±0.1 Å)
    toks = _tokens(layout)
    res_plddt = _residue_plddts(layout, gen)
    atom_plddt = _atom_plddts(layout, res_plddt, gen)
    tok_res = np.fromiter((t.residue for t in layout.tokens), np.int64, len(layout.tokens))
    pae = _pae_tenths(layout, toks, res_plddt[tok_res], gen)
    contacts = _contact_pct(coords[representative_atoms(layout)])
    summary = summarise(layout, pae, res_plddt, toks)
    return Sample(coords, atom_plddt, pae, contacts, summary, summary.pop("_ranking_score_full"))
