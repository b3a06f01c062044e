"""A newcomer's first run: a fresh clone, no FOLDDECK_* settings at all, `python -m dash_app` as `make run` does.

The default data dir is the relative `./data`; the job's input path once went to the AF3 command
relative to the folder FoldDeck started in, and the command runs in its attempt folder, so every
job failed after a second. This runs the committed HEAD from a clone, on the default port, with
this test run's interpreter standing in for the `.venv` that `make run` creates.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from services import defaults
from tests.conftest import ROOT
from tests.test_run import read_until, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.service]


def fresh_clone(dest) -> str:
    """Clone the repository's committed HEAD into `dest` and return the path as text."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", head], check=True)
    return str(dest)


def run_seconds(shown: str) -> float:
    """Return finished_at - started_at from `python -m services.jobs show` output."""
    stamp = {k: time.mktime(time.strptime(v, "%Y-%m-%d %H:%M:%S"))
             for k, v in re.findall(r"^(started_at|finished_at)\s+(\S+ \S+)$", shown, re.M)}
    return stamp["finished_at"] - stamp["started_at"]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((defaults.DEFAULT_HOST, port))
        except OSError:
            return False
    return True


def test_first_run_fresh_clone_no_settings_job_succeeds(tmp_path):
    clone = fresh_clone(tmp_path / "folddeck")
    assert not os.path.exists(os.path.join(clone, "data", "folddeck.db"))
    assert port_free(defaults.DEFAULT_PORT), (
        f"port {defaults.DEFAULT_PORT} is in use; this test runs FoldDeck exactly as `make run` does, on its default")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "dash_app"], cwd=clone, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    children: list[psutil.Process] = []
    try:
        lines = read_until(proc, r"FoldDeck is starting at http://")
        assert any("password:" in line for line in lines), lines
        base = f"http://{defaults.DEFAULT_HOST}:{defaults.DEFAULT_PORT}"
        wait_http(base + "/healthz")
        children = psutil.Process(proc.pid).children(recursive=True)

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "services.jobs", *args], cwd=clone, env=env,
                                  capture_output=True, text=True, timeout=60)

        # every bundled sample, the ligand/ion one included: it needs the CCD index, built on first use
        job_ids = []
        for sample in sorted((Path(clone) / "data" / "samples").glob("*.json")):
            submit = cli("submit", f"data/samples/{sample.name}", "--accept-terms")
            assert submit.returncode == 0, (sample.name, submit.stdout, submit.stderr)
            job_ids += re.findall(r"submitted job (\d+)", submit.stdout)
        assert len(job_ids) >= 5, job_ids  # four files, one of them with two jobs
        deadline = time.monotonic() + 240
        for job_id in job_ids:
            shown = ""
            while time.monotonic() < deadline and not re.search(r"state\s+(succeeded|failed|cancelled)", shown):
                time.sleep(1)
                shown = cli("show", job_id).stdout
            assert re.search(r"state\s+succeeded", shown), shown
            assert list((tmp_path / "folddeck" / "data" / "jobs" / job_id).rglob("*_summary_confidences.json"))
        # Issue 16: the same protein again with another ligand reuses the first job's MSA and finishes sooner.
        kinase = json.loads((Path(clone) / "data" / "samples" / "protein_ligand_ion.json").read_text())
        first = next(i for i in job_ids if "Kinase" in cli("show", i).stdout)
        kinase["sequences"][1]["ligand"]["ccdCodes"] = ["ADP"]
        (Path(clone) / "kinase_adp.json").write_text(json.dumps(kinase))
        again = re.findall(r"submitted job (\d+)", cli("submit", "kinase_adp.json", "--accept-terms").stdout)[0]
        shown = ""
        while time.monotonic() < deadline + 60 and not re.search(r"state\s+(succeeded|failed|cancelled)", shown):
            time.sleep(1)
            shown = cli("show", again).stdout
        assert re.search(r"state\s+succeeded", shown), shown
        assert re.search(rf"msa_reused\s+chain A reused from job #{first}$", shown, re.M), shown
        assert run_seconds(shown) < run_seconds(cli("show", first).stdout), "the reused job finished sooner"
    finally:
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - started
    assert "FoldDeck stopped." in out
    assert "SIGKILL" not in out and "Traceback" not in out, out
    assert took < 10, f"Ctrl-C took {took:.1f} s"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"still running after Ctrl-C: {[p.cmdline() for p in alive]}"
