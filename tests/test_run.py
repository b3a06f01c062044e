"""The README's `make run` path end to end: `python -m dash_app` on a fresh data dir.

It must print the URL and the admin password once, serve the login page, accept that password,
refuse anonymous callbacks, run a submitted job on the bundled simulator to `succeeded`, and stop
every process it started on Ctrl-C.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.conftest import ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.service]


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # starting, or a loaded machine
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_run001_fresh_start_login_job_and_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env.update(FOLDDECK_DATA_DIR=str(tmp_path / "data"), FOLDDECK_PORT=str(port), PYTHONUNBUFFERED="1",
               FOLDDECK_SAMPLE_INTERVAL="1")
    proc = subprocess.Popen([sys.executable, "-m", "dash_app"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = read_until(proc, r"FoldDeck is starting at http://127\.0\.0\.1:\d+")
        password = next(re.search(r"password: (\S+)", line).group(1) for line in lines if "password:" in line)
        base = f"http://127.0.0.1:{port}"
        assert f"FoldDeck is starting at {base}" in lines[-1]
        wait_http(base + "/healthz")

        s = requests.Session()
        page = s.get(base + "/")
        assert page.url.startswith(base + "/login?next=")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert requests.post(base + "/_dash-update-component", json={}).status_code == 401
        r = s.post(base + "/login", data={"username": "admin", "password": password, "csrf_token": token})
        assert r.status_code == 200 and r.url == base + "/"
        assert '"admin"' in s.get(base + "/_dash-layout").text

        submit = subprocess.run([sys.executable, "-m", "services.jobs", "submit", "data/samples/protein_only.json",
                                 "--accept-terms"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert submit.returncode == 0, submit.stderr
        job_id = re.search(r"submitted job (\d+)", submit.stdout).group(1)
        deadline, shown = time.monotonic() + 120, ""
        while time.monotonic() < deadline and "succeeded" not in shown:
            time.sleep(1)
            shown = subprocess.run([sys.executable, "-m", "services.jobs", "show", job_id], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=60).stdout
        assert "succeeded" in shown, shown
        outputs = list((tmp_path / "data" / "jobs" / job_id).rglob("*_summary_confidences.json"))
        assert outputs, "the simulated job wrote no results"

        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "services.worker" in names and "services.sampler" in names and "gunicorn" in names
        # A browser tab's request still arriving when Ctrl-C comes: it once held a web worker until gunicorn
        # killed it 30 s later ("Worker was sent SIGKILL! Perhaps out of memory?").
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)
    finally:
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - started
    assert "FoldDeck stopped." in out
    assert "SIGKILL" not in out and "Traceback" not in out, out
    assert took < 10, f"Ctrl-C took {took:.1f} s to stop everything"
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"still running after Ctrl-C: {[p.cmdline() for p in alive]}"
