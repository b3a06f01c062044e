"""Read NVIDIA GPUs through NVML (nvidia-ml-py), with a clean "no GPU" path.

No driver, no libnvidia-ml, or zero devices -> `GpuReading(gpus=[], note="no GPU: ...")`;
nothing here raises for a machine without GPUs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from services.metrics.model import Gpu, GpuProcess

_lock = threading.Lock()
_state: dict[str, Any] = {"init": False, "error": ""}


@dataclass
class GpuReading:
    gpus: list[Gpu] = field(default_factory=list)
    processes: list[GpuProcess] = field(default_factory=list)
    note: str = ""  # "no GPU: <why>" when there is nothing to show


def _pynvml():
    """Return the pynvml module, or None when nvidia-ml-py is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _ensure_init(nv) -> str:
    """Initialise NVML once per process; return '' or why it is unavailable."""
    with _lock:
        if _state["init"]:
            return ""
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:  # LibraryNotFound, DriverNotLoaded, NoPermission...
            return f"no GPU: NVML unavailable ({_describe(nv, exc)})"
        _state["init"] = True
        return ""


def _describe(nv, exc: Exception) -> str:
    """Return a short reason for an NVML error."""
    if isinstance(exc, nv.NVMLError_LibraryNotFound):
        return "NVIDIA driver library not found"
    if isinstance(exc, nv.NVMLError_DriverNotLoaded):
        return "NVIDIA driver not loaded"
    return str(exc) or type(exc).__name__


def read_gpus(nv=None) -> GpuReading:
    """Return every GPU's figures and compute processes, or an empty reading with the reason."""
    nv = nv if nv is not None else _pynvml()
    if nv is None:
        return GpuReading(note="no GPU: nvidia-ml-py is not installed")
    problem = _ensure_init(nv)
    if problem:
        return GpuReading(note=problem)
    try:
        count = nv.nvmlDeviceGetCount()
    except nv.NVMLError as exc:
        return GpuReading(note=f"no GPU: {_describe(nv, exc)}")
    if count == 0:
        return GpuReading(note="no GPU: NVML sees no devices")
    reading = GpuReading()
    for index in range(count):
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            gpu = _read_one(nv, index, handle)
        except nv.NVMLError as exc:  # a GPU fallen off the bus must not hide the others
            reading.note = f"GPU {index}: {_describe(nv, exc)}"
            continue
        reading.gpus.append(gpu)
        reading.processes.extend(_processes(nv, handle, gpu.uuid))
    return reading


def _opt(nv, fn, *args, scale: float = 1.0) -> float | None:
    """Call an NVML getter that some boards do not support; None when unsupported."""
    try:
        return fn(*args) / scale
    except nv.NVMLError:
        return None


def _read_one(nv, index: int, handle) -> Gpu:
    """Return one GPU's figures."""
    name = nv.nvmlDeviceGetName(handle)
    uuid = nv.nvmlDeviceGetUUID(handle)
    mem = nv.nvmlDeviceGetMemoryInfo(handle)
    try:
        util: float | None = float(nv.nvmlDeviceGetUtilizationRates(handle).gpu)
    except nv.NVMLError:
        util = None
    return Gpu(index=index, name=name if isinstance(name, str) else name.decode(),
               uuid=uuid if isinstance(uuid, str) else uuid.decode(), util=util,
               mem_used_mib=mem.used / 2**20, mem_total_mib=mem.total / 2**20,
               temp_c=_opt(nv, nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU),
               power_w=_opt(nv, nv.nvmlDeviceGetPowerUsage, handle, scale=1000.0),
               power_limit_w=_opt(nv, nv.nvmlDeviceGetEnforcedPowerLimit, handle, scale=1000.0))


def _processes(nv, handle, uuid: str) -> list[GpuProcess]:
    """Return the compute processes on one GPU (empty when the driver will not say)."""
    try:
        procs = nv.nvmlDeviceGetComputeRunningProcesses(handle)
    except nv.NVMLError:
        return []
    out = []
    for p in procs:
        used = getattr(p, "usedGpuMemory", None)
        out.append(GpuProcess(pid=int(p.pid), gpu_uuid=uuid, used_mib=used / 2**20 if used else None))
    return out
