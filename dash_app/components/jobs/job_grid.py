"""The jobs grid (dash-ag-grid) and the server-side page behind it.

A page is read in two steps: `read_index` (which jobs, in order, each with a token of the few
columns its row is drawn from, plus the per-state counts: no whole job is read) and `render_rows`
(the rows of the jobs asked for, with their queue positions). `load_page` does both for every row;
a dashboard tick renders only the rows whose token moved (`grid_delta`).
"""
from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from dataclasses import dataclass, field

import dash_ag_grid as dag

from dash_app.components.jobs import grid_delta
from services import jobs
from services.jobs import Job, JobState
from services.jobs.rules.wording import stage_text
from services.people.users import User
from services.platform import defaults

STATES = [s.value for s in JobState]
# (column, direction) -> the jobs.list_jobs sort key; only what the service supports is clickable.
SORT_KEYS = {("name", "asc"): "name_asc", ("name", "desc"): "name_desc", ("state", "asc"): "state",
             ("state", "desc"): "state_desc", ("tokens", "desc"): "tokens_desc", ("tokens", "asc"): "tokens_asc",
             ("submitted", "desc"): "submitted_desc", ("submitted", "asc"): "submitted_asc",
             ("started", "desc"): "started_desc", ("started", "asc"): "started_asc"}
DEFAULT_SORT = "submitted_desc"


@dataclass(frozen=True)
class PageIndex:
    keys: grid_delta.Keys  # (job id, row token), in page order
    total: int  # jobs matching the filters
    page: int  # 1-based, clamped to the pages that exist
    pages: int
    counts: dict[str, int]  # per state, ignoring the state filter and search
    positions: dict[int, int | None] = field(default_factory=dict)  # the queued rows' places in the queue
    paused: bool = False  # the queue is paused (queued rows say so)
    running: frozenset[int] = frozenset()  # rows whose run time counts up
    refresh_at: float | None = None  # when a running job's run time next shows a new minute

    @property
    def ids(self) -> list[int]:
        return [i for i, _ in self.keys]

    @property
    def counts_token(self) -> str:
        """Return a token of the per-state counts (the filter's labels)."""
        return grid_delta.token(repr(sorted(self.counts.items())))

    @property
    def paging_token(self) -> str:
        """Return a token of the total and paging (pager, summary, empty state)."""
        return grid_delta.token(repr((self.total, self.page, self.pages, len(self.keys), sum(self.counts.values()))))


@dataclass(frozen=True)
class GridPage:
    rows: list[dict]
    total: int  # jobs matching the filters
    page: int  # 1-based, clamped to the pages that exist
    pages: int
    counts: dict[str, int]  # per state, ignoring the state filter and search
    refresh_at: float | None = None  # when a running job's run time next shows a new minute
    has_queued: bool = False  # queue positions shown: other users' queue changes matter
    index: PageIndex | None = None

    @property
    def signature(self) -> str:
        """Return a short hash of everything the page shows."""
        blob = json.dumps([self.rows, self.total, self.page, self.counts], sort_keys=True, default=str)
        return hashlib.blake2b(blob.encode(), digest_size=12).hexdigest()


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def fmt_duration(seconds: float | None) -> str:
    """Return a duration as `1 h 02 m`, `3 m 07 s` or `12 s`."""
    if seconds is None:
        return ""
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} m"
    return f"{s // 60} m {s % 60:02d} s" if s >= 60 else f"{s} s"


# The job columns a grid row is drawn from: to_row reads no other column of a job (a test holds it to
# that), so a row whose columns here did not move, at the same queue mark and run-time minute, is drawn
# the same and a tick need not send it.
ROW_COLUMNS = ("j.state", "j.started_at", "j.name", "u.username", "j.stage", "j.progress", "j.progress_detail",
               "j.tokens", "j.submitted_at", "j.finished_at", "j.host", "j.error", "j.cancel_requested", "j.phase",
               "j.approval", "COALESCE(j.data_json, '') <> ''",
               # the Slurm line of a running job (jobs.current_attempts: its latest attempt's row)
               "(SELECT COALESCE(s.slurm_id, '') || '/' || s.state || '/' || COALESCE(s.reason, '') || '/' "
               "|| COALESCE(s.node, '') FROM slurm_jobs s WHERE s.job_id = j.id AND s.attempt = j.attempts)")
