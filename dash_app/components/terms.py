"""The AlphaFold 3 terms checkbox: the same words on every page that submits jobs (builder, upload)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from services.jobs import TERMS_TEXT, TERMS_URL


def terms_check(component_id: str, accepted_before: bool) -> html.Div:
    """Return the checkbox a submission needs ticked; ticked already for someone who accepted before."""
    label = ["I accept the ", html.A("AlphaFold 3 model-parameter terms of use", href=TERMS_URL, target="_blank",
                                     rel="noopener"), " for these predictions."]
    note = "You accepted them before; untick to stop." if accepted_before else "Submitting needs this ticked."
    return html.Div([
        dbc.Checkbox(id=component_id, value=accepted_before, label=label, className="mb-1"),
        html.Div([TERMS_TEXT, " ", note], className="small text-muted"),
    ], className="fd-terms mb-2")
