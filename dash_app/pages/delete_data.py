"""Delete my data (`/account/delete-data`, issue 18): a user removes every job and their account.

Confirmed by typing the user name. Admins keep only an anonymised count (Users page).
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from dash_app.context import account, conn, require_account, settings
from dash_app.ids import page_id
from services.operations import retention
from services.platform.errors import FoldDeckError

dash.register_page(__name__, path="/account/delete-data", name="Delete my data", nav=False)

NAME = page_id(__name__, "name")
CONFIRM = page_id(__name__, "confirm")
ALERT = page_id(__name__, "alert")
NAV = page_id(__name__, "nav")


def layout(**_query) -> html.Div:
    user = account()
    n = retention.count_jobs(conn(), user.id) if user else 0
    return html.Div([
        html.H1("Delete my data", className="h3"),
        dbc.Alert([html.P(f"This deletes all your {n:,} jobs (inputs, outputs, logs), your limits and your "
                          "account. It cannot be undone; download what you want to keep first."),
                   html.P("Admins keep only a count of erased accounts and their jobs, without your name.",
                          className="mb-0")], color="danger"),
        dbc.Label("Type your user name to confirm", html_for=NAME),
        dbc.InputGroup([dbc.Input(id=NAME, autoComplete="off"),
                        dbc.Button("Delete everything", id=CONFIRM, color="danger")], style={"maxWidth": "32rem"}),
        html.Div(id=ALERT, className="mt-3"),
        dcc.Location(id=NAV, refresh=True),
    ])


@callback(Output(ALERT, "children"), Output(NAV, "href"), Input(CONFIRM, "n_clicks"), State(NAME, "value"),
          prevent_initial_call=True)
def delete_my_data(_n, typed):
    """Erase the logged-in user's jobs and account, then go to the login page."""
    try:
        retention.erase_user_data(conn(), settings(), require_account(), typed or "")
    except FoldDeckError as exc:
        return dbc.Alert(str(exc), color="danger"), no_update
    return no_update, "/login"
