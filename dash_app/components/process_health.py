"""The background processes' health for admins: green while one beats, red with what stops when it does not."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from services.operations.preflight_report import Check
from services.platform import defaults
from services.platform.heartbeat import ProcessHealth


def process_lines(found: list[ProcessHealth], mail: list[Check] | tuple = ()) -> html.Div:
    """Return one line per background process (worker, sampler, sender), in the words /healthz gives, then
    whether mail can leave at all (a sender without an SMTP server delivers nothing)."""
    lines = [html.Div([dbc.Badge("Running" if p.ok else "Down", color="success" if p.ok else "danger",
                                 className="me-2"),
                       html.Span(p.words, className=None if p.ok else "text-danger fw-semibold")],
                      className="fd-process mb-1", **{"data-process": p.role, "data-ok": str(p.ok).lower()})
             for p in found]
    lines += [html.Div(c.text, className="fd-mail-check mb-1 " + (
        "text-danger fw-semibold" if c.level == "FAIL" else "text-muted small")) for c in mail]
    return html.Div(lines, className="p-2 border-bottom")


def worker_down(found: list[ProcessHealth]) -> ProcessHealth | None:
    """Return the worker's health when no worker process beats, else None."""
    return next((p for p in found if p.role == "worker" and not p.ok), None)


def stale(worker, now: float) -> bool:
    """Tell whether a registered worker missed its heartbeats for a lease: its jobs are about to be requeued."""
    return now - worker.heartbeat_at > defaults.LEASE_SECONDS
