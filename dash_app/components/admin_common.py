"""Small widgets shared by the admin pages: page header, error alert, times, level badges."""
from __future__ import annotations

import time

import dash_bootstrap_components as dbc
from dash import html

from services.platform.errors import FoldDeckError

LEVEL_COLORS = {"DEBUG": "secondary", "INFO": "info", "WARNING": "warning", "ERROR": "danger", "CRITICAL": "dark"}


def page_header(title: str, icon: str, subtitle: str) -> html.Div:
    """Return an admin page's title line with its icon and a one-line explanation."""
    return html.Div([
        html.H1([html.I(className=f"bi {icon} me-2", **{"aria-hidden": "true"}), title], className="h3 mb-1"),
        html.P(subtitle, className="text-muted mb-3"),
    ])


def error_alert(exc: Exception) -> dbc.Alert:
    """Return the alert for a refused action (service errors carry a message written for people)."""
    text = str(exc) if isinstance(exc, FoldDeckError) else "Something went wrong; the details are in the log."
    problems = getattr(exc, "problems", None) or []
    return dbc.Alert([html.I(className="bi bi-exclamation-triangle-fill me-2"), text,
                      html.Ul([html.Li(str(p)) for p in problems], className="mb-0") if problems else None],
                     color="danger", dismissable=True, className="mb-3")


def ok_alert(text: str) -> dbc.Alert:
    """Return the alert confirming a completed action (fades by itself)."""
    return dbc.Alert([html.I(className="bi bi-check-circle-fill me-2"), text], color="success", dismissable=True,
                     duration=6000, className="mb-3")


def fmt_time(ts: float | None, empty: str = "never") -> str:
    """Return a local "YYYY-MM-DD HH:MM:SS", or `empty`."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else empty


def fmt_age(ts: float | None, now: float | None = None) -> str:
    """Return "12 s ago", "5 min ago", "3 h ago" (or "never")."""
    if not ts:
        return "never"
    age = max(0.0, (now or time.time()) - ts)
    if age < 90:
        return f"{age:.0f} s ago"
    if age < 5400:
        return f"{age / 60:.0f} min ago"
    return f"{age / 3600:.0f} h ago"
