"""The PAE matrix as an image at native resolution: one pixel per token pair, every cell kept.

A 5,000-token PAE is 25 million cells: too many for a heatmap trace, but a palette PNG of
5,000 x 5,000 pixels (~0.5 byte per cell for real AF3 output) is one image the browser decodes
natively. AF3 writes the PAE to 0.1 Å, so each pixel's level is the value in tenths, exact up to
25.5 Å (the top level: "25.5 Å or more", where AF3's scale means "no idea" anyway). The palette
is the Greens scale with one distinct colour per level, so the page turns a hovered pixel's
colour back into the file's value.

Nothing is averaged. Above `max_side` tokens (never up to AF3's 5,000-token limit with the
defaults) blocks are reduced to their *minimum*, so a narrow low-error stripe (a peptide, an
ion at an interface) survives, and the caller says so on the plot.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

STEP = 0.1  # Å per colour level: AF3 writes the PAE to one decimal, so levels are exact
LEVELS = 256  # one palette byte per pixel
PAE_MAX = STEP * (LEVELS - 1)  # 25.5 Å, the top of the colour scale: values above it share the top colour
ZLIB_LEVEL = 1  # 5,000 tokens: ~2 s at level 1 against ~5 s at 6, for a PNG only ~4 % larger
# ColorBrewer "Greens" (what AlphaFold Server and plotly's Greens use), dark = low error
_ANCHORS = ("#00441b", "#006d2c", "#238b45", "#41ab5d", "#74c476", "#a1d99b", "#c7e9c0", "#e5f5e0", "#f7fcf5")


def _palette() -> np.ndarray:
    """Return LEVELS distinct RGB colours along the Greens scale (level 0 = 0 Å, darkest)."""
    anchors = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in _ANCHORS], dtype=float)
    where = np.linspace(0, len(anchors) - 1, LEVELS)
    lo = np.floor(where).astype(int).clip(0, len(anchors) - 2)
    frac = (where - lo)[:, None]
    rgb = np.rint(anchors[lo] * (1 - frac) + anchors[lo + 1] * frac).astype(int)
    seen: set[tuple[int, int, int]] = set()
    for i in range(LEVELS):  # nudge the blue channel until each level's colour is unique
        while tuple(rgb[i]) in seen:
            rgb[i, 2] = (rgb[i, 2] + 1) % 256
        seen.add(tuple(rgb[i]))
    return rgb.astype(np.uint8)


PALETTE = _palette()


def colour_scale() -> list[list]:
    """Return the palette as a plotly colorscale over 0..1 (for the colour bar)."""
    picks = np.linspace(0, LEVELS - 1, 9).round().astype(int)
    return [[float(i / (LEVELS - 1)), "#" + bytes(PALETTE[i]).hex()] for i in picks]


def levels(pae: np.ndarray) -> np.ndarray:
    """Return the PAE as uint8 colour levels (value / STEP, rounded, clamped; NaN reads as the top)."""
    scaled = np.nan_to_num(pae.astype(np.float32) / STEP, nan=LEVELS - 1)
    return np.clip(np.rint(scaled), 0, LEVELS - 1).astype(np.uint8)


def min_reduce(matrix: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Return the matrix reduced to at most max_side per side by each block's minimum, and the block size.

    Never the mean: a mean blurs a one-token-wide low-error stripe into its neighbours.
    """
    n = matrix.shape[0]
    block = max(1, -(-n // max_side))
    if block == 1:
        return matrix, 1
    cells = -(-n // block)
    padded = np.full((cells * block, cells * block), np.inf, dtype=np.float32)
    padded[:n, :n] = matrix
    return padded.reshape(cells, block, cells, block).min(axis=(1, 3)), block


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(level_rows: np.ndarray) -> bytes:
    """Return a palette PNG of a 2-D uint8 level array (filter "Up" per row: smooth PAE packs small)."""
    h, w = level_rows.shape
    raw = np.empty((h, w + 1), dtype=np.uint8)
    raw[:, 0] = 2  # PNG filter type Up: each byte minus the one above it
    raw[0, 1:] = level_rows[0]
    raw[1:, 1:] = level_rows[1:] - level_rows[:-1]  # uint8 arithmetic wraps mod 256, as PNG wants
    header = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"PLTE", PALETTE.tobytes())
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), ZLIB_LEVEL)) + _chunk(b"IEND", b""))


@dataclass(frozen=True)
class PaeImage:
    """The PAE as a PNG, and what one pixel stands for."""

    png: bytes
    side: int  # pixels per side
    block: int  # tokens per pixel per side (1: full resolution)


def pae_image(pae: np.ndarray, max_side: int) -> PaeImage:
    """Return the PAE image: full resolution up to `max_side` tokens, block minima above."""
    reduced, block = min_reduce(pae, max_side)
    return PaeImage(png(levels(reduced)), reduced.shape[0], block)
