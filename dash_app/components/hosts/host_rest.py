"""How a host that workers rest after a failed SSH connect is shown (status cards, admin queue)."""
from __future__ import annotations

import time

import dash_bootstrap_components as dbc
from dash import html

from services.jobs import HostBackoff


def resting_note(backoff: HostBackoff) -> str:
    """Return "<reason> · retrying at HH:MM:SS" (server local time)."""
    return f"{backoff.reason} · retrying at {time.strftime('%H:%M:%S', time.localtime(backoff.until))}"


def resting_badge(backoff: HostBackoff | None, class_name: str = "ms-1") -> dbc.Badge | None:
    """Return a "resting" badge, or None for a host in use."""
    if not backoff:
        return None
    return dbc.Badge("resting", color="warning", text_color="dark", className=f"{class_name} fd-host-resting")


def resting_line(backoff: HostBackoff | None) -> list:
    """Return the reason and retry time as one small line (nothing for a host in use)."""
    return [html.Div(resting_note(backoff), className="small text-warning-emphasis fd-host-backoff")] if backoff else []
