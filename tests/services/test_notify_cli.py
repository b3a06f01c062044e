"""`python -m services.notify`, the process `make run` starts: delivers the outbox and stops on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from dash_app.__main__ import command
from services.notify.prefs import NotifyPrefs, set_prefs
from services.platform.processes import PROCESSES
from tests.conftest import ROOT, wait_for
from tests.services.test_notify_mail import run_job, smtp  # noqa: F401  (fixture)


def test_make_run_starts_the_sender(settings):
    assert [sys.executable, "-m", "services.notify"] in [command(p, settings) for p in PROCESSES]


def test_sender_process_delivers_and_stops_on_sigterm(settings, conn, alice, smtp):  # noqa: F811
    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    job = run_job(settings, conn, alice)
    env = {**os.environ, "FOLDDECK_DATA_DIR": str(settings.data_dir), "FOLDDECK_SMTP_HOST": "127.0.0.1",
           "FOLDDECK_SMTP_PORT": str(port), "FOLDDECK_SMTP_SECURITY": "plain", "FOLDDECK_SECRET_KEY": "x"}
    proc = subprocess.Popen([sys.executable, "-m", "services.notify"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: inbox.messages, what="the mail from the sender process")
        assert inbox.messages[0]["Subject"] == f"[FoldDeck] Job {job.id} (Mail test) succeeded"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
