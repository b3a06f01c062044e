"""Tiered metrics history in SQLite: raw ticks, 1-minute and 1-hour averages, each pruned by age.

Every function takes `now` (unix seconds) so tests drive synthetic time. Reads pick the finest
tier that still holds the range and is small enough to decode quickly, then downsample to at most
`max_points` per series.
"""
from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from services.metrics.model import HostSnapshot, series
from services.platform import defaults
from services.platform.db import transaction


class Tier(IntEnum):
    RAW = 0
    MINUTE = 1
    HOUR = 2


STEP_S = {Tier.MINUTE: 60, Tier.HOUR: 3600}


@dataclass(frozen=True)
class Retention:
    raw_s: float = defaults.RAW_RETENTION_HOURS * 3600
    minute_s: float = defaults.MINUTE_RETENTION_DAYS * 86400
    hour_s: float = defaults.HOUR_RETENTION_DAYS * 86400
    raw_step_s: float = defaults.SAMPLE_INTERVAL_S

    @classmethod
    def from_settings(cls, settings) -> Retention:
        """Return the retention configured in `settings`."""
        return cls(raw_s=settings.raw_retention_hours * 3600, minute_s=settings.minute_retention_days * 86400,
                   hour_s=settings.hour_retention_days * 86400, raw_step_s=settings.sample_interval)

    def keep_s(self, tier: Tier) -> float:
        """Return how long `tier` keeps rows."""
        return {Tier.RAW: self.raw_s, Tier.MINUTE: self.minute_s, Tier.HOUR: self.hour_s}[tier]

    def step_s(self, tier: Tier) -> float:
        """Return the spacing of rows in `tier`."""
        return self.raw_step_s if tier == Tier.RAW else STEP_S[tier]


@dataclass
class History:
    tier: Tier
    start: float
    end: float
    series: dict[str, tuple[list[float], list[float | None]]] = field(default_factory=dict)  # key -> (ts, values)


def append(conn: sqlite3.Connection, snaps: list[HostSnapshot]) -> int:
    """Store one raw row per host that is up; return how many rows were written."""
    rows = [(s.host, int(s.ts), json.dumps(series(s), separators=(",", ":"))) for s in snaps if s.up]
    with transaction(conn):
        conn.executemany("INSERT OR REPLACE INTO metric_samples (tier, host, ts, data) VALUES (0, ?, ?, ?)", rows)
    return len(rows)


