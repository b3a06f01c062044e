"""The engines' answers side by side: top models superposed on one chain, RMSD and TM-score, confidences.

What a careful user asks of several predictions of one complex: do the models agree (RMSD and
TM-score over the polymer chains once superposed on the chain they trust), does the ligand sit in
the same place, and where do the engines' own confidences agree or disagree on an interface.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.engines.base import EngineOutputs, EngineSample
from services.engines.structure_atoms import Atom, read_atoms

# ipTM from which an interface counts as confidently predicted (AF3's guidance: above 0.8 high, 0.6-0.8 grey zone)
INTERFACE_CONFIDENT = 0.6


@dataclass(frozen=True)
class Side:
    """One engine's top model as compared: its label, its sample, its trace after superposition."""

    engine: str
    label: str
    sample: EngineSample
    trace: dict[str, np.ndarray]  # chain -> representative atoms (CA, C1') superposed, in residue order
    ligands: dict[str, np.ndarray]  # ligand chain -> heavy atoms superposed


@dataclass(frozen=True)
class Comparison:
    chain: str  # the chain every model is superposed on
    sides: list[Side]
    rmsd: list[list[float | None]]  # Å over the polymer residues both models have
    tm: list[list[float | None]]  # TM-score (normalised by the reference's length) in that superposition
    ligand_shift: dict[str, list[list[float | None]]]  # ligand chain -> centroid distance (Å) between models
    interfaces: list[dict] = field(default_factory=list)  # one row per chain pair: each engine's ipTM, a verdict
    notes: list[str] = field(default_factory=list)


def _trace(atoms: list[Atom]) -> dict[str, dict[int, np.ndarray]]:
    """Return chain -> residue number -> the residue's representative atom (CA, C1', else its first atom)."""
    out: dict[str, dict[int, np.ndarray]] = {}
    for a in atoms:
        if a.hetero:
            continue
        residues = out.setdefault(a.chain, {})
        if a.name in ("CA", "C1'") or a.number not in residues:
            residues[a.number] = a.xyz
    return out


