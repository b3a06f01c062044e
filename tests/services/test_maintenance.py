"""Maintenance windows and preflight in the claim (issue 18): a host in or near a window gets no job that would
overrun it, running jobs are left alone; a host that failed preflight gets no real-AF3 job; "not before"."""
from __future__ import annotations

import sys
import time

import pytest

from services import jobs
from services.hosts import Host, preflight
from services.jobs import JobState
from services.jobs.rules import placement, wording
from services.operations import maintenance
from services.platform.errors import InvalidInput, PermissionDenied
from tests.services.test_approvals import BIG_SEQ
from tests.services.test_jobs import af3

GPU1, GPU2 = Host(name="gpu1", address="x", user="u", slots=2), Host(name="gpu2", address="y", user="u", slots=1)
H = 3600


@pytest.fixture
def worker(conn):
    jobs.register_worker(conn, "w1", "test", 1)
    return "w1"


def test_host_in_maintenance_takes_nothing_and_says_until_when(conn, settings, alice, admin, worker):
    now = time.time()
    maintenance.add_window(conn, admin, "gpu1", now - H, now + H, "driver update")
    job = jobs.submit(conn, settings, alice, af3())
    assert jobs.claim_job(conn, settings, worker, [GPU1]) is None
    assert placement.maintenance_text(conn, "gpu1", now).startswith("gpu1 in maintenance until ")
    assert jobs.claim_job(conn, settings, worker, [GPU1, GPU2]).host == "gpu2"
    assert jobs.get_job(conn, alice, job.id).state is JobState.RUNNING


def test_job_that_would_overrun_the_next_window_waits(conn, settings, alice, admin, worker):
    now = time.time()
    big = jobs.submit(conn, settings, alice, af3("big", BIG_SEQ * 20, seeds=range(1, 7)))  # 2,800 tokens x 6 seeds
    small = jobs.submit(conn, settings, alice, af3("small"))
    assert big.gpu_seconds > H > small.gpu_seconds  # ~1.2 h: the size badge's estimate
    maintenance.add_window(conn, admin, "gpu1", now + H, now + 2 * H)
    claimed = jobs.claim_job(conn, settings, worker, [GPU1])
    assert claimed.id == small.id  # the big one would overrun: the small one behind it goes
    assert jobs.claim_job(conn, settings, worker, [GPU1]) is None
    assert jobs.get_job(conn, alice, big.id).state is JobState.QUEUED


def test_running_jobs_are_left_alone(conn, settings, alice, admin, worker):
    jobs.submit(conn, settings, alice, af3())
    running = jobs.claim_job(conn, settings, worker, [GPU1])
    maintenance.add_window(conn, admin, "gpu1", time.time() - 1, time.time() + H)
    jobs.reap_expired(conn, settings)
    assert jobs.get_job(conn, alice, running.id).state is JobState.RUNNING
    assert jobs.check_running(conn, running) == ""  # its worker goes on


def test_windows_are_admin_only_and_checked(conn, alice, admin):
    with pytest.raises(PermissionDenied):
        maintenance.add_window(conn, alice, "gpu1", 0, 10)
    with pytest.raises(InvalidInput):
        maintenance.add_window(conn, admin, "gpu1", 10, 5)
    w = maintenance.add_window(conn, admin, "gpu1", 100, 200, "x")
    assert maintenance.windows(conn, 150, 160) == [w] and maintenance.windows(conn, 200, 300) == []


def test_not_before(conn, settings, alice, worker):
    job = jobs.submit(conn, settings, alice, af3())
    jobs.set_not_before(conn, alice, job.id, time.time() + H)
    assert jobs.claim_job(conn, settings, worker, [GPU1]) is None
    jobs.set_not_before(conn, alice, job.id, None)
    assert jobs.claim_job(conn, settings, worker, [GPU1]).id == job.id


def test_preflight_missing_database_marks_host_not_ready_and_jobs_avoid_it(conn, settings, alice, worker, tmp_path):
    model, dbs = tmp_path / "models", tmp_path / "dbs"
    model.mkdir()
    (model / "af3.bin.zst").write_bytes(b"w")
    dbs.mkdir()
    for name in preflight.DB_FILES[1:]:  # mmcif_files is missing
        (dbs / name).write_text("x")
    command = f"{sys.executable} -c pass --json_path={{input}} --output_dir={{output}}"
    real = settings.with_overrides(af3_command=command, af3_model_dir=str(model), af3_db_dir=str(dbs))
    local = Host(name="local", slots=1, work_dir=str(real.jobs_dir))
    missing = preflight.check_host(real, local)
    assert any("mmcif_files" in m for m in missing)
    assert not any("model weights" in m or "AF3 command" in m for m in missing)
    preflight.run_all(conn, real, [local])
    assert not preflight.is_ready(conn, "local") and "mmcif_files" in "\n".join(
        preflight.readiness(conn)["local"].missing)
    job = jobs.submit(conn, real, alice, af3())
    assert jobs.claim_job(conn, real, worker, [local]) is None  # real AF3 never goes to the unready host
    preflight.record(conn, "local", [])
    assert jobs.claim_job(conn, real, worker, [local]).id == job.id
    # the simulator needs none of it
    assert not preflight.runs_real_af3(settings, local)


