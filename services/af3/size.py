"""Estimate an AF3 job's size as AF3 tokenises it, its padding bucket, run time and GPU fit."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from services.af3.chem.ccd import (
    UNKNOWN_COMPONENT_ATOMS,
    Component,
    component_atoms,
    heavy_atoms_in_smiles,
    user_components,
)

# run_alphafold.py --buckets default at HEAD (128 and 384 added after v3.0.4).
BUCKETS = (128, 256, 384, 512, 768, 1024, 1280, 1536, 2048, 2560, 3072, 3584, 4096, 4608, 5120)
# AF3 docs/performance: seconds per seed on one A100 80 GB, by token count.
A100_SECONDS = ((1024, 62.0), (2048, 275.0), (3072, 703.0), (4096, 1434.0), (5120, 2547.0))
# AF3's default --num_diffusion_samples; the published timings above are for it.
DEFAULT_SAMPLES = 5
# Largest token count each GPU holds (AF3 docs: 80 GB cards to 5120; A100 40 GB ~4352 with unified memory).
GPU_MAX_TOKENS = {"A100 80GB": 5120, "H100 80GB": 5120, "A100 40GB": 4352}


@dataclass
class SizeEstimate:
    """Tokens, padding bucket, expected time per seed and in total, and which GPUs it fits."""

    tokens: int
    approximate: bool
    unknown_codes: list[str]
    bucket: int
    seconds_per_seed: float
    seconds_total: float
    fits: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def count_tokens(af3: dict[str, Any]) -> tuple[int, bool]:
    """Return (tokens, approximate) for a valid AF3-dialect job."""
    tokens, unknown = _count(af3)
    return tokens, bool(unknown)


def _count(af3: dict[str, Any]) -> tuple[int, list[str]]:
    """Count tokens exactly from the CCD and the job's userCCD; collect codes neither defines (only a
    `userCCDPath` file this machine cannot read can define those)."""
    total, unknown = 0, []
    user = user_components(af3.get("userCCD"))
    bonded = _bonded_atoms(af3)
    for item in af3.get("sequences") or []:
        (kind, body), = item.items()
        ids = [body.get("id")] if isinstance(body.get("id"), str) else body.get("id") or [""]
        if kind == "ligand":  # per copy: a bond to one copy's glycan O1 keeps that atom in that copy only
            total += sum(_ligand_tokens(body, unknown, user, bonded, chain_id) for chain_id in ids)
        else:
            total += _polymer_tokens(kind, body, unknown, user) * len(ids)
    return total, sorted(set(unknown))


def _bonded_atoms(af3: dict[str, Any]) -> dict[tuple[str, int], frozenset[str]]:
    """Return the atom names bondedAtomPairs uses, by (chain id, residue)."""
    out: dict[tuple[str, int], set[str]] = {}
    for pair in af3.get("bondedAtomPairs") or []:
        for chain_id, residue, atom in pair:
            out.setdefault((chain_id, residue), set()).add(atom)
    return {key: frozenset(names) for key, names in out.items()}


def _polymer_tokens(kind: str, body: dict[str, Any], unknown: list[str], user: dict[str, Component]) -> int:
    """One token per standard residue; a modified residue gives one token per heavy atom it keeps in the chain."""
    length = len(body.get("sequence") or "")
    code_key, pos_key = ("ptmType", "ptmPosition") if kind == "protein" else ("modificationType", "basePosition")
    # AF3 applies modifications position by position, so a repeated position keeps the last code.
    mods = {mod[pos_key]: mod[code_key] for mod in body.get("modifications") or []}
    n = length
    for pos, code in mods.items():
        atoms = component_atoms(code, kind, pos, length, user)
        if atoms is None:
            unknown.append(code)
            atoms = UNKNOWN_COMPONENT_ATOMS
        n += atoms - 1
    return n


def _ligand_tokens(body: dict[str, Any], unknown: list[str], user: dict[str, Component],
                   bonded: dict[tuple[str, int], frozenset[str]], chain_id: str) -> int:
    """One token per heavy atom of every component (CCD, userCCD or SMILES) of one ligand chain."""
    if body.get("smiles"):
        return heavy_atoms_in_smiles(body["smiles"])
    n = 0
    for i, code in enumerate(body.get("ccdCodes") or [], start=1):
        atoms = component_atoms(code, user=user, bonded=bonded.get((chain_id, i), frozenset()))
        if atoms is None:
            unknown.append(code)
            atoms = UNKNOWN_COMPONENT_ATOMS
        n += atoms
    return n


def bucket_for(tokens: int) -> int:
    """Return the padded size AF3 runs a job of `tokens` at (itself above the largest bucket)."""
    for bucket in BUCKETS:
        if tokens <= bucket:
            return bucket
    return tokens


def seconds_per_seed(bucket: int) -> float:
    """Interpolate A100 80 GB inference seconds per seed on a log-log scale from AF3's published figures."""
    pts = A100_SECONDS
    if bucket <= pts[0][0]:
        # Below 1024 fixed overheads dominate; the power law would promise sub-second runs. Scale linearly.
        return pts[0][1] * bucket / pts[0][0]
    if bucket >= pts[-1][0]:
        lo, hi = pts[-2], pts[-1]
    else:
        lo, hi = next((a, b) for a, b in zip(pts, pts[1:], strict=False) if a[0] <= bucket <= b[0])
    slope = math.log(hi[1] / lo[1]) / math.log(hi[0] / lo[0])
    return lo[1] * (bucket / lo[0]) ** slope


