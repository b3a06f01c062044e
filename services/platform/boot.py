"""One way to start: the web app, every background process and every `python -m services.*` command boot here.

`boot(role)` reads the settings (the env file, then the environment), migrates the database, sets up
logging (stderr and the application log: the one set-up) and makes those settings the process's own,
so whatever asks `current()` later (the CCD that judges ligands, for one) sees the same env file as the
rest of the process. A background process named in `processes.BACKGROUND` also starts its heartbeat.

The env file is `$FOLDDECK_ENV_FILE`, else `./.env`: an operator runs a command with a deployment's
settings as `FOLDDECK_ENV_FILE=/etc/folddeck/folddeck.env python -m services.jobs list` (values with
spaces, such as FOLDDECK_AF3_COMMAND, are read as systemd reads them; no shell quoting tricks).
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.platform import applog, db
from services.platform.errors import SettingsError
from services.platform.heartbeat import Heartbeat
from services.platform.processes import BACKGROUND, PROCESSES
from services.platform.settings import Settings, load_settings

ENV_FILE_VARIABLE = "FOLDDECK_ENV_FILE"
DEFAULT_ENV_FILE = Path(".env")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_PROCESS_NAMES = frozenset(p.name for p in PROCESSES)
_state: dict[str, Any] = {"settings": None, "heartbeat": None}


def env_file(environ: Mapping[str, str] | None = None) -> Path:
    """Return the env file this process reads: $FOLDDECK_ENV_FILE, else ./.env (which may be absent).

    Raises:
        SettingsError: FOLDDECK_ENV_FILE names a file that is not there.
    """
    named = (os.environ if environ is None else environ).get(ENV_FILE_VARIABLE, "").strip()
    if not named:
        return DEFAULT_ENV_FILE
    path = Path(named).expanduser()
    if not path.is_file():
        raise SettingsError(f"{ENV_FILE_VARIABLE}={named}: no such file (it should name the settings file, "
                            "e.g. /etc/folddeck/folddeck.env).")
    return path


def load(**overrides: Any) -> Settings:
    """Return the settings from the env file and the environment (and `overrides`), without starting anything.

    Raises:
        SettingsError: the env file is missing or a value cannot be used.
    """
    return load_settings(dotenv=env_file(), **overrides)


def boot(role: str, *, settings: Settings | None = None, **overrides: Any) -> Settings:
    """Start a FoldDeck process or command as `role`: settings, migrations, logging; return the settings.

    Args:
        role: "web", "worker", "sampler", "sender", or the command's name ("jobs", "af3", ...).
        settings: already-built settings (the app factory's argument); else they are loaded.
        overrides: settings fields that win over the env file and the environment.

    Raises:
        SettingsError: the env file is missing or a value cannot be used.
    """
    settings = settings or load(**overrides)
    db.migrate(settings.db_path)
    # A long-running process logs at the configured level; a command keeps its terminal for its own output
    # and shows only warnings there (everything still reaches the application log).
    configure_logging(settings, stderr_level=settings.log_level if role in _PROCESS_NAMES else "WARNING")
    _state["settings"] = settings
    if any(p.name == role for p in BACKGROUND) and _state["heartbeat"] is None:
        if threading.current_thread() is threading.main_thread():
            # It beats from here on, so a supervisor may already stop it: a SIGTERM that comes before the
            # process sets its own handler ends it cleanly (exit 0, atexit records the stop), not by the signal.
            signal.signal(signal.SIGTERM, _exit_while_starting)
        beat = Heartbeat(settings.db_path, role).start()
        _state["heartbeat"] = beat
        atexit.register(beat.stop)
    return settings


def _exit_while_starting(_signum, _frame) -> None:
    raise SystemExit(0)


def current() -> Settings | None:
    """Return the settings this process booted with (None when it did not boot, e.g. AF3's simulator)."""
    return _state["settings"]


def configure_logging(settings: Settings, stderr_level: str | None = None) -> None:
    """Send FoldDeck's loggers to stderr (at `stderr_level`, default the configured level) and to the
    application log; calling it again only adjusts the levels."""
    root = logging.getLogger(applog.ROOT_LOGGER)
    root.setLevel(settings.log_level)
    handler = next((h for h in root.handlers if getattr(h, "_folddeck", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._folddeck = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setLevel(stderr_level or settings.log_level)
    if applog.installed() is None:
        atexit.register(applog.flush)  # a short command's last entries reach the database before it exits
    applog.install(settings)
