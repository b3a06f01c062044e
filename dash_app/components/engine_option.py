"""The engines a user ticks for a job (issue 29): the same checklist on every page that submits jobs."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dash_app.context import settings
from services.engines import registry


def engine_check(component_id: str) -> html.Div:
    """Return the engines this installation offers as one compact row of checkboxes, the admin's defaults ticked.

    One line beside the submit buttons, so the pages keep their height; each engine's licence is its tooltip.
    """
    offered = registry.offered(settings())
    names = [e.name for e in offered]
    ticked = [n for n in settings().engines_default if n in names] or names[:1]
    return html.Div([
        html.Span("Engines:", className="small fw-bold me-2",
                  title="One job per engine, grouped; the job page links to their comparison. An engine that cannot "
                        "run something in the job refuses it at submit and says why."),
        dbc.Checklist(id=component_id, value=ticked, inline=True, className="small d-inline-block",
                      options=[{"label": html.Span(e.label, title=f"{e.label}: {e.licence}"), "value": e.name}
                               for e in offered]),
    ], className="fd-engine-option d-inline-flex align-items-center flex-wrap ms-2")


def picked(value: list[str] | None) -> list[str]:
    """Return the ticked engines, AlphaFold 3 alone when none is ticked (as before engines existed)."""
    return list(value or []) or [registry.AF3]