def test_preflight_command_missing(settings, tmp_path):
    real = settings.with_overrides(af3_command="/nonexistent/run_alphafold --json_path={input} --output_dir={output}")
    missing = preflight.check_host(real, Host(name="local", slots=1))
    assert "AF3 command not found: /nonexistent/run_alphafold" in missing
    assert "FOLDDECK_AF3_MODEL_DIR is not set" in missing and "FOLDDECK_AF3_DB_DIR is not set" in missing


def test_preflight_of_a_slurm_host_runs_here_without_nvidia_smi(settings):
    """A Slurm host has no address to SSH to and its GPUs are on the compute nodes, not where sbatch runs."""
    real = settings.with_overrides(af3_command="/nonexistent/run_alphafold --json_path={input} --output_dir={output}")
    cluster = Host(name="cluster", kind="slurm", slots=4)
    assert "nvidia-smi" not in preflight.script(real, cluster)
    missing = preflight.check_host(real, cluster)  # an SSH attempt would answer "cannot connect" instead
    assert "AF3 command not found: /nonexistent/run_alphafold" in missing
    assert not any("GPU" in m for m in missing)


def test_why_a_job_waits(conn, settings, alice, admin):
    from services.jobs.rules import waiting
    from services.operations import approvals

    now = time.time()
    job = jobs.submit(conn, settings, alice, af3())
    one = [GPU1]
    # gpu1's slot is free, so the claim would place it: only a worker is missing, and it says so (issue 23)
    assert waiting.reasons(conn, settings, [job], now, one)[job.id] == wording.NO_WORKER
    jobs.register_worker(conn, "w-1", "node1", 1234)
    assert waiting.reasons(conn, settings, [job], now, one)[job.id] == wording.STARTING
    w = maintenance.add_window(conn, admin, "gpu1", now - 60, now + H)
    assert waiting.reasons(conn, settings, [job], now, one)[job.id].startswith("waiting: gpu1 in maintenance until ")
    maintenance.delete_window(conn, admin, w.id)
    maintenance.add_window(conn, admin, "gpu1", now + job.gpu_seconds / 2, now + H)  # it would not finish first
    assert "has maintenance at" in waiting.reasons(conn, settings, [job], now, one)[job.id]
    jobs.set_limits(conn, alice.id, jobs.UserLimits(max_running=0, max_queued=None, max_tokens=None))
    assert "per-user limit, 0 of 0" in waiting.reasons(conn, settings, [job], now, one)[job.id]
    jobs.set_not_before(conn, alice, job.id, now + H)
    assert "not before" in waiting.reason(conn, settings, jobs.get_job(conn, alice, job.id), now)
    jobs.pause_queue(conn, admin)
    assert waiting.reason(conn, settings, jobs.get_job(conn, alice, job.id), now) == waiting.PAUSED
    approvals.set_needs_approval(conn, alice.id, True)
    big = jobs.submit(conn, settings, alice, af3("big"))
    assert "awaiting approval" in waiting.reason(conn, settings, big, now)


def test_preflight_of_a_cpu_node_checks_the_databases_not_weights_or_gpus(settings, tmp_path):
    """A host with CPU slots only runs data pipelines (issue 16): it needs the databases, not the weights or a GPU."""
    real = settings.with_overrides(af3_command="/nonexistent/run_alphafold --json_path={input} --output_dir={output}",
                                   af3_db_dir=str(tmp_path / "db"))
    cpu_node = Host(name="cpunode", slots=0, cpu_slots=8)
    text = preflight.script(real, cpu_node)
    assert "nvidia-smi" not in text and "weights" not in text and "FOLDDECK_AF3_MODEL_DIR" not in text
    assert "uniref90_2022_05.fa" in text
    assert "FOLDDECK_AF3_MODEL_DIR" in preflight.script(real, Host(name="gpu", slots=1, cpu_slots=8))
