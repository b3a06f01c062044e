"""Which chains touch, where, and how confidently: per chain pair, from AF3's `contact_probs`.

AF3's `contact_probs[i][j]` is the probability that tokens i and j are within 8 Å. A pair of
chains is an interface when some token pair across them reaches `threshold`; its residues are
those tokens' residues, and its PAE minimum is taken over those contacting pairs in both
directions (the low-error stripes a binder is judged by).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interface:
    """One pair of chains in contact."""

    chain_a: str
    chain_b: str
    residues_a: tuple[int, ...]  # residue numbers of chain_a in contact, sorted
    residues_b: tuple[int, ...]
    contacts: int  # token pairs at or above the threshold
    pae_min: float | None  # Å, over the contacting token pairs (both directions); None without a PAE


def find_interfaces(contact: np.ndarray, pae: np.ndarray | None, residue_numbers: list[int],
                    chain_starts: list[tuple[str, int]], threshold: float) -> list[Interface]:
    """Return the chain pairs with a contact probability of at least `threshold`, in input order."""
    n = contact.shape[0]
    ends = [s for _, s in chain_starts[1:]] + [n]
    spans = [(c, s, e) for (c, s), e in zip(chain_starts, ends, strict=True)]
    numbers = np.asarray(residue_numbers)
    out = []
    for k, (ca, sa, ea) in enumerate(spans):
        for cb, sb, eb in spans[k + 1:]:
            mask = np.maximum(contact[sa:ea, sb:eb], contact[sb:eb, sa:ea].T) >= threshold
            if not mask.any():
                continue
            pae_min = None
            if pae is not None:
                pae_min = float(min(pae[sa:ea, sb:eb][mask].min(), pae[sb:eb, sa:ea][mask.T].min()))
            out.append(Interface(ca, cb, tuple(sorted(set(numbers[sa:ea][mask.any(1)].tolist()))),
                                 tuple(sorted(set(numbers[sb:eb][mask.any(0)].tolist()))), int(mask.sum()), pae_min))
    return out
