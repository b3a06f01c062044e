"""SSH collector against a real OpenSSH server on loopback with a fake nvidia-smi (2 GPUs)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from services.hosts import Host
from services.metrics.collect_ssh import Backoff, SshCollector, parse_output, remote_command
from tests.conftest import free_port

pytestmark = pytest.mark.service


def _host(sshd, **over) -> Host:
    fields = dict(name="gpu1", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"])
    fields.update(over)
    return Host(**fields)


@pytest.fixture
def collector(sshd):
    c = SshCollector(_host(sshd), Path(sshd["known_hosts"]), mounts=("/", "/no/such/mount"))
    yield c
    c.close()


def test_collects_two_gpus_cpu_memory_disk(sshd, collector):
    first = collector.collect()
    assert first.up, first.reason
    assert first.cpu_percent is None  # no previous counters yet
    time.sleep(0.3)
    snap = collector.collect()
    assert snap.up and snap.gpu_note == ""
    assert 0.0 <= snap.cpu_percent <= 100.0
    assert len(snap.per_cpu) == os.cpu_count()
    # the "remote" is this machine, so the numbers must agree with psutil
    assert snap.mem_total_bytes == psutil.virtual_memory().total
    assert [d.mount for d in snap.disks] == ["/"]  # a missing mount is left out, not an error
    du = psutil.disk_usage("/")  # total as df shows it: used + available to users
    assert snap.disks[0].total_bytes == pytest.approx(du.used + du.free, rel=0.01)
    assert snap.load is not None and len(snap.load) == 3
    assert [g.index for g in snap.gpus] == [0, 1]
    gpu = snap.gpus[1]
    assert gpu.name == "NVIDIA A100-SXM4-80GB" and gpu.uuid.startswith("GPU-") and gpu.mem_total_mib == 81920
    assert 0 <= gpu.util <= 100 and 30 <= gpu.temp_c <= 64 and gpu.power_limit_w == 400.0
    assert 60 <= gpu.power_w <= 400 and 512 <= gpu.mem_used_mib <= 81920
    assert snap.collect_ms is not None and snap.collect_ms < 2000


def test_compute_apps_with_process_tree(sshd, collector):
    """GPU processes come back with their process group and parents, as a job attribution needs."""
    leader = subprocess.Popen(["bash", "-c", "sleep 30 & wait"], start_new_session=True)
    try:
        child = None
        for _ in range(50):
            kids = psutil.Process(leader.pid).children()
            if kids:
                child = kids[0].pid
                break
            time.sleep(0.02)
        assert child
        uuid = "GPU-deadbef0-1111-2222-3333-000000000001"
        apps = Path(sshd["root"]) / "compute_apps.csv"
        apps.write_text(f"{child},30123,{uuid},python3\n")
        snap = collector.collect()
    finally:
        apps.unlink(missing_ok=True)
        leader.kill()
        leader.wait()
    assert len(snap.gpu_processes) == 1
    proc = snap.gpu_processes[0]
    assert (proc.pid, proc.used_mib, proc.gpu_uuid, proc.name) == (child, 30123.0, uuid, "python3")
    assert proc.pgid == leader.pid and proc.ancestors[0] == leader.pid


def test_no_compute_apps_when_file_absent(sshd, collector):
    snap = collector.collect()
    assert snap.up and snap.gpu_processes == []


def test_failing_driver_is_a_host_without_gpus(sshd, collector):
    flag = Path(sshd["root"]) / "nvidia_smi_fail"
    flag.touch()
    try:
        snap = collector.collect()
    finally:
        flag.unlink()
    assert snap.up and snap.gpus == []
    assert snap.gpu_note.startswith("no GPU: nvidia-smi failed: NVIDIA-SMI has failed")


def test_host_without_nvidia_smi():
    """The real tick script run by a shell whose PATH has no nvidia-smi."""
    out = subprocess.run(["sh", "-c", remote_command(("/",))], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout
    snap, counters = parse_output("nogpu", out, None, time.time())
    assert snap.up and snap.gpus == [] and snap.gpu_note == "no GPU: nvidia-smi not found"
    assert snap.mem_total_bytes > 0 and snap.disks and "cpu" in counters


def test_host_down_is_reported_fast_and_backed_off(sshd):
    host = _host(sshd, name="deadhost", port=free_port())  # nothing listens there
    c = SshCollector(host, Path(sshd["known_hosts"]), backoff=Backoff(min_s=30, max_s=60))
    t0 = time.perf_counter()
    snap = c.collect()
    assert not snap.up and "cannot connect" in snap.reason and "deadhost" in snap.reason
    assert time.perf_counter() - t0 < 1.0
    again = c.collect()  # inside the backoff window: no new connection attempt
    assert not again.up and "next try in 30 s" in again.reason
    assert c.backoff.failures == 1


def test_backoff_doubles_and_caps():
    b = Backoff(min_s=5, max_s=60)
    assert [b.next_delay() for _ in range(6)] == [5, 10, 20, 40, 60, 60]
    b.reset()
    assert b.next_delay() == 5


def test_key_not_authorised(sshd, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    c = SshCollector(_host(sshd, key_file=str(key)), Path(sshd["known_hosts"]))
    snap = c.collect()
    assert not snap.up and "authentication refused" in snap.reason


def test_unknown_host_key_is_refused(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    snap = SshCollector(_host(sshd), empty).collect()
    assert not snap.up and "host key not in" in snap.reason


def test_missing_key_file(sshd, tmp_path):
    snap = SshCollector(_host(sshd, key_file=str(tmp_path / "nope")), Path(sshd["known_hosts"])).collect()
    assert not snap.up and "not found" in snap.reason


def test_connection_is_reused(sshd, collector):
    collector.collect()
    client = collector._client
    collector.collect()
    assert collector._client is client and client.get_transport().is_active()
