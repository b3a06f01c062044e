"""Dashboard (`/`): the user's jobs in a server-paged grid with state filters, search and row actions.

One Interval (3 s) drives `refresh_grid`. A tick first reads the database's change marks
(`jobs.change_marks`, two rows) and answers an empty 204 when neither the user's jobs, nor the
queue order (only if the page shows queue positions), nor a shown run-time minute moved. Only then
does it read the page's index (ids and row tokens, no whole job) and send an AG Grid row
transaction with just the rows that changed (`grid_delta`); the counts and pager only when they
moved. A filter, search, sort or page change, or a tick for a view other than the one its cursor
names, sends the page whole.
"""
from __future__ import annotations

import hashlib
import json
import time

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.components.jobs import grid_delta
from dash_app.components.jobs.job_grid import (
    DEFAULT_SORT,
    STATES,
    GridPage,
    PageIndex,
    column_defs,
    job_grid,
    load_page,
    read_index,
    render_rows,
    sort_key,
)
from dash_app.context import account, conn, require_account, settings
from dash_app.ids import page_id
from services import jobs
from services.jobs.rules import wording
from services.jobs.rules.wording import cancel_wording
from services.operations import job_removal, retention
from services.platform import defaults
from services.platform.errors import FoldDeckError

dash.register_page(__name__, path="/", name="Dashboard", order=0, icon="bi-speedometer2")

GREETING = "dashboard-greeting"  # a login browser test looks for it
GRID = page_id(__name__, "grid")
INTERVAL = page_id(__name__, "interval")
CURSOR = page_id(__name__, "cursor")
SORT = page_id(__name__, "sort")  # the list_jobs sort key the headers chose
STATE_FILTER = page_id(__name__, "state")
SEARCH = page_id(__name__, "search")
PAGER = page_id(__name__, "pager")
ALL_USERS = page_id(__name__, "all-users")
SUMMARY = page_id(__name__, "summary")
EMPTY = page_id(__name__, "empty")
ALERT = page_id(__name__, "alert")
NAV = page_id(__name__, "nav")
CANCEL_BODY = page_id(__name__, "cancel-body")
NEW_JOB_HREF = "/builder"
OPEN, CANCEL, RETRY, CLONE = (page_id(__name__, x) for x in ("open", "cancel", "retry", "clone"))
CANCEL_MODAL, CANCEL_CONFIRM, CANCEL_KEEP = (page_id(__name__, x) for x in ("cancel-modal", "cancel-confirm",
                                                                           "cancel-keep"))
STATE_LABELS = {"all": "All", "queued": "Queued", "running": "Running", "succeeded": "Succeeded",
                "failed": "Failed", "cancelled": "Cancelled"}


def state_options(counts: dict[str, int]) -> list[dict]:
    """Return the state filter choices, each with its count."""
    total = sum(counts.values())
    return [{"label": f"{STATE_LABELS[s]} {total if s == 'all' else counts.get(s, 0):,}", "value": s}
            for s in ["all", *STATES]]


def summary_text(page: GridPage | PageIndex, page_size: int = defaults.DASHBOARD_PAGE_SIZE) -> str:
    """Return 'Jobs 51–100 of 1,234' for the current page."""
    if not page.total:
        return ""
    first = (page.page - 1) * page_size + 1
    shown = len(page.keys) if isinstance(page, PageIndex) else len(page.rows)
    return f"Jobs {first:,}–{first + shown - 1:,} of {page.total:,}"


def _actions() -> html.Div:
    def btn(id_, icon, label, color="secondary"):
        return dbc.Button([html.I(className=f"bi {icon} me-1"), label], id=id_, color=color, outline=True,
                          size="sm", disabled=True)
    return html.Div([btn(OPEN, "bi-box-arrow-up-right", "Open", "primary"), btn(CANCEL, "bi-stop-circle", "Cancel",
                                                                              "danger"),
                     btn(RETRY, "bi-arrow-repeat", "Retry"), btn(CLONE, "bi-files", "Clone")],
                    className="d-flex gap-2 fd-actions", role="toolbar",
                    **{"aria-label": "Actions on the selected job"})


