"""Application log (`/admin/logs`): filter, page through, live-tail and export what happened."""
from __future__ import annotations

import io
import time
from datetime import datetime

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, Patch, State, callback, ctx, dcc, html, no_update

from dash_app.components.admin_common import LEVEL_COLORS, error_alert, page_header
from dash_app.context import conn
from dash_app.ids import page_id
from services.people import users
from services.platform import applog, defaults
from services.platform.applog import Level, LogEntry, LogFilters
from services.platform.errors import FoldDeckError, InvalidInput

dash.register_page(__name__, path="/admin/logs", name="Logs", order=50, icon="bi-journal-text", admin=True)

LEVELS = page_id(__name__, "levels")
SOURCE = page_id(__name__, "source")
USER = page_id(__name__, "user")
USERS_LIST = page_id(__name__, "users-list")
JOB = page_id(__name__, "job")
TEXT = page_id(__name__, "text")
RANGE = page_id(__name__, "range")
START = page_id(__name__, "start")
END = page_id(__name__, "end")
CLEAR = page_id(__name__, "clear")
EXPORT = page_id(__name__, "export")
DOWNLOAD = page_id(__name__, "download")
COUNTERS = page_id(__name__, "counters")
TAIL = page_id(__name__, "tail")
TICK = page_id(__name__, "tick")
PREV = page_id(__name__, "prev")
NEXT = page_id(__name__, "next")
PAGE_INFO = page_id(__name__, "page-info")
GRID = page_id(__name__, "grid")
ALERT = page_id(__name__, "alert")
OFFSET = page_id(__name__, "offset")
CURSOR = page_id(__name__, "cursor")