def _average(rows: list[dict[str, float]]) -> dict[str, float]:
    """Return the per-key mean of `rows` (a key missing from a row does not count as zero)."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        for key, value in row.items():
            sums[key] += value
            counts[key] += 1
    return {k: round(sums[k] / counts[k], 2) for k in sums}


def rollup(conn: sqlite3.Connection, hosts: list[str], now: float) -> int:
    """Average complete minutes of raw rows into tier 1 and complete hours of tier 1 into tier 2.

    Returns:
        The number of buckets written.
    """
    written = 0
    for src, dst in ((Tier.RAW, Tier.MINUTE), (Tier.MINUTE, Tier.HOUR)):
        for host in hosts:
            written += _rollup_host(conn, host, src, dst, now)
    return written


def _rollup_host(conn: sqlite3.Connection, host: str, src: Tier, dst: Tier, now: float) -> int:
    """Roll one host's complete `dst` buckets up from `src`; resumes after the last bucket written."""
    step = STEP_S[dst]
    last = conn.execute("SELECT max(ts) FROM metric_samples WHERE tier = ? AND host = ?", (dst, host)).fetchone()[0]
    start = last + step if last is not None else 0
    end = int(now) // step * step  # only buckets that can receive no more rows
    if start >= end:
        return 0
    buckets: dict[int, list[dict]] = defaultdict(list)
    for ts, data in conn.execute("SELECT ts, data FROM metric_samples WHERE tier = ? AND host = ? AND ts >= ? "
                                 "AND ts < ? ORDER BY ts", (src, host, start, end)):
        buckets[ts // step * step].append(json.loads(data))
    if not buckets:
        return 0
    rows = [(dst, host, b, json.dumps(_average(r), separators=(",", ":"))) for b, r in buckets.items()]
    with transaction(conn):
        conn.executemany("INSERT OR REPLACE INTO metric_samples (tier, host, ts, data) VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def prune(conn: sqlite3.Connection, retention: Retention, now: float) -> int:
    """Delete rows older than their tier keeps; return how many went."""
    gone = 0
    with transaction(conn):
        for tier in Tier:
            cur = conn.execute("DELETE FROM metric_samples WHERE tier = ? AND ts < ?",
                               (tier, int(now - retention.keep_s(tier))))
            gone += cur.rowcount
    return gone


def choose_tier(span_s: float, start: float, retention: Retention, now: float,
                max_rows: int = defaults.HISTORY_MAX_ROWS) -> Tier:
    """Return the finest tier that still covers `start` and holds at most `max_rows` rows over the span."""
    for tier in Tier:
        covers = now - retention.keep_s(tier) <= start + retention.step_s(tier)
        if covers and span_s / retention.step_s(tier) <= max_rows:
            return tier
    return Tier.HOUR


def query(conn: sqlite3.Connection, host: str, span_s: float, now: float, retention: Retention,
          max_points: int = defaults.CHART_MAX_POINTS, keys: set[str] | None = None) -> History:
    """Return `host`'s series over the last `span_s` seconds, at most `max_points` points per series."""
    start = now - span_s
    tier = choose_tier(span_s, start, retention, now)
    rows = conn.execute("SELECT ts, data FROM metric_samples WHERE tier = ? AND host = ? AND ts >= ? AND ts <= ? "
                        "ORDER BY ts", (tier, host, int(start), int(now))).fetchall()
    hist = History(tier=tier, start=start, end=now)
    hist.series = downsample([(ts, json.loads(d)) for ts, d in rows], start, now, max_points,
                             retention.step_s(tier), keys)
    return hist


def downsample(rows: list[tuple[float, dict[str, float]]], start: float, end: float, max_points: int,
               step_s: float, keys: set[str] | None = None) -> dict[str, tuple[list[float], list[float | None]]]:
    """Average rows (sorted by time) into at most `max_points` equal time buckets per series.

    A bucket is drawn at its first row's time (exact when nothing merged); a hole longer than
    HISTORY_GAP_STEPS buckets gets a None so the line breaks where the host was down.
    """
    if not rows:
        return {}
    names = sorted({k for _, d in rows for k in d if keys is None or k in keys})
    width = max(step_s, math.ceil((end - start) / max_points))
    # numpy does the per-bucket means: a Python loop over rows x series cost ~40 ms for 24 h of 8 GPUs
    ts = np.fromiter((r[0] for r in rows), dtype=float, count=len(rows))
    values = np.array([[d.get(k, np.nan) for k in names] for _, d in rows], dtype=float).reshape(len(rows), len(names))
    bucket = ((ts - start) // width).astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    present = ~np.isnan(values)
    sums = np.add.reduceat(np.where(present, values, 0.0), firsts, axis=0)
    counts = np.add.reduceat(present, firsts, axis=0)
    means = np.round(sums / np.maximum(counts, 1), 2)
    xs_all = ts[firsts]
    gap = max(width, step_s) * defaults.HISTORY_GAP_STEPS
    out = {}
    for j, name in enumerate(names):
        has = counts[:, j] > 0
        kx, ky = xs_all[has], means[has, j]
        xs: list[float] = kx.tolist()
        ys: list[float | None] = ky.tolist()
        for g in reversed(np.flatnonzero(np.diff(kx) > gap).tolist()):  # from the end: indexes stay valid
            xs.insert(g + 1, xs[g] + width)
            ys.insert(g + 1, None)
        out[name] = (xs, ys)
    return out