# What the index reads per job: id, state, start, and all of ROW_COLUMNS as one string SQLite builds in
# one printf (3x cheaper than quote() per column; NULL prints as "", which to_row draws as "" too).
_INDEX_COLUMNS = ("j.id", "j.state", "j.started_at",
                  f"printf('{chr(31).join(['%s'] * len(ROW_COLUMNS))}', {', '.join(ROW_COLUMNS)})")


def to_row(job: Job, position: int | None, paused: bool = False, slurm: jobs.SlurmAttempt | None = None) -> dict:
    """Return the grid row of one job (plain values; the browser formats nothing heavy).

    `slurm`: its attempt's Slurm row (jobs.current_attempts), shown as Slurm says it while the job is running.
    """
    run_s = (job.finished_at - job.started_at) if job.started_at and job.finished_at else None
    if job.state is JobState.RUNNING and job.started_at:
        run_s = (time.time() - job.started_at) // 60 * 60  # whole minutes: a tick sends a change once a minute
    return {"id": job.id, "name": job.name, "owner": job.owner, "state": job.state.value,
            "stage": stage_text(job, position, paused), "progress": round(job.progress * 100),
            "tokens": job.tokens, "submitted": _fmt_time(job.submitted_at), "started": _fmt_time(job.started_at),
            "run_time": "< 1 m" if job.state is JobState.RUNNING and run_s == 0 else fmt_duration(run_s),
            "host": job.host or "", "queue_position": position,
            "slurm": slurm.describe() if slurm and job.state is JobState.RUNNING else "",
            "finished": job.is_finished}