RANGES = {"all": None, "15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "custom": None}
RANGE_LABELS = {"all": "All time", "15m": "Last 15 minutes", "1h": "Last hour", "24h": "Last 24 hours",
                "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom (From / To)"}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
MAX_ROWS_SHOWN = defaults.APP_LOG_PAGE_SIZE * 5  # live tail trims the oldest rows beyond this
FILTERS = [Input(LEVELS, "value"), Input(SOURCE, "value"), Input(USER, "value"), Input(JOB, "value"),
           Input(TEXT, "value"), Input(RANGE, "value"), Input(START, "value"), Input(END, "value")]

COLUMNS = [
    {"field": "time", "headerName": "Time", "width": 200, "cellClass": "fd-mono"},
    {"field": "level", "headerName": "Level", "width": 110,
     "cellClassRules": {"text-danger fw-bold": "params.value === 'ERROR' || params.value === 'CRITICAL'",
                        "text-warning fw-bold": "params.value === 'WARNING'"}},
    {"field": "source", "headerName": "Source", "width": 110},
    {"field": "username", "headerName": "User", "width": 130},
    {"field": "job_id", "headerName": "Job", "width": 90},
    {"field": "address", "headerName": "Address", "width": 140},
    {"field": "message", "headerName": "Message", "flex": 1, "minWidth": 300, "wrapText": True, "autoHeight": True,
     "cellStyle": {"whiteSpace": "pre-wrap", "lineHeight": "1.4"}},
]


def parse_time(label: str, raw: str | None) -> float | None:
    """Return unix seconds for "YYYY-MM-DD[ HH:MM[:SS]]" in server local time (None if empty).

    Raises:
        InvalidInput: the text is not such a date.
    """
    text = (raw or "").strip().replace("T", " ")
    if not text:
        return None
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    raise InvalidInput(f"{label} {raw!r} is not a time; write it like 2025-01-31 14:05.")


def filters_from_form(levels, source, user, job, text, range_key, start, end, now: float | None = None) -> LogFilters:
    """Return the LogFilters the filter bar describes.

    Raises:
        InvalidInput: a job number or time the user typed cannot be read.
    """
    job_id = None
    if job not in (None, ""):
        try:
            job_id = int(str(job).lstrip("#"))
        except ValueError:
            raise InvalidInput(f"Job {job!r} is not a job number.") from None
    since = until = None
    if range_key == "custom":
        since, until = parse_time("From", start), parse_time("To", end)
    elif RANGES.get(range_key):
        since = (now or time.time()) - RANGES[range_key]
    return LogFilters(levels=tuple(levels or ()), source=source or None, username=(user or "").strip() or None,
                      job_id=job_id, text=(text or "").strip() or None, since=since, until=until)


def grid_row(entry: LogEntry) -> dict:
    """Return the grid row for a log entry."""
    return {"id": entry.id, "time": applog.format_ts(entry.ts), "level": entry.level, "source": entry.source,
            "username": entry.username or "", "job_id": entry.job_id, "address": entry.address or "",
            "message": entry.message}


def counter_badges(counts: dict[str, int]) -> list:
    """Return one badge per level with its (capped) count."""
    return [dbc.Badge([level.title(), " ", html.Span(applog.total_label(counts[level]), className="fw-normal")],
                      color=LEVEL_COLORS[level], className="me-2 fs-6", id=page_id(__name__, f"count-{level.lower()}"))
            for level in counts]


def _filter_bar(sources: list[str], usernames: list[str]) -> dbc.Card:
    def field(label: str, control, width: dict) -> dbc.Col:
        return dbc.Col([dbc.Label(label, html_for=control.id, className="small fw-semibold mb-1"), control], **width)

    return dbc.Card(dbc.CardBody([
        dbc.Row([
            field("Levels", dbc.Checklist(id=LEVELS, options=[{"label": lv.title(), "value": lv} for lv in
                                                              Level.__members__], value=[], inline=True),
                  {"xs": 12, "xl": 4}),
            field("Source", dcc.Dropdown(id=SOURCE, options=sources, placeholder="Any source", clearable=True),
                  {"xs": 6, "md": 3, "xl": 2}),
            field("User", dbc.Input(id=USER, placeholder="Any user", list=USERS_LIST, debounce=True, type="text"),
                  {"xs": 6, "md": 3, "xl": 2}),
            field("Job", dbc.Input(id=JOB, placeholder="Job #", debounce=True, type="text", inputMode="numeric"),
                  {"xs": 4, "md": 2, "xl": 1}),
            field("Text", dbc.Input(id=TEXT, placeholder="Contains…", debounce=True, type="search"),
                  {"xs": 8, "md": 4, "xl": 3}),
        ], className="g-2 align-items-end"),
        dbc.Row([
            field("Time", dbc.Select(id=RANGE, options=[{"label": v, "value": k} for k, v in RANGE_LABELS.items()],
                                     value="all"), {"xs": 12, "md": 3, "xl": 2}),
            field("From", dbc.Input(id=START, placeholder="2025-01-31 14:00", debounce=True),
                  {"xs": 6, "md": 3, "xl": 2}),
            field("To", dbc.Input(id=END, placeholder="2025-01-31 18:00", debounce=True), {"xs": 6, "md": 3, "xl": 2}),
            dbc.Col([
                dbc.Button([html.I(className="bi bi-x-circle me-1"), "Clear filters"], id=CLEAR, color="secondary",
                           outline=True, className="me-2"),
                dbc.Button([html.I(className="bi bi-download me-1"), "Export CSV"], id=EXPORT, color="primary",
                           outline=True, title=f"The filtered view, up to {defaults.APP_LOG_EXPORT_MAX_ROWS:,} rows"),
            ], xs=12, md=3, xl=6, className="d-flex align-items-end justify-content-md-end mt-2 mt-md-0"),
        ], className="g-2 mt-1"),
        html.Datalist(id=USERS_LIST, children=[html.Option(value=u) for u in usernames]),
    ]), className="mb-3 shadow-sm")


def layout(**_query) -> html.Div:
    c = conn()
    return html.Div([
        page_header("Application log", "bi-journal-text",
                    "Logins, submissions, job runs, admin actions, hosts and errors. Newest first; times are the "
                    "server's local time."),
        html.Div(id=ALERT),
        _filter_bar(applog.sources(c), [u.username for u in users.list_users(c)]),
        html.Div([
            html.Div(id=COUNTERS, className="d-flex flex-wrap align-items-center", **{"aria-live": "polite"}),
            html.Div([
                dbc.Switch(id=TAIL, label="Live tail", value=False, className="me-3 mb-0"),
                html.Span(id=PAGE_INFO, className="text-muted me-2 small"),
                dbc.ButtonGroup([
                    dbc.Button([html.I(className="bi bi-chevron-left"), " Newer"], id=PREV, size="sm", outline=True,
                               color="secondary"),
                    dbc.Button(["Older ", html.I(className="bi bi-chevron-right")], id=NEXT, size="sm", outline=True,
                               color="secondary"),
                ]),
            ], className="d-flex align-items-center ms-auto"),
        ], className="d-flex flex-wrap align-items-center mb-2 gap-2"),
        dag.AgGrid(id=GRID, columnDefs=COLUMNS, rowData=[], getRowId="'' + params.data.id",
                   defaultColDef={"sortable": False, "resizable": True}, className="ag-theme-alpine",
                   style={"height": "62vh", "width": "100%"},
                   dashGridOptions={"localeText": {"noRowsToShow": "No log entries match these filters. Clear a "
                                                                              "filter or widen the time range."},
                                    "animateRows": False}),
        dcc.Store(id=OFFSET, data=0),
        dcc.Store(id=CURSOR, data={"last": 0, "shown": 0}),
        dcc.Interval(id=TICK, interval=defaults.APP_LOG_TAIL_POLL_MS, disabled=True),
        dcc.Download(id=DOWNLOAD),
    ])


def _page_label(offset: int, shown: int, total: int) -> str:
    if not total:
        return "No entries"
    return f"{offset + 1:,}–{offset + shown:,} of {applog.total_label(total)}"


@callback(
    Output(GRID, "rowData"), Output(COUNTERS, "children"), Output(PAGE_INFO, "children"), Output(PREV, "disabled"),
    Output(NEXT, "disabled"), Output(OFFSET, "data"), Output(CURSOR, "data"), Output(ALERT, "children"),
    *FILTERS, Input(PREV, "n_clicks"), Input(NEXT, "n_clicks"), State(OFFSET, "data"),
)
def show_log_page(levels, source, user, job, text, range_key, start, end, _prev, _next, offset):
    """Show the page of entries the filters and the Newer/Older buttons select."""
    page = defaults.APP_LOG_PAGE_SIZE
    offset = {PREV: max(0, (offset or 0) - page), NEXT: (offset or 0) + page}.get(ctx.triggered_id, 0)
    try:
        filters = filters_from_form(levels, source, user, job, text, range_key, start, end)
        c = conn()
        cursor = applog.last_id(c)  # before the query: an entry logged in between shows up in the tail
        entries, total = applog.query(c, filters, offset, page)
        counts = applog.level_counts(c, filters)
    except FoldDeckError as exc:
        return [], no_update, "", True, True, 0, no_update, error_alert(exc)
    return ([grid_row(e) for e in entries], counter_badges(counts), _page_label(offset, len(entries), total),
            offset == 0, offset + len(entries) >= total, offset, {"last": cursor, "shown": len(entries)}, None)


@callback(Output(TICK, "disabled"), Input(TAIL, "value"), Input(OFFSET, "data"))
def switch_tail(on, offset):
    """Poll for new entries only while live tail is on and the newest page is shown."""
    return not (on and not offset)


@callback(
    Output(GRID, "rowData", allow_duplicate=True), Output(CURSOR, "data", allow_duplicate=True),
    Output(COUNTERS, "children", allow_duplicate=True),
    Input(TICK, "n_intervals"), *[State(i.component_id, i.component_property) for i in FILTERS],
    State(CURSOR, "data"), State(OFFSET, "data"),
    prevent_initial_call=True,
)
def tail_log(_n, levels, source, user, job, text, range_key, start, end, cursor, offset):
    """Put entries logged since the last poll on top of the grid (a Patch), trimming the oldest rows."""
    if offset:
        return no_update, no_update, no_update
    try:
        filters = filters_from_form(levels, source, user, job, text, range_key, start, end)
        c = conn()
        new = applog.tail(c, cursor["last"], filters)
    except FoldDeckError:
        return no_update, no_update, no_update  # the filter bar already shows what is wrong
    if not new:
        return no_update, no_update, no_update
    rows = Patch()
    for entry in new:  # oldest first, each prepended: the newest ends on top
        rows.prepend(grid_row(entry))
    shown = cursor["shown"] + len(new)
    for index in range(shown - 1, MAX_ROWS_SHOWN - 1, -1):
        del rows[index]
    return rows, {"last": new[-1].id, "shown": min(shown, MAX_ROWS_SHOWN)}, counter_badges(
        applog.level_counts(c, filters))


@callback(
    Output(LEVELS, "value"), Output(SOURCE, "value"), Output(USER, "value"), Output(JOB, "value"),
    Output(TEXT, "value"), Output(RANGE, "value"), Output(START, "value"), Output(END, "value"),
    Input(CLEAR, "n_clicks"), prevent_initial_call=True,
)
def clear_filters(_n):
    """Reset every filter."""
    return [], None, "", "", "", "all", "", ""


@callback(
    Output(DOWNLOAD, "data"), Output(ALERT, "children", allow_duplicate=True),
    Input(EXPORT, "n_clicks"), *[State(i.component_id, i.component_property) for i in FILTERS],
    prevent_initial_call=True,
)
def export_log(_n, levels, source, user, job, text, range_key, start, end):
    """Send the filtered view as a CSV file."""
    try:
        filters = filters_from_form(levels, source, user, job, text, range_key, start, end)
        out = io.StringIO()
        applog.export_csv(conn(), filters, out)
    except FoldDeckError as exc:
        return no_update, error_alert(exc)
    name = time.strftime("folddeck-log-%Y%m%d-%H%M%S.csv")
    return {"content": out.getvalue(), "filename": name, "type": "text/csv"}, no_update
