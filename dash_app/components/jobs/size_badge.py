"""The size badge: tokens, padding bucket, estimated time and GPU fit of a job, with warnings."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from services.af3 import BUCKETS, SizeEstimate

LARGE_FRACTION = 0.75  # warn (amber) once a job uses three quarters of the largest bucket: minutes become hours


def human_seconds(seconds: float) -> str:
    """Format a duration for people ("45 s", "12 min", "2.5 h")."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def badge_color(size: SizeEstimate, extra_warnings: list[str]) -> str:
    """Return green / amber / red for a size estimate."""
    if not all(size.fits.values()) or extra_warnings or size.tokens > BUCKETS[-1]:
        return "danger"
    if size.approximate or size.tokens > LARGE_FRACTION * BUCKETS[-1]:
        return "warning"
    return "success"


def size_badge(size: SizeEstimate | None, extra_warnings: list[str] | None = None) -> html.Div:
    """Return the badge for an estimate; None means the job is not valid yet."""
    if size is None:
        return html.Div(dbc.Badge("Size: fix the problems first", color="light", text_color="dark",
                                  className="fd-size-badge"), id="builder-size-inner")
    extra = extra_warnings or []
    fits = [gpu for gpu, ok in size.fits.items() if ok]
    approx = "~" if size.approximate else ""
    text = (f"{approx}{size.tokens} tokens · bucket {size.bucket} · ~{human_seconds(size.seconds_total)} "
            f"on an A100")
    warnings = extra + size.warnings
    return html.Div([
        dbc.Badge([html.I(className="bi bi-cpu me-1"), text], color=badge_color(size, extra),
                  className="fd-size-badge text-wrap", id="builder-size-text"),
        html.Div(("Fits: " + ", ".join(fits)) if fits else "Fits on no single GPU we know of.",
                 className="small text-muted mt-1"),
        html.Ul([html.Li(w) for w in warnings], className="small text-danger mb-0 mt-1 ps-3") if warnings else None,
    ], id="builder-size-inner")
