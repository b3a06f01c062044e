"""The latest snapshot of every host, shared by the sampler (writer) and every web worker (readers).

diskcache with an explicit directory (`<data_dir>/cache`): safe across processes, and a read is a
single SQLite lookup, so the status page's poll stays O(milliseconds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import diskcache

from services.metrics.model import HostSnapshot
from services.platform import defaults

_LATEST = "metrics:latest"
_HEAD = "metrics:head"  # {"seq", "ts"} alone: a poll with no new tick reads a few bytes, not every host


@dataclass
class Latest:
    seq: int = 0  # grows by one per sampler tick; equal seq -> nothing changed
    ts: float = 0.0  # when the sampler wrote it (tells the page whether the sampler runs)
    hosts: list[HostSnapshot] = field(default_factory=list)
    jobs: dict | None = None  # jobs.job_board as of this tick (None: written by an older sampler)

    def host(self, name: str) -> HostSnapshot | None:
        """Return the snapshot of host `name`, if any."""
        return next((h for h in self.hosts if h.host == name), None)


def cache_dir(data_dir: Path) -> Path:
    """Return the snapshot store's folder inside the data dir."""
    return Path(data_dir) / defaults.METRICS_CACHE_DIR


class SnapshotStore:
    """Read and write the latest snapshots in a diskcache folder."""

    def __init__(self, directory: Path):
        self.cache = diskcache.Cache(str(directory))

    def put(self, hosts: list[HostSnapshot], ts: float, jobs: dict | None = None) -> int:
        """Store one tick's snapshots (and the jobs every viewer sees); return the new sequence number."""
        with self.cache.transact():
            seq = int((self.cache.get(_HEAD) or self.cache.get(_LATEST) or {}).get("seq", 0)) + 1
            self.cache.set(_LATEST, {"seq": seq, "ts": ts, "hosts": [h.to_dict() for h in hosts], "jobs": jobs})
            self.cache.set(_HEAD, {"seq": seq, "ts": ts})
        return seq

    def head(self) -> tuple[int, float]:
        """Return (seq, ts) of the latest tick without reading the snapshots ((0, 0.0) before the first)."""
        head = self.cache.get(_HEAD) or {}
        return int(head.get("seq", 0)), float(head.get("ts", 0.0))

    def raw(self) -> dict:
        """Return the stored dict as written (cheap: no dataclass rebuild)."""
        return self.cache.get(_LATEST) or {"seq": 0, "ts": 0.0, "hosts": []}

    def latest(self) -> Latest:
        """Return the latest snapshots (empty before the sampler's first tick)."""
        raw = self.raw()
        return Latest(seq=raw["seq"], ts=raw["ts"], hosts=[HostSnapshot.from_dict(h) for h in raw["hosts"]],
                      jobs=raw.get("jobs"))

    def seq(self) -> int:
        """Return the latest sequence number (0 before the first tick)."""
        return self.head()[0]

    def close(self) -> None:
        """Close the cache files."""
        self.cache.close()
