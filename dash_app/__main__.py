"""`python -m dash_app` (what `make run` calls): prepare the data dir and start everything.

Boots (settings, migrations, logging), creates the first admin account (printing its password once),
then starts every process of `services.platform.processes.PROCESSES` as a child: the web app under
gunicorn, the job worker, the metrics sampler and the notification sender (mail, webhooks) — the same
list the deployment's systemd units run, one unit each. Ctrl-C (or SIGTERM) stops all of them.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from services.people import users
from services.platform import boot, db
from services.platform.errors import SettingsError
from services.platform.processes import PROCESSES, WEB, Process
from services.platform.settings import Settings

STOP_SECONDS = 30  # the job worker may wait for AF3 to stop (CANCEL_GRACE_SECONDS); then everything is killed


def prepare() -> Settings:
    """Boot, and create the admin account on first start; return the settings."""
    settings = boot.boot("run")
    password = users.ensure_admin(db.connect(settings.db_path))
    if password:
        print(users.first_admin_banner(password), flush=True)
    return settings


def command(process: Process, settings: Settings) -> list[str]:
    """Return the command line that runs `process` (the web binds to the configured address)."""
    bind = ("--bind", f"{settings.host}:{settings.port}") if process is WEB else ()
    return [sys.executable, *process.args, *bind]


def main() -> int:
    try:
        settings = prepare()
    except SettingsError as exc:
        print(f"FoldDeck cannot start: {exc}", file=sys.stderr)
        return 2
    procs = [(p.name, subprocess.Popen(command(p, settings))) for p in PROCESSES]
    bind = f"{settings.host}:{settings.port}"
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
