"""The floor for bench/bench_polls.py: one empty Dash callback, served by the same gunicorn as FoldDeck.

    gunicorn bench.floor_app:server

No login, no database: what any Dash poll costs at the least on this machine, so FoldDeck's polls
can be reported as a ratio to it.
"""
from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

app = dash.Dash(__name__, serve_locally=True, update_title=None)
app.layout = html.Div([dcc.Interval(id="floor-interval", interval=3000), html.Div(id="floor-out")])


@app.callback(Output("floor-out", "children"), Input("floor-interval", "n_intervals"), prevent_initial_call=True)
def echo(n):
    """Return the tick count: the smallest response a callback can give."""
    return n


server = app.server