def _empty_state(total_all: int) -> list:
    """Return what to show when no job matches (the only such message: the grid's own overlay is off)."""
    if total_all:
        return [html.I(className="bi bi-funnel me-2"), "No jobs match these filters. Clear the search or pick ",
                html.Strong("All"), "."]
    return [html.I(className="bi bi-inbox me-2"), "You have no jobs yet. ",
            html.A("Build your first job", href=NEW_JOB_HREF), " or ", html.A("upload input files", href="/upload"),
            "; it shows up here within seconds."]


def clone_href(job_id: int) -> str:
    """Return the builder address that opens a copy of a job's input (nothing is queued until Submit)."""
    return f"/builder?clone={int(job_id)}"


def layout(**_query) -> html.Div:
    user = account()
    name = user.username if user else "there"
    marks = jobs.change_marks(conn(), user) if user else (0, 0)  # read before the page: a write between re-polls
    page = load_page(conn(), user) if user else GridPage([], 0, 1, 1, {s: 0 for s in STATES})
    modal = dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Cancel this job?")),
        dbc.ModalBody(cancel_wording(None)[0], id=CANCEL_BODY),
        dbc.ModalFooter([dbc.Button(cancel_wording(None)[1], id=CANCEL_KEEP, color="secondary"),
                         dbc.Button("Cancel job", id=CANCEL_CONFIRM, color="danger")]),
    ], id=CANCEL_MODAL, is_open=False)
    filters = dbc.Row([
        dbc.Col(dbc.RadioItems(id=STATE_FILTER, options=state_options(page.counts), value="all", inline=True,
                               className="btn-group flex-wrap", inputClassName="btn-check",
                               labelClassName="btn btn-sm btn-outline-primary",
                               labelCheckedClassName="active"), md="auto"),
        dbc.Col([dbc.Label("Search jobs by name", html_for=SEARCH, className="visually-hidden"),
                 dbc.Input(id=SEARCH, type="search", placeholder="Search by name or #id", debounce=0.4, size="sm")],
                md=3),
        dbc.Col(dbc.Switch(id=ALL_USERS, label="All users' jobs", value=False), md="auto",
                style={} if user and user.is_admin else {"display": "none"}),
    ], className="g-2 align-items-center mb-2")
    return html.Div([
        html.Div([html.H1(f"Welcome, {name}", className="h3 mb-0", id=GREETING),
                  dbc.Button([html.I(className="bi bi-plus-lg me-1"), "New job"], href=NEW_JOB_HREF, color="primary",
                             size="sm")], className="d-flex justify-content-between align-items-center mb-3"),
        filters,
        html.Div([_actions(), _manage_actions(), html.Small(summary_text(page), id=SUMMARY,
                                                             className="text-muted ms-auto")],
                 className="d-flex align-items-center gap-2 mb-2"),
        html.Div(id=ALERT),
        html.Div(retention_banner(user), id=RETENTION),
        job_grid(GRID, page.rows, False),
        html.Div(_empty_state(sum(page.counts.values())), id=EMPTY, className="fd-empty text-muted p-4 text-center",
                 hidden=bool(page.total)),
        dbc.Pagination(id=PAGER, max_value=page.pages, active_page=1, fully_expanded=False, first_last=True,
                       previous_next=True, size="sm", className="mt-2 justify-content-end"),
        html.Div(html.A("Delete my data", href="/account/delete-data", className="small text-muted"),
                 className="text-end mt-3"),
        modal, _delete_modal(),
        dcc.Location(id=NAV, refresh="callback-nav"),
        dcc.Store(id=CURSOR, data=page_cursor(marks, page.index) if page.index else None),
        dcc.Store(id=SORT, data=DEFAULT_SORT),
        dcc.Interval(id=INTERVAL, interval=defaults.DASHBOARD_POLL_MS),
    ], className="fd-dashboard")


@callback(Output(SORT, "data"), Input(GRID, "columnState"), State(SORT, "data"), prevent_initial_call=True)
def pick_sort(column_state, current):
    """Turn a header click into a sort key; column resizes and moves change nothing."""
    key = sort_key(column_state)
    if key == current:
        raise PreventUpdate
    return key


