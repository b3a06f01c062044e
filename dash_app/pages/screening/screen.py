"""One screen's page (`/screens/<id>`, issue 26): its members' progress and the ranked results table.

The table (services.screens.ranking) is sortable and filterable and exports as CSV; each row opens the
member's own job page. Cancel and retry act on every member; the zip holds the table and all results.
One interval refreshes the page while members are unfinished and stops when all have ended.
"""
from __future__ import annotations

import dataclasses

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.context import conn, require_account, settings
from dash_app.ids import page_id
from services import screens
from services.jobs.rules import wording
from services.platform import defaults
from services.platform.errors import FoldDeckError
from services.screens import ranking

dash.register_page(__name__, path_template="/screens/<screen_id>", name="Screen")

SCREEN, COUNTS, GRID, TICK = (page_id(__name__, k) for k in ("id", "counts", "grid", "tick"))
CANCEL, RETRY, MESSAGE, EXPORT = (page_id(__name__, k) for k in ("cancel", "retry", "message", "export"))
MARK = page_id(__name__, "mark")  # the members' states last shown: a tick with none changed reads no result file
_NUM = {"type": "numericColumn", "filter": "agNumberColumnFilter", "valueFormatter": {
    "function": "params.value == null ? '' : d3.format('.3f')(params.value)"}}
COLUMNS = [
    {"field": "rank", "headerName": "#", "width": 70, "filter": "agNumberColumnFilter"},
    {"field": "label", "headerName": "member", "filter": True,
     "cellRenderer": "markdown", "linkTarget": "_self"},
    {"field": "value", "headerName": "ligand / variant", "filter": True},
    {"field": "state", "filter": True, "width": 110},
    {"field": "ranking_score", "headerName": "ranking score", **_NUM},
    {"field": "iptm_pair", "headerName": "ipTM (ligand–protein)", **_NUM},
    {"field": "chain_iptm", "headerName": "ligand chain ipTM", **_NUM},
    {"field": "pae_min", "headerName": "min PAE (Å)", **_NUM},
    {"field": "plddt", "headerName": "ligand pLDDT", **_NUM},
]


def _screen_id(screen_id) -> int | None:
    try:
        return int(screen_id)
    except (TypeError, ValueError):
        return None


def layout(screen_id: str | None = None, **_query) -> html.Div:
    sid = _screen_id(screen_id)
    try:
        screen = screens.get_screen(conn(), require_account(), sid) if sid is not None else None
    except FoldDeckError:
        screen = None
    if screen is None:
        return dbc.Alert(f"Screen {screen_id} was not found.", color="warning")
    return html.Div([
        dcc.Store(id=SCREEN, data=screen.id),
        html.H1(f"Screen #{screen.id} · {screen.name}", className="h3"),
        html.Div(_counts(screen), id=COUNTS, className="mb-2"),
        html.Div([
            dbc.Button("Cancel unfinished", id=CANCEL, color="danger", outline=True, size="sm", className="me-2"),
            dbc.Button("Retry failed", id=RETRY, color="secondary", outline=True, size="sm", className="me-2"),
            dbc.Button("Export CSV", id=EXPORT, color="secondary", outline=True, size="sm", className="me-2"),
            html.A("Download all (zip)", href=f"/api/v1/screens/{screen.id}/archive", className="btn btn-sm "
                   "btn-outline-primary"),
        ], className="mb-2"),
        html.Div(id=MESSAGE),
        dag.AgGrid(id=GRID, columnDefs=COLUMNS, rowData=_rows(screen), defaultColDef={"sortable": True,
                   "resizable": True}, csvExportParams={"fileName": f"screen-{screen.id}.csv"},
                   style={"height": "32rem"}, dashGridOptions={"animateRows": False}),
        dcc.Store(id=MARK, data=_mark(screen)),
        dcc.Interval(id=TICK, interval=defaults.DASHBOARD_POLL_MS, disabled=screen.finished),
    ])


def _counts(screen: screens.Screen) -> str:
    return (f"{len(screen.members)} members: " + ", ".join(f"{n} {state}" for state, n in sorted(screen.counts.items()))
            + f" · estimated GPU time {screen.gpu_seconds / 3600:.1f} h")


def _mark(screen: screens.Screen) -> str:
    return ",".join(f"{m.job.id}:{m.job.state.value}" for m in screen.members)


def _rows(screen: screens.Screen) -> list[dict]:
    """Return the table rows, each member's name a link to its job page."""
    return [{**dataclasses.asdict(r), "label": f"[{r.label}](/jobs/{r.job_id})"} for r in ranking.ranked_rows(screen)]


@callback(
    Output(GRID, "rowData"), Output(COUNTS, "children"), Output(TICK, "disabled"), Output(MESSAGE, "children"),
    Output(MARK, "data"),
    Input(TICK, "n_intervals"), Input(CANCEL, "n_clicks"), Input(RETRY, "n_clicks"),
    State(SCREEN, "data"), State(MARK, "data"),
    prevent_initial_call=True,
)
def refresh_screen(_tick, _cancel, _retry, screen_id, mark):
    """Refresh the table and counts; cancel or retry every member when asked."""
    user, message = require_account(), no_update
    try:
        if ctx.triggered_id == CANCEL:
            screen = screens.cancel_screen(conn(), user, screen_id)
            message = dbc.Alert(wording.SCREEN_CANCELLED, color="info", className="py-2")
        elif ctx.triggered_id == RETRY:
            screen = screens.retry_screen(conn(), settings(), user, screen_id)
            message = dbc.Alert(wording.SCREEN_RETRIED, color="info", className="py-2")
        else:
            screen = screens.get_screen(conn(), user, screen_id)
    except FoldDeckError as exc:
        return no_update, no_update, no_update, dbc.Alert(str(exc), color="warning", className="py-2"), no_update
    if _mark(screen) == mark:  # nothing changed: the members' result files are not read again
        return no_update, no_update, screen.finished, message, no_update
    return _rows(screen), _counts(screen), screen.finished, message, _mark(screen)


@callback(Output(GRID, "exportDataAsCsv"), Input(EXPORT, "n_clicks"), prevent_initial_call=True)
def export_csv(clicks):
    """Have the grid write its rows (as sorted and filtered) to a CSV file."""
    return bool(clicks)
