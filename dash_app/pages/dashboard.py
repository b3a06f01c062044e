"""Dashboard (`/`): greets the user; the jobs grid lands here."""
from __future__ import annotations

import dash
from dash import html

from dash_app.context import account

dash.register_page(__name__, path="/", name="Dashboard", order=0, icon="bi-speedometer2")


def layout(**_query) -> html.Div:
    user = account()
    name = user.username if user else "there"
    return html.Div([html.H1(f"Welcome, {name}", className="h3", id="dashboard-greeting")])
