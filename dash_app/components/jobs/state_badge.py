"""A job state as a coloured badge with an icon (the same look on every page)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

STATE_COLORS = {"queued": "secondary", "running": "primary", "succeeded": "success", "failed": "danger",
                "cancelled": "warning"}
STATE_ICONS = {"queued": "bi-hourglass-split", "running": "bi-play-circle", "succeeded": "bi-check-circle",
               "failed": "bi-x-octagon", "cancelled": "bi-slash-circle"}


def state_badge(state: str, cancelling: bool = False, **kwargs) -> dbc.Badge:
    """Return the badge for a job state (`cancelling`: a running job whose cancel is pending)."""
    state = getattr(state, "value", state)
    label = "cancelling" if cancelling and state == "running" else state
    return dbc.Badge([html.I(className=f"bi {STATE_ICONS.get(state, 'bi-circle')} me-1", **{"aria-hidden": "true"}),
                      label], color=STATE_COLORS.get(state, "light"),
                     className=f"fd-state-badge fd-state-{state}", **kwargs)
