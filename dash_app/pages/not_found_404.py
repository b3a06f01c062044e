"""Shown for any path no page claims."""
from __future__ import annotations

import dash
from dash import html

dash.register_page(__name__, path="/404", name="Not found", nav=False)


def layout(**_query) -> html.Div:
    return html.Div([html.H1("Page not found", className="h3"),
                     html.P("There is no page at this address."), html.A("Back to your jobs", href="/")],
                    id="not-found")
