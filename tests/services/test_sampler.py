"""The sampler end to end: local + real SSH hosts, the shared store, history, job GPU use, a host going down."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from services import jobs
from services.hosts import LOCAL, Host, local_host
from services.metrics import history
from services.metrics.collect_ssh import Backoff
from services.metrics.store import SnapshotStore, cache_dir
from services.operations.sampler import Sampler, acquire_lock
from services.people import users
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.service
AF3 = {"name": "t", "dialect": "alphafold3", "version": 2, "modelSeeds": [1],
       "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}


def ssh_host(sshd, name="gpu1", port=None) -> Host:
    return Host(name=name, address=sshd["host"], port=port or sshd["port"], user=sshd["user"], key_file=sshd["key"],
                slots=1)


@pytest.fixture
def sampler_for(settings, sshd):
    made = []

    def make(hosts, **kw):
        s = Sampler(settings.with_overrides(known_hosts=Path(sshd["known_hosts"])), hosts=hosts, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_tick_local_and_ssh_hosts_one_down(settings, sshd, sampler_for):
    sampler = sampler_for([local_host(settings), ssh_host(sshd), ssh_host(sshd, "dead", free_port())])
    t0 = time.time()
    first = sampler.tick(now=t0)
    by = {s.host: s for s in first.snaps}
    assert list(by) == [LOCAL, "gpu1", "dead"]
    assert by[LOCAL].up and by["gpu1"].up and len(by["gpu1"].gpus) == 2
    assert not by["dead"].up and "cannot connect" in by["dead"].reason
    assert first.wall_ms < 1500
    # every web worker reads the same snapshot through its own store handle
    other = SnapshotStore(cache_dir(settings.data_dir))
    latest = other.latest()
    assert latest.seq == 1 and [h.host for h in latest.hosts] == [LOCAL, "gpu1", "dead"]
    assert latest.host("gpu1").gpus[1].mem_total_mib == 81920 and not latest.host("dead").up
    second = sampler.tick(now=t0 + 5)  # history rows are per whole second: tick as 5 s apart
    assert other.seq() == 2 and second.wall_ms < 1500
    assert "next try in" in {s.host: s for s in second.snaps}["dead"].reason  # backed off, no reconnect
    other.close()
    conn = sampler_db(settings)
    rows = conn.execute("SELECT host, count(*) FROM metric_samples WHERE tier = 0 GROUP BY host").fetchall()
    assert {r[0]: r[1] for r in rows} == {LOCAL: 2, "gpu1": 2}  # down hosts leave a gap, not zeros


def sampler_db(settings):
    from services.platform import db

    return db.connect(settings.db_path)


def test_rollup_and_prune_run_from_ticks(settings, sampler_for):
    sampler = sampler_for([local_host(settings)])
    t0 = 1_700_000_000 // 3600 * 3600
    for i in range(30):  # 2.5 synthetic minutes of 5 s ticks
        sampler.tick(now=t0 + 5 * i)
    conn = sampler_db(settings)
    minutes = conn.execute("SELECT count(*) FROM metric_samples WHERE tier = 1").fetchone()[0]
    assert minutes == 2  # maintenance ran once per synthetic minute, rolling up the complete ones
    sampler.tick(now=t0 + 2 * 86400)  # two days later: raw rows from t0 aged out
    assert conn.execute("SELECT min(ts) FROM metric_samples WHERE tier = 0").fetchone()[0] == t0 + 2 * 86400


def test_job_gpu_use_is_recorded(settings, sshd, sampler_for, conn):
    """A running SSH job whose process tree holds GPU memory gets peak memory and mean utilisation."""
    host = ssh_host(sshd)
    owner = users.get_by_name(conn, "alice")
    job = jobs.submit(conn, settings, owner, AF3)
    jobs.register_worker(conn, "w1", LOCAL, os.getpid())
    job = jobs.claim_job(conn, settings, "w1", [host])
    leader = subprocess.Popen(["bash", "-c", "sleep 30 & wait"], start_new_session=True)
    apps = Path(sshd["root"]) / "compute_apps.csv"
    try:
        child = _wait_child(leader.pid)
        jobs.record_process(conn, job, remote_pid=leader.pid)
        sampler = sampler_for([host])
        uuid0 = "GPU-deadbeef-1111-2222-3333-000000000000"
        apps.write_text(f"{child},20000,{uuid0},python3\n{os.getpid()},999,{uuid0},someone-else\n")
        utils = [next(g.util for g in sampler.tick().snaps[0].gpus if g.index == 0)]
        apps.write_text(f"{child},35000,{uuid0},python3\n")
        utils.append(next(g.util for g in sampler.tick().snaps[0].gpus if g.index == 0))
    finally:
        apps.unlink(missing_ok=True)
        leader.kill()
        leader.wait()
    row = conn.execute("SELECT peak_mem_mib, mean_util FROM jobs WHERE id = ?", (job.id,)).fetchone()
    assert row["peak_mem_mib"] == 35000.0
    assert row["mean_util"] == pytest.approx(sum(utils) / 2, abs=0.05)


def _wait_child(pid: int) -> int:
    for _ in range(100):
        kids = psutil.Process(pid).children()
        if kids:
            return kids[0].pid
        time.sleep(0.02)
    raise AssertionError("no child process")


@pytest.mark.slow
def test_stopping_sshd_turns_host_down_within_two_ticks(settings, sampler_for, tmp_path):
    """A host's own sshd (not the shared one) is stopped, sessions included; the local host keeps updating."""
    env = dict(os.environ, SSHD_ROOT=str(tmp_path / "sshd2"), SSHD_PORT=str(free_port()))
    script = ROOT / "tests" / "support" / "sshd_ci.sh"
    out = subprocess.run(["bash", str(script), "start"], env=env, check=True, capture_output=True, text=True).stdout
    facts = dict(line.split("=", 1) for line in out.split())
    try:
        host = Host(name="gpu2", address=facts["SSH_TEST_HOST"], port=int(facts["SSH_TEST_PORT"]),
                    user=facts["SSH_TEST_USER"], key_file=facts["SSH_TEST_KEY"])
        sampler = Sampler(settings.with_overrides(known_hosts=Path(facts["SSH_TEST_KNOWN_HOSTS"])),
                          hosts=[local_host(settings), host], backoff=Backoff(5, 60))
        try:
            assert all(s.up for s in sampler.tick().snaps)
            listener = int((tmp_path / "sshd2" / "sshd.pid").read_text())
            sessions = psutil.Process(listener).children(recursive=True)  # our kept connection's sshd
            subprocess.run(["bash", str(script), "stop"], env=env, check=True, capture_output=True)
            for proc in sessions:
                proc.kill()
            states = []
            for _ in range(2):
                snaps = {s.host: s for s in sampler.tick().snaps}
                states.append(snaps["gpu2"].up)
                assert snaps[LOCAL].up
            assert states[-1] is False
            assert "cannot connect" in snaps["gpu2"].reason or "failed" in snaps["gpu2"].reason
            assert sampler.store.seq() == 3
        finally:
            sampler.close()
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, check=False, capture_output=True)


