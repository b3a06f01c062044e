"""The background processes' health for admins: green while one beats, red with what stops when it does not."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from services.platform import defaults
from services.platform.heartbeat import ProcessHealth


def process_lines(found: list[ProcessHealth]) -> html.Div:
    """Return one line per background process (worker, sampler, sender), in the words /healthz gives."""
    return html.Div([html.Div([dbc.Badge("Running" if p.ok else "Down", color="success" if p.ok else "danger",
                                         className="me-2"),
                               html.Span(p.words, className=None if p.ok else "text-danger fw-semibold")],
                              className="fd-process mb-1", **{"data-process": p.role, "data-ok": str(p.ok).lower()})
                     for p in found], className="p-2 border-bottom")


def worker_down(found: list[ProcessHealth]) -> ProcessHealth | None:
    """Return the worker's health when no worker process beats, else None."""
    return next((p for p in found if p.role == "worker" and not p.ok), None)


def stale(worker, now: float) -> bool:
    """Tell whether a registered worker missed its heartbeats for a lease: its jobs are about to be requeued."""
    return now - worker.heartbeat_at > defaults.LEASE_SECONDS
