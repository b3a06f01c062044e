"""A newcomer's first run, end to end: a fresh clone, no FOLDDECK_* settings at all, `python -m dash_app`
as `make run` does (`.ci/first_run.sh` checks `make run` itself starts and stops; everything else is here).

It must print the URL and the admin password once, serve the login page, accept that password, refuse
anonymous callbacks, run every bundled sample on the simulator to `succeeded` (the ligand one needs the
CCD index, built on first use), reuse the first job's MSA for the same protein with another ligand, and
stop every process it started on Ctrl-C, even with a request in flight.

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
import requests

from services.platform import defaults
from tests.conftest import ROOT, wait_for

# the default port is the point of this test: it runs apart from anything else that might want it
pytestmark = [pytest.mark.slow, pytest.mark.service, pytest.mark.xdist_group("default-port")]


def read_until(proc: subprocess.Popen, pattern: str, timeout: float = 60) -> list[str]:
    """Return stdout lines up to the first one matching `pattern`."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} in {lines}")


def wait_http(url: str, timeout: float = 60) -> None:
    """Return once `url` answers 200; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # starting, or a loaded machine
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


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


def log_in_as_admin(base: str, password: str) -> None:
    """Log in with the printed password through the real form; anonymous callbacks are refused."""
    s = requests.Session()
    page = s.get(base + "/")
    assert page.url.startswith(base + "/login?next=")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert requests.post(base + "/_dash-update-component", json={}).status_code == 401
    r = s.post(base + "/login", data={"username": "admin", "password": password, "csrf_token": token})
    assert r.status_code == 200 and r.url == base + "/"
    assert '"admin"' in s.get(base + "/_dash-layout").text


def holds(children: list[psutil.Process], local_port: int) -> bool:
    """Return True once a gunicorn worker has accepted the connection from `local_port`."""
    for p in children:
        try:
            if "gunicorn" in " ".join(p.cmdline()) and any(
                    c.raddr and c.raddr.port == local_port for c in p.net_connections(kind="tcp")):
                return True
        except psutil.Error:
            continue
    return False


def test_first_run_fresh_clone_no_settings_login_samples_msa_reuse_and_ctrl_c(tmp_path):
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
        password = next(re.search(r"password: (\S+)", line).group(1) for line in lines if "password:" in line)
        base = f"http://{defaults.DEFAULT_HOST}:{defaults.DEFAULT_PORT}"
        assert f"FoldDeck is starting at {base}" in lines[-1]
        wait_http(base + "/healthz")
        log_in_as_admin(base, password)

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

        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "services.running.worker" in names and "services.operations.sampler" in names and "gunicorn" in names
        # A browser tab's request still arriving when Ctrl-C comes: it once held a web worker until gunicorn
        # killed it 30 s later ("Worker was sent SIGKILL! Perhaps out of memory?").
        slow = socket.create_connection((defaults.DEFAULT_HOST, defaults.DEFAULT_PORT))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        wait_for(lambda: holds(children, slow.getsockname()[1]), 20, "a web worker to hold the unfinished request")
    finally:
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - started
    assert "FoldDeck stopped." in out
    assert "SIGKILL" not in out and "Traceback" not in out, out
    assert took < 10, f"Ctrl-C took {took:.1f} s to stop everything"
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"still running after Ctrl-C: {[p.cmdline() for p in alive]}"