@callback(Output(GRID, "rowData"), Output(GRID, "rowTransaction"), Output(GRID, "columnDefs"),
          Output(STATE_FILTER, "options"), Output(PAGER, "max_value"), Output(PAGER, "active_page"),
          Output(SUMMARY, "children"), Output(EMPTY, "children"), Output(EMPTY, "hidden"), Output(CURSOR, "data"),
          Input(INTERVAL, "n_intervals"), Input(STATE_FILTER, "value"), Input(SEARCH, "value"),
          Input(PAGER, "active_page"), Input(ALL_USERS, "value"), Input(SORT, "data"), State(CURSOR, "data"),
          prevent_initial_call=True)
def refresh_grid(_n, state, search, active_page, all_users, sort, cursor):
    """Send the visible page of jobs: only its changed rows on a tick, nothing when nothing changed."""
    user = require_account()
    tick = ctx.triggered_id == INTERVAL
    marks = jobs.change_marks(conn(), user, bool(all_users))
    view = grid_view(state, search, active_page, all_users, sort)
    # A tick sent before a filter, sort or page change may answer after it: its cursor then names the old view,
    # and the next tick redraws instead of keeping that stale page for good.
    same_view = isinstance(cursor, dict) and cursor.get("view") == view
    if tick and same_view and unchanged(cursor, marks, time.time()):
        raise PreventUpdate  # nothing moved: an empty 204 without reading a job row
    filters_changed = ctx.triggered_id in (STATE_FILTER, SEARCH, ALL_USERS, SORT)
    index = read_index(conn(), user, state=state, search=search, all_users=bool(all_users),
                       page=1 if filters_changed else active_page, sort=sort or DEFAULT_SORT)
    owner = bool(all_users) and user.is_admin
    new_cursor = {**page_cursor(marks, index, view), "owner": owner}
    # Column defs only when the owner column comes or goes: re-sending them would undo resized widths. The
    # cursor says what the grid shows: a tick sent right after the switch supersedes the switch's own request
    # (dash-renderer drops the older answer), so that tick must bring the columns.
    shown = cursor.get("owner", False) if isinstance(cursor, dict) else False  # the layout has no owner column
    if tick and same_view and shown == owner and index.page == (active_page or 1):
        delta = send_changes(user, cursor, index, marks, new_cursor)
        if delta is not None:
            return delta
    drawn = render_rows(conn(), user, index.ids, index, owner)
    columns = column_defs(owner) if ctx.triggered_id == ALL_USERS or shown != owner else no_update
    return ([drawn[i] for i in index.ids if i in drawn], no_update, columns, *_page_parts(index, active_page),
            new_cursor)


def _page_parts(index: PageIndex, active_page) -> tuple:
    """Return the filter options, pager, summary and empty state of a page (the outputs besides its rows)."""
    total_all = sum(index.counts.values())
    return (state_options(index.counts), index.pages, index.page if index.page != active_page else no_update,
            summary_text(index), _empty_state(total_all), bool(index.total))


def send_changes(user, cursor: dict, index: PageIndex, marks: tuple[int, int], new_cursor: dict) -> tuple | None:
    """Return the outputs of a tick that sends only what moved since `cursor`, or None to send the page whole."""
    # queue places are in the tokens; a running row's minute of run time is not
    dirty = index.running if cursor.get("until") is not None and time.time() >= cursor["until"] else frozenset()
    old = grid_delta.decode(cursor.get("rows"))
    p = grid_delta.plan(old, index.keys, dirty) if old is not None else None
    if p is None:
        return None
    tx = no_update
    if not p.empty:
        drawn = render_rows(conn(), user, p.update + p.add, index, new_cursor["owner"])
        if len(drawn) != len(p.update) + len(p.add):
            return None  # a job left between the two reads: send the page as it is now
        tx = grid_delta.transaction(p, drawn)
    options = state_options(index.counts) if cursor.get("counts") != new_cursor["counts"] else no_update
    paging = _page_parts(index, index.page)[1:] if cursor.get("paging") != new_cursor["paging"] else (no_update,) * 5
    parts = (options, *paging)
    return (no_update, tx, no_update, *parts, new_cursor)


def page_cursor(marks: tuple[int, int], index: PageIndex, view: str | None = None) -> dict:
    """Return what a tick compares: the change marks the page depends on, the rows it shows and the view."""
    return {"jobs": marks[0], "queue": marks[1] if index.positions else None, "until": index.refresh_at,
            "rows": grid_delta.encode(index.keys), "counts": index.counts_token, "paging": index.paging_token,
            "view": view or grid_view()}


