"""The engines a user ticks for a job (issue 29): the same checklist on every page that submits jobs."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dash_app.context import settings
from services.engines import registry


def engine_check(component_id: str) -> html.Div:
    """Return a checklist of the engines this installation offers, the admin's defaults ticked."""
    offered = registry.offered(settings())
    names = [e.name for e in offered]
    ticked = [n for n in settings().engines_default if n in names] or names[:1]
    return html.Div([
        html.Div("Engines", className="small fw-bold"),
        dbc.Checklist(id=component_id, value=ticked, inline=True, className="mb-1",
                      options=[{"label": f"{e.label} ({e.licence})", "value": e.name} for e in offered]),
        html.Div("One job per engine, grouped; the job page links to their comparison. An engine that cannot run "
                 "something in the job refuses it at submit and says why.", className="small text-muted"),
    ], className="fd-engine-option mb-2")


def picked(value: list[str] | None) -> list[str]:
    """Return the ticked engines, AlphaFold 3 alone when none is ticked (as before engines existed)."""
    return list(value or []) or [registry.AF3]