def _kabsch(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (R, t) minimising |mobile @ R + t - target| (rows are points)."""
    mc, tc = mobile.mean(axis=0), target.mean(axis=0)
    u, _s, vt = np.linalg.svd((mobile - mc).T @ (target - tc))
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    return rot, tc - mc @ rot


def _tm(distances: np.ndarray, length: int) -> float:
    d0 = max(0.5, 1.24 * np.cbrt(max(length, 19) - 15) - 1.8)
    return float(np.sum(1 / (1 + (distances / d0) ** 2)) / length)


def _paired(a: dict[str, dict[int, np.ndarray]], b: dict[str, dict[int, np.ndarray]],
            chains: list[str]) -> tuple[np.ndarray, np.ndarray]:
    keys = [(c, n) for c in chains if c in a and c in b for n in sorted(a[c]) if n in b[c]]
    if not keys:
        return np.zeros((0, 3)), np.zeros((0, 3))
    return np.array([a[c][n] for c, n in keys]), np.array([b[c][n] for c, n in keys])


def compare(runs: list[tuple[str, EngineOutputs]], chain: str | None = None) -> Comparison:
    """Return the engines' top models superposed on `chain` (None: the first polymer chain) and compared.

    `runs` is (label, outputs) per engine, the reference (usually AlphaFold 3) first.
    """
    tops = [(label, out) for label, out in runs if out.samples and out.samples[0].model]
    notes = [f"{label}: no model to compare." for label, out in runs if (label, out) not in tops]
    atoms = [read_atoms(out.samples[0].model) for _label, out in tops]
    traces = [_trace(a) for a in atoms]
    polymer = [c for c in dict.fromkeys(c for t in traces for c in t)]
    chain = chain if chain in polymer else (polymer[0] if polymer else "")
    ref = traces[0] if traces else {}
    sides: list[Side] = []
    for (label, out), trace, model_atoms in zip(tops, traces, atoms, strict=True):
        mobile, target = _paired(trace, ref, [chain])
        rot, shift = (_kabsch(mobile, target) if len(mobile) >= 3 else (np.eye(3), np.zeros(3)))
        if len(mobile) < 3:
            notes.append(f"{label}: chain {chain} has too few residues in common to superpose.")
        moved = {c: np.array([trace[c][n] for n in sorted(trace[c])]) @ rot + shift for c in trace}
        ligands: dict[str, list[np.ndarray]] = {}
        for a in model_atoms:
            if a.hetero:
                ligands.setdefault(a.chain, []).append(a.xyz)
        sides.append(Side(out.engine, label, out.samples[0], moved,
                          {c: np.array(v) @ rot + shift for c, v in ligands.items()}))
    n = len(sides)
    rmsd: list[list[float | None]] = [[None] * n for _ in range(n)]
    tm: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            a, b = _paired(_as_residues(sides[i], traces[i]), _as_residues(sides[j], traces[j]), polymer)
            if len(a):
                dist = np.linalg.norm(a - b, axis=1)
                rmsd[i][j] = round(float(np.sqrt(np.mean(dist ** 2))), 2)
                tm[i][j] = round(_tm(dist, sum(len(v) for v in traces[j].values())), 3)
    return Comparison(chain, sides, rmsd, tm, _ligand_shifts(sides), _interfaces(sides), notes)


def _as_residues(side: Side, trace: dict[str, dict[int, np.ndarray]]) -> dict[str, dict[int, np.ndarray]]:
    """Return a side's superposed trace keyed by residue number again."""
    return {c: dict(zip(sorted(trace[c]), side.trace[c], strict=True)) for c in trace}


def _ligand_shifts(sides: list[Side]) -> dict[str, list[list[float | None]]]:
    """Return ligand chain (of the row's model) -> distance to the nearest equivalent ligand of each model (Å).

    Engines label identical copies differently (on 6BJ9 Boltz puts ligand C at chain A, Chai-1 at chain B),
    so a ligand is matched to the nearest centroid among the other model's ligands with as many atoms.
    """
    chains = dict.fromkeys(c for s in sides for c in s.ligands)
    out = {}
    for c in chains:
        rows = []
        for a in sides:
            mine = a.ligands.get(c)
            row: list[float | None] = []
            for b in sides:
                same = [v.mean(axis=0) for v in b.ligands.values() if mine is not None and len(v) == len(mine)]
                row.append(None if mine is None or not same else
                           round(min(float(np.linalg.norm(mine.mean(axis=0) - x)) for x in same), 2))
            rows.append(row)
        out[c] = rows
    return out


def _interfaces(sides: list[Side]) -> list[dict]:
    """Return one row per chain pair: each engine's ipTM and whether the engines agree on it."""
    rows = []
    chains = list(dict.fromkeys(c for s in sides for c in s.sample.chains))
    for i, a in enumerate(chains):
        for b in chains[i + 1:]:
            values = {s.label: _pair(s.sample, a, b) for s in sides}
            known = [v for v in values.values() if v is not None]
            confident = [v >= INTERFACE_CONFIDENT for v in known]
            verdict = ("no scores" if not known else "agree: confident" if all(confident)
                       else "agree: not confident" if not any(confident) else "disagree")
            rows.append({"chains": f"{a}–{b}", "iptm": values, "verdict": verdict})
    return rows


def _pair(sample: EngineSample, a: str, b: str) -> float | None:
    """Return a sample's ipTM for chains a and b (the mean of both directions where the engine writes two)."""
    chains, matrix = sample.chains, sample.score.chain_pair_iptm
    if a not in chains or b not in chains or not matrix:
        return None
    i, j = chains.index(a), chains.index(b)
    values = [v for v in (matrix[i][j], matrix[j][i]) if v is not None]
    return round(float(np.mean(values)), 3) if values else None


def model_path(sample: EngineSample) -> Path | None:
    """Return the mmCIF a side was read from (for downloads next to the comparison)."""
    return sample.model