def grid_view(state=None, search=None, page=None, all_users=None, sort=None) -> str:
    """Return a digest of the filter, search, page, all-users switch and sort a page of the grid was read for
    (a digest: the cursor goes back to the browser, and need not echo what was searched)."""
    view = json.dumps([state or "all", search or "", page or 1, bool(all_users), sort or DEFAULT_SORT])
    return hashlib.sha1(view.encode()).hexdigest()[:12]


def unchanged(cursor: dict | None, marks: tuple[int, int], now: float) -> bool:
    """Return True when nothing the page shows can have changed since `cursor` was taken."""
    if not isinstance(cursor, dict) or cursor.get("jobs") != marks[0]:
        return False
    if cursor.get("queue") is not None and cursor["queue"] != marks[1]:
        return False
    return cursor.get("until") is None or now < cursor["until"]


@callback(Output(OPEN, "disabled"), Output(CANCEL, "disabled"), Output(RETRY, "disabled"),
          Output(CLONE, "disabled"), Input(GRID, "selectedRows"), Input(GRID, "rowData"))
def enable_actions(selected, rows):
    """Enable only the actions that fit the selected job's state."""
    return action_states(selected, rows)


def action_states(selected: list[dict] | None, rows: list[dict] | None) -> tuple[bool, bool, bool, bool]:
    """Return (open, cancel, retry, clone) `disabled` flags for the selection among the rows on screen."""
    # selectedRows keeps the row of the moment of the click: a refresh may have moved the job on, or a filter
    # taken it off the page, where nothing is seen selected and no action may look possible.
    state = next((r["state"] for r in rows or [] if selected and r["id"] == selected[0]["id"]), None)
    if state is None:
        return True, True, True, True
    return False, state not in ("queued", "running"), state not in ("failed", "cancelled"), False


@callback(Output(CANCEL_MODAL, "is_open"), Output(CANCEL_BODY, "children"), Output(CANCEL_KEEP, "children"),
          Input(CANCEL, "n_clicks"), Input(CANCEL_KEEP, "n_clicks"), Input(CANCEL_CONFIRM, "n_clicks"),
          State(GRID, "selectedRows"), State(GRID, "rowData"), prevent_initial_call=True)
def toggle_cancel(_cancel, _keep, _confirm, selected, rows):
    """Ask before cancelling, in words for the selected job's state; close on either answer."""
    if ctx.triggered_id != CANCEL:
        return False, no_update, no_update
    state = next((r["state"] for r in rows or [] if selected and r["id"] == selected[0]["id"]), None)
    return (True, *cancel_wording(state))


@callback(Output(NAV, "href"), Input(CLONE, "n_clicks"), State(GRID, "selectedRows"), prevent_initial_call=True)
def clone_selected(_clone, selected):
    """Open the builder with a copy of the selected job's input; the builder checks the caller may see it."""
    if not selected:
        raise PreventUpdate
    return clone_href(selected[0]["id"])


@callback(Output(NAV, "pathname"), Input(GRID, "cellClicked"), Input(OPEN, "n_clicks"),
          State(GRID, "selectedRows"), prevent_initial_call=True)
def open_job(cell, _open, selected):
    """Go to the job page of a clicked name or of the selected row."""
    if ctx.triggered_id == GRID:
        if not cell or cell.get("colId") not in ("name", "id"):
            raise PreventUpdate
        return f"/jobs/{int(cell['rowId'])}"
    if not selected:
        raise PreventUpdate
    return f"/jobs/{int(selected[0]['id'])}"


def act(user, job_id: int, action: str) -> str:
    """Run one row action for `user`; return what to tell them."""
    if action == "cancel":
        return wording.cancelled(jobs.cancel_job(conn(), user, job_id))
    if action == "retry":
        return wording.retried(jobs.retry_job(conn(), user, job_id, settings()))
    raise ValueError(f"unknown action {action!r}")


@callback(Output(ALERT, "children"), Output(INTERVAL, "n_intervals"),
          Input(CANCEL_CONFIRM, "n_clicks"), Input(RETRY, "n_clicks"),
          State(GRID, "selectedRows"), State(INTERVAL, "n_intervals"), prevent_initial_call=True)
