"""The processes a FoldDeck installation runs: listed once, here.

`make run` (`python -m dash_app`) starts these, each deployment unit in `deploy/` runs exactly one of
them (tests/test_deploy.py fails on a process without its unit, or a unit that runs something else), and
`/healthz` and the admin's queue page report each one's heartbeat. Plain data: nothing is imported.
"""
from __future__ import annotations

from dataclasses import dataclass

WEB_WORKERS = 2  # gunicorn processes; state they share lives in SQLite/diskcache, never in globals
WEB_THREADS = 8  # each Dash page polls; threads keep a slow request from blocking the others


@dataclass(frozen=True)
class Process:
    """One long-running FoldDeck process."""

    name: str  # the role its heartbeat carries, and the unit's name: deploy/folddeck-<name>.service
    args: tuple[str, ...]  # what follows `python` (the web's bind address is appended where it runs)
    down_means: str  # for people: what happens while it is not running

    @property
    def unit(self) -> str:
        """Return the systemd unit's file name."""
        return f"folddeck-{self.name}.service"


WEB = Process("web", ("-m", "gunicorn", "--config", "python:dash_app.gunicorn_conf", "--workers", str(WEB_WORKERS),
                      "--threads", str(WEB_THREADS), "--log-level", "warning", "dash_app.wsgi:server"),
              "the web pages and the API do not answer")
WORKER = Process("worker", ("-m", "services.running.worker"),
                 "queued jobs do not start and running jobs are not followed")
SAMPLER = Process("sampler", ("-m", "services.operations.sampler"),
                  "host metrics, hosts going down, retention purges and disk use are not updated")
SENDER = Process("sender", ("-m", "services.notify"), "job e-mails and webhooks wait in the outbox")

PROCESSES: tuple[Process, ...] = (WEB, WORKER, SAMPLER, SENDER)
# The processes that beat (the web answers /healthz itself, so it needs no heartbeat).
BACKGROUND: tuple[Process, ...] = (WORKER, SAMPLER, SENDER)


def by_name(name: str) -> Process:
    """Return the process called `name`.

    Raises:
        KeyError: no such process.
    """
    for process in PROCESSES:
        if process.name == name:
            return process
    raise KeyError(f"no FoldDeck process is called {name!r} (there are: {', '.join(p.name for p in PROCESSES)})")
