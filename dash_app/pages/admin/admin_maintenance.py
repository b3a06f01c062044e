"""Maintenance (`/admin/maintenance`, issue 18): a month calendar of maintenance windows per host.

A host takes no job its time estimate says would not finish before its next window; running jobs
are left alone (services.operations.maintenance). Times are the server's local time.
"""
from __future__ import annotations

import calendar
import time
from datetime import date, datetime

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.components.admin_common import error_alert, ok_alert, page_header
from dash_app.context import conn, require_account, settings
from dash_app.ids import page_id
from services.hosts import load_hosts
from services.operations import maintenance
from services.platform.errors import FoldDeckError, InvalidInput, SettingsError

dash.register_page(__name__, path="/admin/maintenance", name="Maintenance", order=53, icon="bi-calendar-week",
                   admin=True)

ALERT, MONTH, GRID, TITLE = (page_id(__name__, x) for x in ("alert", "month", "grid", "title"))
PREV, NEXT = page_id(__name__, "prev"), page_id(__name__, "next")
HOST, DAY, START, END, NOTE, CREATE = (page_id(__name__, x) for x in ("host", "day", "start", "end", "note",
                                                                      "create"))
REMOVE_ID, REMOVE = page_id(__name__, "remove-id"), page_id(__name__, "remove")


def _host_names() -> list[str]:
    try:
        return [h.name for h in load_hosts(settings()) if h.run_jobs or h.slots]
    except SettingsError:
        return []


def layout(**_query) -> html.Div:
    today = date.today()
    hosts = _host_names()
    return html.Div([
        page_header("Maintenance", "bi-calendar-week", "Windows when a host runs no jobs. A host starts no job "
                    "that its estimate says would still run when the window begins; running jobs are left alone."),
        html.Div(id=ALERT),
        dbc.Row([
            dbc.Col(dbc.Card([
                dbc.CardHeader(html.Div([
                    dbc.Button(html.I(className="bi bi-chevron-left"), id=PREV, size="sm", color="secondary",
                               outline=True, title="Previous month"),
                    html.Span(id=TITLE, className="fw-semibold mx-3"),
                    dbc.Button(html.I(className="bi bi-chevron-right"), id=NEXT, size="sm", color="secondary",
                               outline=True, title="Next month")], className="d-flex align-items-center")),
                dbc.CardBody(html.Div(id=GRID), className="p-2"),
            ], className="shadow-sm mb-3"), xs=12, xl=8),
            dbc.Col(dbc.Card([
                dbc.CardHeader([html.I(className="bi bi-plus-lg me-2"), "Schedule a window"]),
                dbc.CardBody([
                    dbc.Label("Host", html_for=HOST, className="small fw-semibold"),
                    dbc.Select(id=HOST, options=hosts, value=hosts[0] if hosts else None, className="mb-2"),
                    dbc.Label("Day", html_for=DAY, className="small fw-semibold"),
                    dbc.Input(id=DAY, type="date", value=today.isoformat(), className="mb-2"),
                    dbc.Row([dbc.Col([dbc.Label("From", html_for=START, className="small fw-semibold"),
                                      dbc.Input(id=START, type="time", value="08:00")]),
                             dbc.Col([dbc.Label("Until", html_for=END, className="small fw-semibold"),
                                      dbc.Input(id=END, type="time", value="12:00")])], className="mb-2"),
                    dbc.Label("Note", html_for=NOTE, className="small fw-semibold"),
                    dbc.Input(id=NOTE, placeholder="e.g. driver update", maxLength=200, className="mb-3"),
                    dbc.Button("Create window", id=CREATE, color="primary"),
                    html.Hr(),
                    dbc.Label("Remove a window", html_for=REMOVE_ID, className="small fw-semibold"),
                    dbc.InputGroup([dbc.Select(id=REMOVE_ID, options=[]),
                                    dbc.Button("Remove", id=REMOVE, color="danger", outline=True)]),
                ]),
            ], className="shadow-sm mb-3"), xs=12, xl=4),
        ]),
        dcc.Store(id=MONTH, data={"year": today.year, "month": today.month}),
    ])


