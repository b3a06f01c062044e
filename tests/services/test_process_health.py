"""Process heartbeats and /healthz (issue 23): a worker, sampler or sender that is not running is reported,
by the real processes beating and dying, not by rows a test wrote."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from services.platform import db, heartbeat
from services.platform.processes import BACKGROUND
from tests.conftest import ROOT, wait_for


def _env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    return dict(env, PYTHONPATH=str(ROOT), FOLDDECK_DATA_DIR=str(settings.data_dir))


def _role(conn, role: str, stale_s: float) -> heartbeat.ProcessHealth:
    return next(p for p in heartbeat.health(conn, stale_s=stale_s) if p.role == role)


def test_a_killed_process_goes_stale_and_a_stopped_one_says_so(settings, tmp_path):
    conn = db.connect(settings.db_path)
    assert [p.words for p in heartbeat.health(conn)] == [
        f"{p.name}: not running (never started): {p.down_means}" for p in BACKGROUND]
    beating = ("import sys, time\nfrom services.platform.heartbeat import Heartbeat\n"
               f"Heartbeat({str(settings.db_path)!r}, 'worker', interval=0.1).start()\n"
               "print('beating', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", beating], cwd=tmp_path, env=_env(settings), stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline() == "beating\n"
        first = conn.execute("SELECT beat_at FROM process_heartbeats").fetchone()[0]
        wait_for(lambda: conn.execute("SELECT beat_at FROM process_heartbeats").fetchone()[0] > first, 10,
                 "a second beat")
        assert _role(conn, "worker", stale_s=1.0).ok
        proc.send_signal(signal.SIGKILL)  # no handler runs: the row just stops moving
        proc.wait(10)
        wait_for(lambda: not _role(conn, "worker", stale_s=1.0).ok, 10, "the killed worker to go stale")
        dead = _role(conn, "worker", stale_s=1.0)
        assert dead.words.startswith("worker: DOWN (no heartbeat for ") and "queued jobs do not start" in dead.words
    finally:
        proc.kill()
    clean = heartbeat.Heartbeat(settings.db_path, "sampler", interval=0.1).start()
    assert _role(conn, "sampler", stale_s=1.0).ok
    clean.stop()
    assert _role(conn, "sampler", stale_s=1.0).words.startswith("sampler: DOWN (stopped ")


def test_healthz_follows_the_real_worker_sampler_and_sender(settings, client, tmp_path):
    body = client.get("/healthz")
    assert body.status_code == 503 and body.json["status"] == "failing"
    assert {r: p["ok"] for r, p in body.json["processes"].items()} == {"worker": False, "sampler": False,
                                                                       "sender": False}
    procs = {p.name: subprocess.Popen([sys.executable, *p.args], cwd=tmp_path, env=_env(settings),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for p in BACKGROUND}
    try:
        ok = wait_for(lambda: (r := client.get("/healthz")).status_code == 200 and r, 90, "all three to beat")
        assert ok.json["status"] == "ok" and all(p["running"] == 1 for p in ok.json["processes"].values())
        procs["worker"].send_signal(signal.SIGTERM)  # what `systemctl stop folddeck-worker` sends
        assert procs["worker"].wait(60) == 0, procs["worker"].stderr.read()
        down = client.get("/healthz")
        assert down.status_code == 503 and down.json["processes"]["sampler"]["ok"]
        assert down.json["processes"]["worker"]["says"].startswith("worker: DOWN (stopped ")
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(60)
            proc.stderr.close()