@pytest.mark.slow
def test_cli_once_and_only_one_sampler_per_data_dir(settings):
    """`python -m services.operations.sampler` takes a tick; a second sampler on the same data dir refuses to start."""
    env = dict(os.environ, FOLDDECK_DATA_DIR=str(settings.data_dir), FOLDDECK_HOSTS_FILE=str(settings.hosts_path))
    cmd = [str(ROOT / ".venv/bin/python"), "-m", "services.operations.sampler", "--once"]
    ok = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("local: up"), ok.stderr
    assert SnapshotStore(cache_dir(settings.data_dir)).seq() == 1
    held = acquire_lock(settings)
    assert held is not None
    try:
        refused = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        held.close()
    assert refused.returncode == 1 and "another sampler already runs" in refused.stderr


def test_history_query_after_ticks(settings, sampler_for):
    sampler = sampler_for([local_host(settings)])
    t0 = time.time() - 60
    for i in range(12):
        sampler.tick(now=t0 + 5 * i)
    h = history.query(sampler_db(settings), LOCAL, 900, t0 + 60, sampler.retention)
    assert h.tier == history.Tier.RAW and len(h.series["c"][0]) == 12 and "d0" in h.series


def test_host_down_and_up_are_written_to_the_application_log(settings, caplog):
    """Only transitions are logged: a host going down once, then coming back."""
    import logging

    from services.metrics.model import HostSnapshot, HostState
    from services.operations.sampler import Sampler

    sampler = Sampler(settings, hosts=[])
    up = HostSnapshot(host="gpu9", ts=1.0)
    gone = HostSnapshot(host="gpu9", ts=2.0, state=HostState.DOWN, reason="gpu9: connection refused")
    conn = sampler_db(settings)
    with caplog.at_level(logging.INFO, logger="folddeck.metrics"):
        for snap in (up, up, gone, gone, up):
            sampler._log_transitions(conn, [snap])
    messages = [r.getMessage() for r in caplog.records if r.name == "folddeck.metrics"]
    assert messages == ["host gpu9 is down: gpu9: connection refused", "host gpu9 is up again"]
    rows = [tuple(r) for r in conn.execute("SELECT host, event, reason, source FROM host_events ORDER BY id")]
    assert rows == [("gpu9", "down", "gpu9: connection refused", "metrics"), ("gpu9", "up", "", "metrics")]
    assert all(r.source == "metrics" for r in caplog.records if r.name == "folddeck.metrics")