def read_index(conn: sqlite3.Connection, caller: User, *, state: str | None = None, search: str | None = None,
               all_users: bool = False, page: int = 1, page_size: int = defaults.DASHBOARD_PAGE_SIZE,
               sort: str = DEFAULT_SORT) -> PageIndex:
    """Return which jobs one page of the caller's jobs holds (all users' for an admin with all_users).

    Raises:
        InvalidInput: unknown state or sort.
    """
    all_users = bool(all_users and caller.is_admin)
    state = state if state and state != "all" else None
    counts = jobs.state_counts(conn, caller, all_users)
    page = max(1, int(page or 1))
    found, total = jobs.list_job_columns(conn, caller, _INDEX_COLUMNS, state=state, search=search, all_users=all_users,
                                         offset=(page - 1) * page_size, limit=page_size, sort=sort)
    pages = max(1, math.ceil(total / page_size))
    if page > pages:  # the filters shrank the result: show the last page that exists
        return read_index(conn, caller, state=state, search=search, all_users=all_users, page=pages,
                          page_size=page_size, sort=sort)
    queued = [r[0] for r in found if r[1] == JobState.QUEUED.value]
    positions = jobs.queue_positions(conn, queued) if queued else {}
    paused = bool(queued) and jobs.queue_paused(conn)
    now = time.time()
    starts = [r[2] for r in found if r[1] == JobState.RUNNING.value and r[2]]
    refresh_at = min((s + ((now - s) // 60 + 1) * 60 for s in starts), default=None)
    # a queued row's place and the pause are drawn too: they go into its token
    keys = [(r[0], grid_delta.token(f"{r[3]},{positions.get(r[0])},{paused}" if r[0] in positions else r[3]))
            for r in found]
    return PageIndex(keys, total, page, pages, counts, {i: positions.get(i) for i in queued}, paused,
                     frozenset(r[0] for r in found if r[1] == JobState.RUNNING.value), refresh_at)


def render_rows(conn: sqlite3.Connection, caller: User, job_ids: list[int], index: PageIndex,
                all_users: bool = False) -> dict[int, dict]:
    """Return the grid rows of these jobs of `index` by id (those the caller may see)."""
    found = jobs.jobs_by_id(conn, caller, job_ids, bool(all_users and caller.is_admin))
    in_slurm = jobs.current_attempts(conn, [j for j in found if j.state is JobState.RUNNING])
    return {j.id: to_row(j, index.positions.get(j.id), index.paused, in_slurm.get(j.id)) for j in found}


def load_page(conn: sqlite3.Connection, caller: User, *, state: str | None = None, search: str | None = None,
              all_users: bool = False, page: int = 1, page_size: int = defaults.DASHBOARD_PAGE_SIZE,
              sort: str = DEFAULT_SORT) -> GridPage:
    """Return one page of the caller's jobs (all users' for an admin with all_users), every row drawn.

    Raises:
        InvalidInput: unknown state or sort.
    """
    index = read_index(conn, caller, state=state, search=search, all_users=all_users, page=page,
                       page_size=page_size, sort=sort)
    drawn = render_rows(conn, caller, index.ids, index, all_users)
    rows = [drawn[i] for i in index.ids if i in drawn]
    return GridPage(rows, index.total, index.page, index.pages, index.counts, index.refresh_at,
                    bool(index.positions), index)


# -- the grid component -------------------------------------------------------------------------

# The order a header click cycles through (None: back to the default, newest first).
_SORTING_ORDER = {"name": ["asc", "desc", None], "state": ["asc", "desc", None], "tokens": ["desc", "asc", None],
                  "submitted": ["desc", "asc", None], "started": ["desc", "asc", None]}
# The rows arrive sorted by the server: after AG Grid's own sort, put them back in rowData order.
_KEEP_SERVER_ORDER = {"function": "keepServerOrder(params)"}  # assets/dashboard.js


def _sortable(field: str) -> dict:
    """Return the column options that make a header click ask the server for that sort."""
    if field not in _SORTING_ORDER:
        return {"sortable": False}
    opts = {"sortable": True, "sortingOrder": _SORTING_ORDER[field]}
    if field == "submitted":
        opts["initialSort"] = "desc"  # shows DEFAULT_SORT; initial only, so re-sent defs keep a click
    return opts


def sort_key(column_state: list[dict] | None) -> str:
    """Return the list_jobs sort key for the grid's column state (the default when none is sorted)."""
    for col in column_state or []:
        key = SORT_KEYS.get((col.get("colId"), col.get("sort")))
        if key:
            return key
    return DEFAULT_SORT


def column_defs(show_owner: bool) -> list[dict]:
    """Return the grid columns (owner only when showing every user's jobs)."""
    cols = [
        {"field": "id", "headerName": "#", "width": 72},
        {"field": "name", "headerName": "Name", "flex": 2, "minWidth": 160, "cellClass": "fd-link",
         "tooltipField": "name"},
        # Sized for "● succeeded" in bold plus the sort arrow (120 px cut it off at 1366 px).
        {"field": "state", "headerName": "State", "width": 140, "minWidth": 140,
         "cellClassRules": {f"fd-st fd-st-{s}": f"params.value === '{s}'" for s in STATES}},
        {"field": "stage", "headerName": "Stage", "flex": 2, "minWidth": 160, "tooltipField": "stage"},
        {"field": "progress", "headerName": "Progress", "width": 100,
         "valueFormatter": {"function": "params.value + '%'"}},
        {"field": "tokens", "headerName": "Tokens", "width": 100, "type": "numericColumn"},
        # "2026-11-21 21:43" needs ~150 px of text plus the cell padding and the sort arrow.
        {"field": "submitted", "headerName": "Submitted", "width": 175, "minWidth": 175},
        {"field": "started", "headerName": "Started", "width": 160, "minWidth": 160},
        {"field": "run_time", "headerName": "Run time", "width": 95},
        {"field": "host", "headerName": "Host", "width": 100},
        # Slurm's own view of a running attempt: pending (reason), running on its node, requeued (issue 25)
        {"field": "slurm", "headerName": "Slurm", "flex": 1, "minWidth": 150, "tooltipField": "slurm"},
    ]
    if show_owner:
        cols.insert(2, {"field": "owner", "headerName": "Owner", "width": 110})
    return [{**c, **_sortable(c["field"])} for c in cols]


def job_grid(grid_id: str, rows: list[dict], show_owner: bool) -> dag.AgGrid:
    """Return the jobs grid; paging, sorting and filtering happen on the server."""
    # A header click changes `columnState`; the page turns that into a list_jobs sort key.
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=column_defs(show_owner), getRowId="'' + params.data.id",
        defaultColDef={"sortable": False, "resizable": True, "suppressHeaderMenuButton": True},
        dashGridOptions={"rowSelection": {"mode": "singleRow", "enableClickSelection": True, "checkboxes": False},
                         "domLayout": "autoHeight", "suppressCellFocus": False, "tooltipShowDelay": 400,
                         "animateRows": False, "suppressMultiSort": True,
                         "postSortRows": _KEEP_SERVER_ORDER,
                         # the page says why the grid is empty, once (a new user saw two messages)
                         "suppressNoRowsOverlay": True},
        className="fd-job-grid", style={"width": "100%"},
    )
