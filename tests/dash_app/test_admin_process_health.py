"""The admin's queue page (issue 23): a worker that is not running is red with what that means, never
"heartbeat 86 s ago" under a green badge. The worker is a real `python -m services.running.worker`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from services import jobs
from services.operations import admin
from services.people import users
from services.platform import db, defaults, heartbeat
from tests.conftest import ROOT, dash_post, wait_for
from tests.dash_app.test_admin_pages import callback_body


def _processes(tree) -> dict[str, str]:
    """Return {process: data-ok} of the process lines in a callback's JSON output."""
    found = {}
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if "data-process" in props:
            found[props["data-process"]] = props["data-ok"]
        for value in (*tree.values(), *props.values()):
            found.update(_processes(value))
    elif isinstance(tree, list):
        for item in tree:
            found.update(_processes(item))
    return found


def _queue(app, client) -> dict:
    body = callback_body(app, "admin-queue-status.children", {"admin-queue-tick": 1, "admin-queue-refresh": 0})
    resp = dash_post(client, body)
    assert resp.status_code == 200, resp.text
    return resp.json["response"]


def test_queue_page_shows_a_stopped_worker_in_red(app, admin_client, settings, tmp_path):
    conn = db.connect(settings.db_path)
    beats = [heartbeat.Heartbeat(settings.db_path, role).start() for role in ("sampler", "sender")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    worker = subprocess.Popen([sys.executable, "-m", "services.running.worker"], cwd=tmp_path,
                              env=dict(env, PYTHONPATH=str(ROOT), FOLDDECK_DATA_DIR=str(settings.data_dir)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: all(p.ok for p in heartbeat.health(conn)), 60, "the worker's first heartbeat")
        live = _queue(app, admin_client)
        assert "Running" in str(live["admin-queue-status"]["children"])
        assert _processes(live["admin-queue-workers"]["children"]) == {"worker": "true", "sampler": "true",
                                                                      "sender": "true"}
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        down = _queue(app, admin_client)
        status = str(down["admin-queue-status"]["children"])
        assert "No worker" in status and "'color': 'danger'" in status and "Running" not in status
        assert "worker: DOWN (stopped " in status and "queued jobs do not start" in status
        workers = str(down["admin-queue-workers"]["children"])
        assert _processes(down["admin-queue-workers"]["children"]) == {"worker": "false", "sampler": "true",
                                                                      "sender": "true"}
        # no SMTP server in these settings: the sender runs, and the admin is told mail cannot leave
        assert "mail: not configured (FOLDDECK_SMTP_HOST is empty): job e-mails wait in the outbox" in workers
    finally:
        worker.kill()
        for beat in beats:
            beat.stop()


def test_a_worker_past_its_lease_is_not_responding(app, settings):
    from dash_app.pages.admin import admin_queue  # registers a page: only once the app exists

    conn = db.connect(settings.db_path)
    jobs.register_worker(conn, "w-1", "node1", 1234)
    view = admin.queue_overview(conn, settings, users.get_by_name(conn, "admin"))
    (w,) = view.workers
    fresh = str(admin_queue.workers_table(view, w.heartbeat_at + 1))
    late = str(admin_queue.workers_table(view, w.heartbeat_at + defaults.LEASE_SECONDS + 1))
    assert "not responding" not in fresh and "text-danger" not in fresh
    assert "not responding" in late and "text-danger" in late
