"""`python -m dash_app` (what `make run` calls): prepare the data dir and start everything.

Migrates the database, creates the first admin account (printing its password once), then starts
the web app under gunicorn, one job worker, the metrics sampler and the notification sender
(mail, webhooks) as child processes. Ctrl-C
(or SIGTERM) stops all of them.
"""
from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time

from services.people import users
from services.platform import db
from services.platform.errors import SettingsError
from services.platform.settings import load_settings

WEB_WORKERS = 2  # gunicorn processes; state they share lives in SQLite/diskcache, never in globals
WEB_THREADS = 8  # each Dash page polls; threads keep a slow request from blocking the others
CHILDREN = (("worker", "services.running.worker"), ("sampler", "services.operations.sampler"),
            ("notify", "services.notify"))  # the outbox sender: job e-mails and webhooks
STOP_SECONDS = 30  # the job worker may wait for AF3 to stop (CANCEL_GRACE_SECONDS); then everything is killed


def prepare() -> None:
    """Check settings, migrate, and create the admin account on first start."""
    settings = load_settings()
    db.migrate(settings.db_path)
    password = users.ensure_admin(db.connect(settings.db_path))
    if password:
        print(users.first_admin_banner(password), flush=True)


def main() -> int:
    try:
        prepare()
        settings = load_settings()
    except SettingsError as exc:
        print(f"FoldDeck cannot start: {exc}", file=sys.stderr)
        return 2
    procs: list[tuple[str, subprocess.Popen]] = []
    for name, module in CHILDREN:
        if importlib.util.find_spec(module) is not None:
            procs.append((name, subprocess.Popen([sys.executable, "-m", module])))
    bind = f"{settings.host}:{settings.port}"
    procs.append(("web", subprocess.Popen([sys.executable, "-m", "gunicorn", "--config",
                                           "python:dash_app.gunicorn_conf", "--workers", str(WEB_WORKERS),
                                           "--threads", str(WEB_THREADS), "--bind", bind, "--log-level", "warning",
                                           "dash_app.wsgi:server"])))
    print(f"FoldDeck is starting at http://{bind}  (Ctrl-C stops it)", flush=True)
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs:
            if proc.poll() is not None:
                print(f"FoldDeck: the {name} process exited with status {proc.returncode}; stopping.", file=sys.stderr)
                stopping, code = True, 1
        time.sleep(0.5)
    for name, proc in procs:
        if proc.poll() is None:
            # gunicorn: SIGINT is its quick stop (what Ctrl-C sends it anyway); SIGTERM would wait for requests.
            proc.send_signal(signal.SIGINT if name == "web" else signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for _name, proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    print("FoldDeck stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
