"""The "Search MSAs again" checkbox (issue 16): the same words on every page that submits jobs."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

SEARCH_AGAIN_LABEL = "Search MSAs again (do not reuse cached ones)"


def search_again_check(component_id: str) -> html.Div:
    """Return the opt-out of the MSA cache, unticked: chains searched before are reused by default."""
    return html.Div([
        dbc.Checkbox(id=component_id, value=False, label=SEARCH_AGAIN_LABEL, className="mb-1"),
        html.Div("Unticked, a chain searched before (same sequence and databases) takes its MSAs and templates "
                 "from the cache and skips the search.", className="small text-muted"),
    ], className="fd-msa-option mb-2")
