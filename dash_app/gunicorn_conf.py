"""gunicorn settings for `python -m dash_app`: stop at once and quietly on Ctrl-C.

A gthread worker exits its main thread on SIGINT/SIGQUIT, but Python then waits for every request
thread, and one blocked on a slow or half-sent request kept it alive until the master's
graceful_timeout (30 s) ran out and it was killed with "Worker was sent SIGKILL! Perhaps out of
memory?". Dash callbacks take milliseconds; a stop drops the few in flight.
"""
from __future__ import annotations

import os

graceful_timeout = 3  # seconds the master waits for its workers before SIGKILL (hooks below exit sooner)


def worker_int(worker) -> None:
    """Leave at once on SIGINT/SIGQUIT (Ctrl-C, or the quick stop `python -m dash_app` sends)."""
    os._exit(0)


def worker_exit(server, worker) -> None:
    """Leave without joining request threads once the worker's loop has ended (SIGTERM)."""
    os._exit(0)