def act_on_selected(_cancel, _retry, selected, n):
    """Cancel or retry the selected job, then refresh the grid at once (Clone opens the builder instead)."""
    if not selected:
        raise PreventUpdate
    action = {CANCEL_CONFIRM: "cancel", RETRY: "retry"}[ctx.triggered_id]
    try:
        message, color = act(require_account(), int(selected[0]["id"]), action), "success"
    except FoldDeckError as exc:
        message, color = str(exc), "danger"
    return dbc.Alert(message, color=color, dismissable=True, duration=6000, className="py-2"), (n or 0) + 1


# -- delete and pin the selected job; the retention warning (issue 18) ----------------------------

RETENTION = page_id(__name__, "retention")
DELETE, PIN = page_id(__name__, "delete"), page_id(__name__, "pin")
DELETE_MODAL, DELETE_CONFIRM, DELETE_KEEP = (page_id(__name__, x) for x in ("delete-modal", "delete-confirm",
                                                                           "delete-keep"))


def retention_banner(user) -> list:
    """Return the warning about the user's jobs whose outputs retention deletes within a week."""
    text = retention.warning_text(retention.expiring(conn(), settings(), user)) if user else ""
    return [dbc.Alert([html.I(className="bi bi-clock-history me-2"), text], color="warning", className="py-2")
            ] if text else []


def _manage_actions() -> html.Div:
    return html.Div([
        dbc.Button([html.I(className="bi bi-pin-angle me-1"), "Pin / unpin"], id=PIN, color="secondary",
                   outline=True, size="sm", disabled=True),
        dbc.Button([html.I(className="bi bi-trash me-1"), "Delete"], id=DELETE, color="danger", outline=True,
                   size="sm", disabled=True),
    ], className="d-flex gap-2")


def _delete_modal() -> dbc.Modal:
    return dbc.Modal([dbc.ModalHeader(dbc.ModalTitle("Delete this job?")),
                      dbc.ModalBody("Its input, outputs and log are removed for good."),
                      dbc.ModalFooter([dbc.Button("Keep it", id=DELETE_KEEP, color="secondary"),
                                       dbc.Button("Delete job", id=DELETE_CONFIRM, color="danger")])],
                     id=DELETE_MODAL, is_open=False)


@callback(Output(DELETE, "disabled"), Output(PIN, "disabled"), Input(GRID, "selectedRows"), Input(GRID, "rowData"))
def enable_manage(selected, rows):
    """Delete only a finished job; pin any selected one."""
    if not selected:
        return True, True
    state = next((r["state"] for r in rows or [] if r["id"] == selected[0]["id"]), selected[0]["state"])
    return state in ("queued", "running"), False


@callback(Output(DELETE_MODAL, "is_open"), Input(DELETE, "n_clicks"), Input(DELETE_KEEP, "n_clicks"),
          Input(DELETE_CONFIRM, "n_clicks"), prevent_initial_call=True)
def toggle_delete(*_clicks):
    """Ask before deleting; close on either answer."""
    return ctx.triggered_id == DELETE


@callback(Output(ALERT, "children", allow_duplicate=True), Output(INTERVAL, "n_intervals", allow_duplicate=True),
          Output(RETENTION, "children"), Input(DELETE_CONFIRM, "n_clicks"), Input(PIN, "n_clicks"),
          State(GRID, "selectedRows"), State(INTERVAL, "n_intervals"), prevent_initial_call=True)
def manage_selected(_delete, _pin, selected, n):
    """Delete or pin/unpin the selected job (checked against the logged-in user), then refresh."""
    if not selected:
        raise PreventUpdate
    user = require_account()
    try:
        job_id = int(selected[0]["id"])
        if ctx.triggered_id == DELETE_CONFIRM:
            job_removal.delete_job(conn(), settings(), user, job_id)
            message = f"Job #{job_id} deleted."
        else:
            job = jobs.pin_job(conn(), user, job_id, not jobs.get_job(conn(), user, job_id).pinned)
            message = f"Job #{job.id} " + ("pinned: retention keeps its outputs." if job.pinned else "unpinned.")
        color = "success"
    except FoldDeckError as exc:
        message, color = str(exc), "danger"
    return (dbc.Alert(message, color=color, dismissable=True, duration=6000, className="py-2"), (n or 0) + 1,
            retention_banner(user))
