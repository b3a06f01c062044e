"""The jobs grid (dash-ag-grid) and the server-side page behind it.

`load_page` is the whole read a dashboard tick makes: one page of rows (never more than
page_size), the per-state counts and queue positions. `signature` lets a tick that changed
nothing send nothing.
"""
from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from dataclasses import dataclass

import dash_ag_grid as dag

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
class GridPage:
    rows: list[dict]
    total: int  # jobs matching the filters
    page: int  # 1-based, clamped to the pages that exist
    pages: int
    counts: dict[str, int]  # per state, ignoring the state filter and search
    refresh_at: float | None = None  # when a running job's run time next shows a new minute
    has_queued: bool = False  # queue positions shown: other users' queue changes matter

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


def load_page(conn: sqlite3.Connection, caller: User, *, state: str | None = None, search: str | None = None,
              all_users: bool = False, page: int = 1, page_size: int = defaults.DASHBOARD_PAGE_SIZE,
              sort: str = DEFAULT_SORT) -> GridPage:
    """Return one page of the caller's jobs (all users' for an admin with all_users).

    Raises:
        InvalidInput: unknown state or sort.
    """
    all_users = bool(all_users and caller.is_admin)
    state = state if state and state != "all" else None
    counts = jobs.state_counts(conn, caller, all_users)
    page = max(1, int(page or 1))
    found, total = jobs.list_jobs(conn, caller, state=state, search=search, all_users=all_users,
                                  offset=(page - 1) * page_size, limit=page_size, sort=sort)
    pages = max(1, math.ceil(total / page_size))
    if page > pages:  # the filters shrank the result: show the last page that exists
        return load_page(conn, caller, state=state, search=search, all_users=all_users, page=pages,
                         page_size=page_size, sort=sort)
    queued = [j.id for j in found if j.state is JobState.QUEUED]
    positions = jobs.queue_positions(conn, queued) if queued else {}
    paused = bool(queued) and jobs.queue_paused(conn)
    now = time.time()
    starts = [j.started_at for j in found if j.state is JobState.RUNNING and j.started_at]
    refresh_at = min((s + ((now - s) // 60 + 1) * 60 for s in starts), default=None)
    in_slurm = jobs.current_attempts(conn, [j for j in found if j.state is JobState.RUNNING])
    rows = [to_row(j, positions.get(j.id), paused, in_slurm.get(j.id)) for j in found]
    return GridPage(rows, total, page, pages, counts, refresh_at, bool(queued))


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
