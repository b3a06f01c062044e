"""Local collector (psutil) and the NVML reader's no-GPU paths."""
from __future__ import annotations

import os
import sys
import time

import psutil
import pynvml
import pytest

from services.metrics import nvml
from services.metrics.collect_local import LocalCollector
from services.metrics.model import HostSnapshot, HostState


def _nvml_works() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.mark.skipif(_nvml_works(), reason="this machine has a working NVIDIA driver (see bench/nvml_probe.py)")
def test_real_nvml_without_gpu_reports_no_gpu():
    """On a machine without a driver, the real nvidia-ml-py fails to load libnvidia-ml: reported, not raised."""
    reading = nvml.read_gpus()
    assert reading.gpus == [] and reading.processes == []
    assert reading.note.startswith("no GPU: NVML unavailable")


def test_nvml_library_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    assert nvml.read_gpus().note == "no GPU: nvidia-ml-py is not installed"


class _DriverGone:
    """NVML as on a node whose kernel module is not loaded (cannot be produced for real here)."""

    NVMLError = pynvml.NVMLError
    NVMLError_LibraryNotFound = pynvml.NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = pynvml.NVMLError_DriverNotLoaded

    def nvmlInit(self):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)


def test_nvml_driver_not_loaded():
    assert nvml.read_gpus(_DriverGone()).note == "no GPU: NVML unavailable (NVIDIA driver not loaded)"


def test_local_snapshot_without_gpu_still_has_cpu_memory_disk(tmp_path):
    c = LocalCollector(mounts=("/", str(tmp_path), "/no/such/mount"))
    time.sleep(0.1)
    snap = c.collect()
    assert snap.state == HostState.UP and snap.host == "local"
    assert 0 <= snap.cpu_percent <= 100 and len(snap.per_cpu) == psutil.cpu_count()
    assert snap.load == pytest.approx(os.getloadavg(), abs=1.0)
    assert snap.mem_total_bytes == psutil.virtual_memory().total and 0 < snap.mem_used_bytes < snap.mem_total_bytes
    assert [d.mount for d in snap.disks] == ["/", str(tmp_path)]
    if not _nvml_works():
        assert snap.gpus == [] and snap.gpu_note.startswith("no GPU")
    assert HostSnapshot.from_dict(snap.to_dict()) == snap  # survives the store's round trip


def test_job_gpu_tracker_keeps_a_jobs_peak_across_sampler_restarts():
    """A new sampler (empty memory) resumes from the job row: the earlier peak is not lost."""
    from types import SimpleNamespace

    from services.metrics.jobgpu import JobGpuTracker
    from services.metrics.model import Gpu, GpuProcess, HostSnapshot

    gpu = Gpu(0, "A100", "GPU-1", util=40.0, mem_used_mib=1000, mem_total_mib=81920, temp_c=50, power_w=200,
              power_limit_w=400)
    snap = HostSnapshot(host="local", ts=1.0, gpus=[gpu], gpu_processes=[GpuProcess(pid=77, gpu_uuid="GPU-1",
                                                                                      used_mib=1000.0)])
    job = SimpleNamespace(id=5, host="local", pid=77, remote_pid=None, peak_mem_mib=30000.0, mean_util=80.0)
    use = JobGpuTracker().update([job], [snap])[5]
    assert use.peak_mem_mib == 30000.0  # the recorded peak survives a smaller reading
    assert use.mean_util == 60.0  # the earlier mean (one tick's weight) and this tick's 40 %
    fresh = SimpleNamespace(id=6, host="local", pid=77, remote_pid=None, peak_mem_mib=None, mean_util=None)
    assert JobGpuTracker().update([fresh], [snap])[6].peak_mem_mib == 1000.0
