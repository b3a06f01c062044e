"""`python -m services.preflight` (issue 23): the operator's one report — processes, mail, hosts, AF3 — with an
exit status a deployment script can stop on."""
from __future__ import annotations

import os
import subprocess
import sys

from services.hosts import preflight
from services.platform import db, heartbeat
from tests.conftest import ROOT


def _preflight(settings, tmp_path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env.update(PYTHONPATH=str(ROOT), FOLDDECK_DATA_DIR=str(settings.data_dir), **extra)
    return subprocess.run([sys.executable, "-m", "services.preflight"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_fresh_install_fails_naming_what_is_missing(settings, tmp_path):
    out = _preflight(settings, tmp_path, FOLDDECK_AF3_COMMAND="/nonexistent/run_alphafold --json_path={input} "
                                                              "--output_dir={output}")
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"ok    settings: data dir {settings.data_dir}")
    assert "FAIL  worker: not running (never started): queued jobs do not start" in out.stdout
    assert "FAIL  mail: not configured (FOLDDECK_SMTP_HOST is empty): job e-mails wait in the outbox" in out.stdout
    assert "note  links in e-mails and webhooks point to http://127.0.0.1:8050 (FOLDDECK_BASE_URL" in out.stdout
    assert "FAIL  local: not ready for AlphaFold 3: AF3 command not found: /nonexistent/run_alphafold" in out.stdout
    # the result is stored as the sampler's would be: the claim sends no real-AF3 job there
    assert not preflight.is_ready(db.connect(settings.db_path), "local")


def test_everything_in_place_passes(settings, tmp_path):
    beats = [heartbeat.Heartbeat(settings.db_path, role).start() for role in ("worker", "sampler", "sender")]
    try:
        out = _preflight(settings, tmp_path, FOLDDECK_SMTP_HOST="127.0.0.1", FOLDDECK_SMTP_PORT="2525",
                         FOLDDECK_BASE_URL="https://folddeck.lab.example")
    finally:
        for beat in beats:
            beat.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok    mail: sent through 127.0.0.1:2525 (starttls)" in out.stdout
    assert "note  local: runs the bundled AlphaFold 3 simulator (synthetic results)" in out.stdout
    assert "FAIL" not in out.stdout


def test_unreadable_settings_exit_2(settings, tmp_path):
    out = _preflight(settings, tmp_path, FOLDDECK_LOCAL_SLOTS="many")
    assert out.returncode == 2 and out.stderr.startswith("FAIL  settings: ") and "FOLDDECK_LOCAL_SLOTS" in out.stderr