def _at(day: str, hm: str) -> float:
    """Return the local timestamp of a date and a time of day (InvalidInput when either is bad)."""
    try:
        return datetime.strptime(f"{day} {hm}", "%Y-%m-%d %H:%M").timestamp()
    except (TypeError, ValueError):
        raise InvalidInput("Give the day and both times (HH:MM).") from None


def month_grid(year: int, month: int, windows: list[maintenance.Window]) -> html.Table:
    """Return the month as a Monday-first table; each day lists its windows (host and hours)."""
    head = html.Thead(html.Tr([html.Th(d, className="text-center small") for d in calendar.day_abbr]))
    weeks = []
    for week in calendar.Calendar().monthdatescalendar(year, month):
        cells = []
        for d in week:
            lo = datetime(d.year, d.month, d.day).timestamp()
            hi = lo + 86_400
            items = [html.Div(f"{w.host} {time.strftime('%H:%M', time.localtime(max(w.starts_at, lo)))}–"
                              f"{time.strftime('%H:%M', time.localtime(min(w.ends_at, hi - 60)))}",
                              title=w.note or None, className="badge text-bg-warning d-block text-start mb-1 "
                              "fd-maintenance-window", **{"data-window": w.id})
                     for w in windows if w.starts_at < hi and w.ends_at > lo]
            cells.append(html.Td([html.Div(str(d.day), className="small text-muted"), *items],
                                 className="align-top" + (" bg-light" if d.month != month else ""),
                                 style={"height": "6rem", "width": "14%"}, **{"data-day": d.isoformat()}))
        weeks.append(html.Tr(cells))
    return html.Table([head, html.Tbody(weeks)], className="table table-bordered table-sm mb-0")


@callback(Output(TITLE, "children"), Output(GRID, "children"), Output(REMOVE_ID, "options"),
          Output(MONTH, "data"), Input(MONTH, "data"), Input(PREV, "n_clicks"), Input(NEXT, "n_clicks"),
          Input(ALERT, "children"))
def show_month(month, _prev, _next, _alert):
    """Draw the chosen month with its windows (after any change, and on the month arrows)."""
    require_account()
    year, m = int(month["year"]), int(month["month"])
    if ctx.triggered_id in (PREV, NEXT):
        m += -1 if ctx.triggered_id == PREV else 1
        year, m = year + (m - 1) // 12, (m - 1) % 12 + 1
    start = datetime(year, m, 1).timestamp() - 7 * 86_400
    found = maintenance.windows(conn(), start, start + 50 * 86_400)
    options = [{"label": f"{w.host} {time.strftime('%Y-%m-%d %H:%M', time.localtime(w.starts_at))}"
                         f"–{time.strftime('%H:%M', time.localtime(w.ends_at))}", "value": w.id} for w in found]
    data = {"year": year, "month": m}
    return (f"{calendar.month_name[m]} {year}", month_grid(year, m, found), options,
            data if data != month else no_update)


@callback(Output(ALERT, "children"), Input(CREATE, "n_clicks"), Input(REMOVE, "n_clicks"), State(HOST, "value"),
          State(DAY, "value"), State(START, "value"), State(END, "value"), State(NOTE, "value"),
          State(REMOVE_ID, "value"), prevent_initial_call=True)
def change_window(_create, _remove, host, day, start, end, note, remove_id):
    """Create the window described in the form, or remove the chosen one."""
    try:
        if ctx.triggered_id == REMOVE:
            if not remove_id:
                raise InvalidInput("Choose the window to remove.")
            maintenance.delete_window(conn(), require_account(), int(remove_id))
            return ok_alert("Window removed.")
        w = maintenance.add_window(conn(), require_account(), host or "", _at(day, start), _at(day, end), note or "")
    except FoldDeckError as exc:
        return error_alert(exc)
    return ok_alert(f"{w.host} is in maintenance on {day} from {start} to {end}; it takes no job that would "
                    "still be running then.")