def gpu_seconds(tokens: int, seeds: int = 1, samples: int = DEFAULT_SAMPLES) -> float:
    """Return a job's estimated GPU seconds: its bucket's time per seed, times seeds, scaled by samples.

    The one estimator: the size badge, the limits, approval, the admin queue's GPU hours and
    maintenance-window placement all call it, so they cannot disagree.
    """
    per_seed = seconds_per_seed(bucket_for(max(0, int(tokens))))
    return per_seed * max(1, int(seeds)) * max(1, int(samples)) / DEFAULT_SAMPLES


def seeds_in(af3: dict[str, Any]) -> int:
    """Return how many seeds a valid AF3-dialect job runs (at least one)."""
    return max(1, len(af3.get("modelSeeds") or []))


def samples_in(command: str) -> int:
    """Return the diffusion samples per seed an AF3 command line asks for (AF3's default when it does not say)."""
    m = re.search(r"--num_diffusion_samples[= ](\d+)", command or "")
    return max(1, int(m.group(1))) if m else DEFAULT_SAMPLES


def estimate_size(af3: dict[str, Any], samples: int = DEFAULT_SAMPLES) -> SizeEstimate:
    """Estimate tokens, bucket, time and GPU fit for a valid AF3-dialect job."""
    tokens, unknown = _count(af3)
    bucket = bucket_for(tokens)
    per_seed = round(gpu_seconds(tokens, 1, samples), 1)
    seeds = seeds_in(af3)
    fits = {gpu: tokens <= limit for gpu, limit in GPU_MAX_TOKENS.items()}
    warnings = []
    if unknown:
        warnings.append(f"Token count is approximate: {', '.join(unknown)} is defined only in the userCCDPath "
                        f"file, which FoldDeck cannot read here; counted as {UNKNOWN_COMPONENT_ATOMS} atoms each.")
    if tokens > BUCKETS[-1]:
        warnings.append(f"{tokens} tokens exceed the largest bucket ({BUCKETS[-1]}); AlphaFold 3 will compile a "
                        "new bucket and may run out of GPU memory.")
    for gpu, ok in fits.items():
        if not ok:
            warnings.append(f"{tokens} tokens do not fit on one {gpu} (about {GPU_MAX_TOKENS[gpu]} at most).")
    return SizeEstimate(tokens, bool(unknown), unknown, bucket, per_seed, round(gpu_seconds(tokens, seeds, samples), 1),
                        fits, warnings)
