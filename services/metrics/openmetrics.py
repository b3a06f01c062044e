"""Render the latest snapshots as OpenMetrics text (for those who run Prometheus)."""
from __future__ import annotations

from collections.abc import Iterable

from services.metrics import queue
from services.metrics.model import HostSnapshot
from services.metrics.store import Latest

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

# name -> help; every family is a gauge
FAMILIES = {
    "folddeck_host_up": "1 when the host answered the last sampler tick.",
    "folddeck_cpu_utilization_percent": "CPU busy share over the last tick.",
    "folddeck_load_average": "Load average over the period label.",
    "folddeck_memory_used_bytes": "Memory in use (total minus available).",
    "folddeck_memory_total_bytes": "Physical memory.",
    "folddeck_swap_used_bytes": "Swap in use.",
    "folddeck_disk_used_bytes": "Used bytes of a configured mount.",
    "folddeck_disk_size_bytes": "Used plus available bytes of a configured mount.",
    "folddeck_gpu_utilization_percent": "GPU utilisation.",
    "folddeck_gpu_memory_used_bytes": "GPU memory in use.",
    "folddeck_gpu_memory_total_bytes": "GPU memory.",
    "folddeck_gpu_temperature_celsius": "GPU temperature.",
    "folddeck_gpu_power_watts": "GPU power draw.",
    "folddeck_gpu_power_limit_watts": "GPU enforced power limit.",
    "folddeck_sampler_last_tick_timestamp_seconds": "When the sampler last wrote a snapshot.",
}


def _escape(value: str) -> str:
    """Escape a label value as OpenMetrics requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Format a sample value exactly (no %g rounding of byte counts)."""
    v = float(value)
    return str(int(v)) if v.is_integer() and abs(v) < 2**63 else repr(v)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _host_samples(h: HostSnapshot) -> list[tuple[str, str, float | None]]:
    """Return (family, labels, value) for one host."""
    host = h.host
    out = [("folddeck_host_up", _labels(host=host), 1.0 if h.up else 0.0)]
    if not h.up:
        return out
    out += [("folddeck_cpu_utilization_percent", _labels(host=host), h.cpu_percent),
            ("folddeck_memory_used_bytes", _labels(host=host), h.mem_used_bytes),
            ("folddeck_memory_total_bytes", _labels(host=host), h.mem_total_bytes),
            ("folddeck_swap_used_bytes", _labels(host=host), h.swap_used_bytes)]
    for period, value in zip(("1m", "5m", "15m"), h.load or (), strict=False):
        out.append(("folddeck_load_average", _labels(host=host, period=period), value))
    for d in h.disks:
        out += [("folddeck_disk_used_bytes", _labels(host=host, mount=d.mount), d.used_bytes),
                ("folddeck_disk_size_bytes", _labels(host=host, mount=d.mount), d.total_bytes)]
    for g in h.gpus:
        lab = _labels(host=host, gpu=str(g.index), uuid=g.uuid, name=g.name)
        mib = 2**20
        out += [("folddeck_gpu_utilization_percent", lab, g.util),
                ("folddeck_gpu_memory_used_bytes", lab, None if g.mem_used_mib is None else g.mem_used_mib * mib),
                ("folddeck_gpu_memory_total_bytes", lab, None if g.mem_total_mib is None else g.mem_total_mib * mib),
                ("folddeck_gpu_temperature_celsius", lab, g.temp_c),
                ("folddeck_gpu_power_watts", lab, g.power_w),
                ("folddeck_gpu_power_limit_watts", lab, g.power_limit_w)]
    return out


def render(latest: Latest, extra: Iterable[queue.Sample] = ()) -> str:
    """Return the OpenMetrics exposition of `latest` and the `extra` queue samples, ending in `# EOF`."""
    families = {**FAMILIES, **queue.FAMILIES}
    samples: dict[str, list[str]] = {name: [] for name in families}
    for family, labels, value in extra:
        samples[family].append(f"{family}{_labels(**labels) if labels else ''} {_number(value)}")
    for h in latest.hosts:
        for family, labels, value in _host_samples(h):
            if value is not None:  # unsupported readings are left out, not reported as 0
                samples[family].append(f"{family}{labels} {_number(value)}")
    if latest.seq:
        samples["folddeck_sampler_last_tick_timestamp_seconds"].append(
            f"folddeck_sampler_last_tick_timestamp_seconds {latest.ts:.3f}")
    lines = []
    for family, help_text in families.items():
        if samples[family]:
            lines += [f"# TYPE {family} gauge", f"# HELP {family} {help_text}", *samples[family]]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
