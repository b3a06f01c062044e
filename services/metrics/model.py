"""The snapshot every collector returns: one host at one instant, JSON-friendly.

Local (psutil + NVML) and SSH (/proc + nvidia-smi) collectors fill the same dataclasses, so the
sampler, the history tiers, the status page and /metrics never care where a number came from.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class HostState(str, Enum):
    UP = "up"
    DOWN = "down"


@dataclass
class Gpu:
    index: int
    name: str
    uuid: str
    util: float | None  # percent
    mem_used_mib: float | None
    mem_total_mib: float | None
    temp_c: float | None
    power_w: float | None
    power_limit_w: float | None


@dataclass
class GpuProcess:
    pid: int
    gpu_uuid: str
    used_mib: float | None
    name: str = ""
    pgid: int | None = None  # filled where known, to attribute processes to jobs
    ancestors: list[int] = field(default_factory=list)  # parent chain (nearest first), where known


@dataclass
class Disk:
    mount: str
    used_bytes: int
    total_bytes: int

    @property
    def percent(self) -> float:
        """Return the used share the way df shows it."""
        return 100.0 * self.used_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass
class HostSnapshot:
    host: str
    ts: float
    state: HostState = HostState.UP
    reason: str = ""  # why the host is down, or why it has no GPUs
    cpu_percent: float | None = None  # None on an SSH host's first tick (no previous counters)
    per_cpu: list[float] = field(default_factory=list)
    load: tuple[float, float, float] | None = None
    mem_used_bytes: int = 0
    mem_total_bytes: int = 0
    swap_used_bytes: int = 0
    swap_total_bytes: int = 0
    disks: list[Disk] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    gpu_processes: list[GpuProcess] = field(default_factory=list)
    gpu_note: str = ""  # "no GPU: <why>" when the host has none (or the driver failed)
    collect_ms: float | None = None  # how long the collection took

    @property
    def up(self) -> bool:
        """Return True when the host answered."""
        return self.state == HostState.UP

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        d = asdict(self)
        d["state"] = self.state.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HostSnapshot:
        """Rebuild a snapshot from `to_dict` output."""
        d = dict(d)
        d["state"] = HostState(d.get("state", "up"))
        d["disks"] = [Disk(**x) for x in d.get("disks", [])]
        d["gpus"] = [Gpu(**x) for x in d.get("gpus", [])]
        d["gpu_processes"] = [GpuProcess(**x) for x in d.get("gpu_processes", [])]
        if d.get("load") is not None:
            d["load"] = tuple(d["load"])
        return cls(**d)


def down(host: str, ts: float, reason: str) -> HostSnapshot:
    """Return the snapshot of a host that did not answer."""
    return HostSnapshot(host=host, ts=ts, state=HostState.DOWN, reason=reason)


def series(snap: HostSnapshot) -> dict[str, float]:
    """Return the flat numeric series stored in history (short keys keep a year of rows small).

    Keys: c = CPU %, m = memory used %, mu = memory used GiB, s = swap used %, d<i> = disk i used %,
    g<i>u / g<i>m / g<i>t / g<i>p = GPU i utilisation %, memory used MiB, temperature C, power W.
    """
    out: dict[str, float] = {}
    if snap.cpu_percent is not None:
        out["c"] = round(snap.cpu_percent, 1)
    if snap.mem_total_bytes:
        out["m"] = round(100.0 * snap.mem_used_bytes / snap.mem_total_bytes, 1)
        out["mu"] = round(snap.mem_used_bytes / 2**30, 2)
    if snap.swap_total_bytes:
        out["s"] = round(100.0 * snap.swap_used_bytes / snap.swap_total_bytes, 1)
    for i, disk in enumerate(snap.disks):
        out[f"d{i}"] = round(disk.percent, 1)
    for gpu in snap.gpus:
        for key, value in (("u", gpu.util), ("m", gpu.mem_used_mib), ("t", gpu.temp_c), ("p", gpu.power_w)):
            if value is not None:
                out[f"g{gpu.index}{key}"] = round(float(value), 1)
    return out
