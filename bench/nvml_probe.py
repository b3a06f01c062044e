"""Print what the metrics collectors see on this machine: NVML GPUs and processes, then one local snapshot.

    .venv/bin/python bench/nvml_probe.py [--ticks 3]

On a machine without a GPU it prints the "no GPU" reason instead of failing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.metrics import nvml  # noqa: E402
from services.metrics.collect_local import LocalCollector  # noqa: E402
from services.metrics.model import series  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=3)
    args = parser.parse_args()
    t = time.perf_counter()
    reading = nvml.read_gpus()
    print(f"NVML read: {(time.perf_counter() - t) * 1000:.1f} ms, note: {reading.note or '-'}")
    for gpu in reading.gpus:
        print(f"  GPU {gpu.index} {gpu.name} {gpu.uuid}: util {gpu.util}%  mem {gpu.mem_used_mib:.0f}/"
              f"{gpu.mem_total_mib:.0f} MiB  temp {gpu.temp_c} C  power {gpu.power_w}/{gpu.power_limit_w} W")
    for proc in reading.processes:
        print(f"  process {proc.pid} on {proc.gpu_uuid}: {proc.used_mib} MiB")
    collector = LocalCollector(mounts=("/",))
    for _ in range(args.ticks):
        time.sleep(1)
        snap = collector.collect()
        print(f"local snapshot in {snap.collect_ms} ms: {json.dumps(series(snap))}")
        for proc in snap.gpu_processes:
            print(f"  {proc.pid} {proc.name} pgid={proc.pgid} parents={proc.ancestors[:4]} {proc.used_mib} MiB")


if __name__ == "__main__":
    main()
