"""Queue (`/admin/queue`): every user's jobs, pause/resume, cancel, workers and host slots."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.components.admin_common import error_alert, fmt_age, fmt_time, ok_alert, page_header
from dash_app.components.hosts.host_rest import resting_badge, resting_line
from dash_app.components.hosts.slurm_cluster import summary as cluster_summary
from dash_app.components.process_health import process_lines, stale, worker_down
from dash_app.context import conn, require_account, settings
from dash_app.ids import page_id
from services import jobs
from services.jobs import JobState
from services.jobs.rules import waiting, wording
from services.metrics.store import SnapshotStore, cache_dir
from services.msa import msa_cache
from services.operations import admin, approvals, preflight_report
from services.operations.admin import QueueOverview
from services.platform import defaults, heartbeat
from services.platform.errors import FoldDeckError, InvalidInput, JobNotFound, JobStateError

if TYPE_CHECKING:
    from services.msa.msa_cache import CacheStats

dash.register_page(__name__, path="/admin/queue", name="Queue", order=52, icon="bi-list-task", admin=True)

ALERT = page_id(__name__, "alert")
STATUS = page_id(__name__, "status")
TOGGLE = page_id(__name__, "toggle")
COUNTS = page_id(__name__, "counts")
STATE = page_id(__name__, "state")
GRID = page_id(__name__, "grid")
CANCEL = page_id(__name__, "cancel")
CONFIRM = page_id(__name__, "confirm")
PENDING = page_id(__name__, "pending")  # the job id the open dialog asks about
WORKERS = page_id(__name__, "workers")
SLOTS = page_id(__name__, "slots")
TICK = page_id(__name__, "tick")
REFRESH = page_id(__name__, "refresh")
LIMIT_JOBS = page_id(__name__, "limit-jobs")
LIMIT_TOKENS = page_id(__name__, "limit-tokens")
LIMIT_QUEUED = page_id(__name__, "limit-queued")
LIMIT_SEEDS = page_id(__name__, "limit-seeds")
LIMIT_GPU_HOURS = page_id(__name__, "limit-gpu-hours")
LIMIT_SAVE = page_id(__name__, "limit-save")
LIMIT_ALERT = page_id(__name__, "limit-alert")
APPROVALS = page_id(__name__, "approvals")  # issue 18: jobs awaiting approval, shown first
APPROVE_JOB = page_id(__name__, "approve-job")
APPROVE_NOTE = page_id(__name__, "approve-note")
APPROVE = page_id(__name__, "approve")
REJECT = page_id(__name__, "reject")
CACHE_BODY = page_id(__name__, "msa-cache")  # issue 16: the MSA cache card
CACHE_CLEAR = page_id(__name__, "msa-cache-clear")
CACHE_CONFIRM = page_id(__name__, "msa-cache-confirm")
CACHE_SCOPE = page_id(__name__, "msa-cache-lab")  # the switch: reuse anyone's identical chain
MB = 1024 * 1024  # FOLDDECK_MSA_CACHE_MB counts mebibytes

ACTIVE = "active"  # queued + running; an empty value would render as a blank select
STATE_OPTIONS = [{"label": "Waiting and running", "value": ACTIVE}] + [
    {"label": s.value.title(), "value": s.value} for s in JobState]
COLUMNS = [
    {"field": "id", "headerName": "Job", "width": 90},
    {"field": "name", "headerName": "Name", "flex": 1, "minWidth": 160},
    {"field": "owner", "headerName": "Owner", "width": 120},
    {"field": "state", "headerName": "State", "width": 120,
     "cellClassRules": {"text-primary fw-bold": "params.value === 'running'",
                        "text-danger fw-bold": "params.value === 'failed'"}},
    {"field": "host", "headerName": "Host", "width": 120},
    {"field": "submitted", "headerName": "Submitted", "width": 180},
    {"field": "started", "headerName": "Started", "width": 180},
    {"field": "tokens", "headerName": "Tokens", "width": 100, "type": "numericColumn"},
    {"field": "attempts", "headerName": "Attempts", "width": 110, "type": "numericColumn"},
    {"field": "why", "headerName": "Why waiting", "minWidth": 220, "flex": 1},  # issue 18
]


def layout(**_query) -> html.Div:
    return html.Div([
        page_header("Queue", "bi-list-task", "Every user's jobs, the workers that run them and the free GPU slots."),
        html.Div(id=ALERT),
        approvals_card(),
        dbc.Card(dbc.CardBody(dbc.Row([
            dbc.Col(html.Div(id=STATUS, **{"aria-live": "polite"}), md=8, className="d-flex align-items-center"),
            dbc.Col(dbc.Button("Pause queue", id=TOGGLE, color="warning"), md=4,
                    className="d-flex justify-content-md-end mt-2 mt-md-0"),
        ])), className="mb-3 shadow-sm"),
        html.Div(id=COUNTS, className="d-flex flex-wrap gap-2 mb-3"),
        dbc.Row([
            dbc.Col(dbc.Card([
                dbc.CardHeader(dbc.Row([
                    dbc.Col([html.I(className="bi bi-collection me-2"), "Jobs"], className="d-flex align-items-center"),
                    dbc.Col([dbc.Label("Show jobs in state", html_for=STATE, className="visually-hidden"),
                             dbc.Select(id=STATE, options=STATE_OPTIONS, value=ACTIVE, size="sm")], width="auto"),
                    dbc.Col(dbc.Button([html.I(className="bi bi-x-octagon me-1"), "Cancel selected job"], id=CANCEL,
                                       color="danger", outline=True, size="sm"), width="auto"),
                ], className="g-2")),
                dbc.CardBody(dag.AgGrid(
                    id=GRID, columnDefs=COLUMNS, rowData=[], getRowId="'' + params.data.id",
                    defaultColDef={"sortable": True, "resizable": True},
                    dashGridOptions={
                        "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
                        "animateRows": False,
                        "localeText": {"noRowsToShow": "No jobs in this state. Submitted jobs appear here."}},
                    className="ag-theme-alpine", style={"height": "55vh", "width": "100%"}), className="p-2"),
            ], className="shadow-sm mb-3"), xs=12, xl=8),
            dbc.Col([
                dbc.Card([dbc.CardHeader([html.I(className="bi bi-gpu-card me-2"), "Slots per host"]),
                          dbc.CardBody(id=SLOTS)], className="shadow-sm mb-3"),
                dbc.Card([dbc.CardHeader([html.I(className="bi bi-cpu me-2"), "Workers"]),
                          dbc.CardBody(id=WORKERS, className="p-0")], className="shadow-sm mb-3"),
                limits_card(jobs.default_limits(conn())),
                msa_cache_card(),
            ], xs=12, xl=4),
        ]),
        dcc.Interval(id=TICK, interval=defaults.ADMIN_QUEUE_POLL_MS),
        dcc.Store(id=REFRESH, data=0),
        dcc.ConfirmDialog(id=CONFIRM),
        dcc.Store(id=PENDING),
    ])


def limits_card(limits: jobs.SubmitLimits) -> dbc.Card:
    """Return the default submission limits, editable (a user's own limits on the Users page win)."""
    def field(label: str, component_id: str, value: float, bounds: tuple = jobs.LIMIT_RANGE, step: float = 1
              ) -> dbc.Row:
        return dbc.Row([dbc.Label(label, html_for=component_id, width=7, className="small"),
                        dbc.Col(dbc.Input(id=component_id, type="number", min=bounds[0], max=bounds[1], step=step,
                                          value=value, size="sm"), width=5)],
                       className="mb-2")

    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-sliders me-2"), "Limits"]),
        dbc.CardBody([
            html.Div(id=LIMIT_ALERT),
            field("Jobs per submission (file, upload or request)", LIMIT_JOBS, limits.jobs_per_submit),
            field("Tokens per job", LIMIT_TOKENS, limits.tokens_per_job),
            field("Queued jobs per user", LIMIT_QUEUED, limits.queued_per_user),
            field("Seeds per job", LIMIT_SEEDS, limits.seeds_per_job),
            field("GPU hours per job (estimated)", LIMIT_GPU_HOURS, limits.gpu_hours_per_job, jobs.GPU_HOURS_RANGE,
                  0.01),
            html.P("Defaults for everyone; a user's own limits (Users page) take their place. AlphaFold 3 fits "
                   "about 5,000 tokens on one 80 GB GPU. GPU hours are the size badge's estimate: tokens x seeds "
                   "x samples.", className="small text-muted"),
            dbc.Button([html.I(className="bi bi-save me-1"), "Save limits"], id=LIMIT_SAVE, color="primary",
                       size="sm"),
        ]),
    ], className="shadow-sm mb-3")


@callback(
    Output(LIMIT_ALERT, "children"), Output(LIMIT_JOBS, "value"), Output(LIMIT_TOKENS, "value"),
    Output(LIMIT_QUEUED, "value"), Output(LIMIT_SEEDS, "value"), Output(LIMIT_GPU_HOURS, "value"),
    Input(LIMIT_SAVE, "n_clicks"), State(LIMIT_JOBS, "value"), State(LIMIT_TOKENS, "value"),
    State(LIMIT_QUEUED, "value"), State(LIMIT_SEEDS, "value"), State(LIMIT_GPU_HOURS, "value"),
    prevent_initial_call=True,
)
def save_limits(_n, per_submit, tokens, queued, seeds, gpu_hours):
    """Store new default limits and show what is in force now."""
    try:
        values = [int(v) if isinstance(v, (int, float)) and float(v).is_integer() else v
                  for v in (per_submit, tokens, queued, seeds)]
        hours = float(gpu_hours) if isinstance(gpu_hours, (int, float)) else gpu_hours
        saved = admin.set_default_limits(conn(), require_account(), jobs.SubmitLimits(*values, hours))
    except FoldDeckError as exc:
        return error_alert(exc), no_update, no_update, no_update, no_update, no_update
    return (ok_alert(f"Limits saved: {saved.jobs_per_submit:,} jobs per submission, {saved.tokens_per_job:,} tokens "
                     f"per job, {saved.queued_per_user:,} queued jobs per user, {saved.seeds_per_job:,} seeds per "
                     f"job, {saved.gpu_hours_per_job:,g} GPU hours per job."),
            saved.jobs_per_submit, saved.tokens_per_job, saved.queued_per_user, saved.seeds_per_job,
            saved.gpu_hours_per_job)


def job_rows(view: QueueOverview, why: dict[int, str] | None = None) -> list[dict]:
    """Return the grid rows for the listed jobs (`why`: job id -> why a queued job waits)."""
    why = why or {}
    return [{"id": j.id, "name": j.name, "owner": j.owner, "state": j.state.value, "host": j.host or "",
             "submitted": fmt_time(j.submitted_at), "started": fmt_time(j.started_at, ""), "tokens": j.tokens,
             "attempts": j.attempts, "why": why.get(j.id, "")} for j in view.jobs]


def status_line(view: QueueOverview, found: list[heartbeat.ProcessHealth] | None = None) -> list:
    """Return the queue's state as a badge and a sentence (red when no worker process runs)."""
    if (down := worker_down(found or [])) and not view.paused:
        return [dbc.Badge([html.I(className="bi bi-exclamation-octagon-fill me-1"), "No worker"], color="danger",
                          className="me-2 fs-6", id=page_id(__name__, "no-worker-badge")), down.words]
    if view.paused:
        since = f" by {view.changed_by} at {fmt_time(view.changed_at)}" if view.changed_by else ""
        return [dbc.Badge([html.I(className="bi bi-pause-fill me-1"), "Paused"], color="warning", className="me-2 fs-6",
                          id=page_id(__name__, "paused-badge")),
                f"Paused{since}. Running jobs continue; queued jobs wait until you resume."]
    return [dbc.Badge([html.I(className="bi bi-play-fill me-1"), "Running"], color="success", className="me-2 fs-6",
                      id=page_id(__name__, "running-badge")), "Workers start queued jobs as slots free up."]


def workers_table(view: QueueOverview, now: float) -> html.Div | dbc.Table:
    """Return the live workers with their heartbeat and current job."""
    if not view.workers:
        return html.P("No worker is running. Start one with `python -m services.running.worker`.",
                      className="fd-empty mb-0")
    rows = [html.Tr([html.Td(w.id, className="fd-mono small"), html.Td(w.host_name),
                     html.Td(fmt_age(w.heartbeat_at, now) + (" (not responding)" if stale(w, now) else ""),
                             className="text-danger fw-semibold" if stale(w, now) else None),
                     html.Td(", ".join(f"#{j}" for j in w.running_jobs) or "idle")]) for w in view.workers]
    return dbc.Table([html.Thead(html.Tr([html.Th("Worker"), html.Th("Host"), html.Th("Heartbeat"), html.Th("Jobs")])),
                      html.Tbody(rows)], size="sm", hover=True, responsive=True, className="mb-0")


def slots_list(view: QueueOverview, resting: dict[str, jobs.HostBackoff] | None = None,
               clusters: dict[str, dict] | None = None) -> list:
    """Return one progress bar per host: running jobs out of slots, and whether workers rest it.

    A Slurm host's slots are the most FoldDeck jobs it may have in Slurm; `clusters` (the sampler's
    last tick) adds its free GPUs and FoldDeck's running / pending jobs there.
    """
    if not view.slots:
        return [html.P("No host runs jobs. Add hosts in hosts.toml or set FOLDDECK_LOCAL_SLOTS.", className="fd-empty")]
    resting = resting or {}
    return [html.Div([html.Div([html.Span([h.name, resting_badge(resting.get(h.name), "ms-2")],
                                          className="fw-semibold"),
                                html.Span(f"{h.running} of {h.slots} busy" + (
                                    f" · MSA search {h.searching} of {h.cpu_slots} CPU slots" if h.cpu_slots else ""),
                                    className="text-muted small")],
                               className="d-flex justify-content-between"),
                      *resting_line(resting.get(h.name)),
                      *([html.Div(cluster_summary(clusters[h.name]), className="text-muted small fd-cluster-summary")]
                        if clusters and h.name in clusters else []),
                      dbc.Progress(value=h.running, max=max(h.slots, 1), className="mb-2",
                                   color="primary" if h.free else "warning")], **{"data-host": h.name})
            for h in view.slots.values()]


@callback(
    Output(STATUS, "children"), Output(TOGGLE, "children"), Output(TOGGLE, "color"), Output(COUNTS, "children"),
    Output(GRID, "rowData"), Output(WORKERS, "children"), Output(SLOTS, "children"),
    Input(TICK, "n_intervals"), Input(REFRESH, "data"), Input(STATE, "value"),
)
def refresh_queue(_n, _refresh, state):
    """Show the queue's control state, jobs, workers and slots."""
    view = admin.queue_overview(conn(), settings(), require_account(),
                                state=None if state in (None, "", ACTIVE) else state,
                                limit=defaults.ADMIN_QUEUE_PAGE_SIZE)
    counts = [dbc.Badge(f"{name.title()} {n}", className=f"fd-state-{name} fs-6") for name, n in view.counts.items()]
    button = [html.I(className=f"bi {'bi-play-fill' if view.paused else 'bi-pause-fill'} me-1"),
              "Resume queue" if view.paused else "Pause queue"]
    why = waiting.reasons(conn(), settings(), view.jobs)
    found = heartbeat.health(conn())
    return (status_line(view, found), button, "success" if view.paused else "warning", counts, job_rows(view, why),
            [process_lines(found, preflight_report.mail_checks(settings())), workers_table(view, time.time())],
            slots_list(view, jobs.host_backoffs(conn()), _clusters()))


def _clusters() -> dict[str, dict]:
    """Return the Slurm clusters of the sampler's last tick (empty without a sampler or a Slurm host)."""
    board = SnapshotStore(cache_dir(settings().data_dir)).latest().jobs
    return (board or {}).get("clusters") or {}


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(TOGGLE, "n_clicks"), State(REFRESH, "data"), prevent_initial_call=True,
)
def toggle_queue(_n, n):
    """Pause a running queue or resume a paused one (the database says which it is now)."""
    c, actor = conn(), require_account()
    paused = jobs.queue_paused(c)
    (admin.resume_queue if paused else admin.pause_queue)(c, actor)
    return ok_alert("Queue resumed." if paused else "Queue paused: running jobs continue, no new job starts."), \
        (n or 0) + 1


@callback(
    Output(CONFIRM, "displayed"), Output(CONFIRM, "message"), Output(PENDING, "data"),
    Output(ALERT, "children", allow_duplicate=True),
    Input(CANCEL, "n_clicks"), State(GRID, "selectedRows"), prevent_initial_call=True,
)
def ask_cancel(_n, rows):
    """Ask before cancelling the selected job; name it and its owner as the database has them."""
    try:
        if not rows:
            raise JobNotFound("Select a job in the list first.")
        job = jobs.get_job(conn(), require_account(), int(rows[0]["id"]))
        if job.is_finished:
            raise JobStateError(f"Job {job.id} already {job.state.value}; there is nothing to cancel.")
    except FoldDeckError as exc:
        return False, no_update, None, error_alert(exc)
    return True, wording.admin_cancel_question(job), job.id, None


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Output(PENDING, "data", allow_duplicate=True),
    Input(CONFIRM, "submit_n_clicks"), State(PENDING, "data"), State(REFRESH, "data"), prevent_initial_call=True,
)
def cancel_confirmed(_n, job_id, n):
    """Cancel the job the dialog named, whoever owns it (the grid's selection may have moved since)."""
    if job_id is None:
        return no_update, no_update, no_update
    try:
        job = admin.cancel_job(conn(), require_account(), int(job_id))
    except FoldDeckError as exc:
        return error_alert(exc), no_update, None
    what = "cancelled" if job.state is JobState.CANCELLED else "stopping (cancel requested)"
    return ok_alert(f"Job {job.id} ({job.name}, {job.owner}) is {what}."), (n or 0) + 1, None


# -- the MSA cache (issue 16) ---------------------------------------------------------------------


def msa_cache_card() -> dbc.Card:
    """Return the MSA cache card: its figures (filled by `refresh_cache`), and Clear cache behind a confirm."""
    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-database me-2"), "MSA cache"]),
        dbc.CardBody([
            html.Div(id=CACHE_BODY),
            dbc.Switch(id=CACHE_SCOPE, label="Lab-wide reuse: a job may take any user's identical chain",
                       value=msa_cache.scope(conn(), settings()) == "lab", className="small mb-2"),
            dbc.Button([html.I(className="bi bi-trash me-1"), "Clear cache"], id=CACHE_CLEAR, color="danger",
                       outline=True, size="sm"),
            dcc.ConfirmDialog(id=CACHE_CONFIRM, message="Clear the MSA cache? Every user's cached MSAs and templates "
                                                        "are deleted; later jobs search their chains again."),
        ]),
    ], className="shadow-sm mb-3")


def msa_cache_facts(stats: CacheStats) -> list:
    """Return the cache's entries, size and limit, scope and hits (or that it is off)."""
    if not stats.limit_bytes:
        return [html.P("Off (FOLDDECK_MSA_CACHE_MB=0): every job searches its chains.", className="small mb-2")]
    scope = "lab-wide" if stats.scope == "lab" else "your own chains (each user reuses only theirs)"
    facts = [("Entries", f"{stats.entries:,} chains of {stats.owners:,} user{'s' * (stats.owners != 1)}"),
             ("Size", f"{stats.bytes / MB:,.1f} MB of {stats.limit_bytes / MB:,.0f} MB"),
             ("Scope", scope), ("Hits", f"{stats.hits:,}")]
    return [html.Dl([html.Div([html.Dt(k), html.Dd(v)], className="fd-fact") for k, v in facts],
                    className="fd-facts small mb-2")]


@callback(Output(CACHE_BODY, "children"), Input(REFRESH, "data"))
def refresh_cache(_refresh):
    """Show the cache's figures when the page opens and after an action (one aggregate query, not per tick)."""
    return msa_cache_facts(admin.msa_cache_stats(conn(), settings(), require_account()))


@callback(Output(ALERT, "children", allow_duplicate=True), Output(CACHE_BODY, "children", allow_duplicate=True),
          Input(CACHE_SCOPE, "value"), prevent_initial_call=True)
def set_cache_scope(lab_wide):
    """Switch reuse between per user and lab-wide (the service checks the admin and writes the audit line)."""
    c, actor = conn(), require_account()
    try:
        value = admin.set_msa_cache_scope(c, settings(), actor, bool(lab_wide))
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    words = "lab-wide: a job may reuse any user's identical chain" if value == "lab" else \
        "per user: each user reuses only their own chains"
    return ok_alert(f"MSA reuse is now {words}."), msa_cache_facts(admin.msa_cache_stats(c, settings(), actor))


@callback(Output(CACHE_CONFIRM, "displayed"), Input(CACHE_CLEAR, "n_clicks"), prevent_initial_call=True)
def ask_clear_cache(_n):
    """Ask before clearing the MSA cache."""
    require_account()
    return True


@callback(Output(ALERT, "children", allow_duplicate=True), Output(CACHE_BODY, "children", allow_duplicate=True),
          Input(CACHE_CONFIRM, "submit_n_clicks"), prevent_initial_call=True)
def clear_cache(_n):
    """Clear the MSA cache (the service checks the admin and writes the audit line); show what is left."""
    c, actor = conn(), require_account()
    try:
        removed = admin.clear_msa_cache(c, settings(), actor)
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    return (ok_alert(f"MSA cache cleared: {removed:,} entr{'y' if removed == 1 else 'ies'} removed."),
            msa_cache_facts(admin.msa_cache_stats(c, settings(), actor)))


# -- approval of large jobs (issue 18) -----------------------------------------------------------


def approvals_card() -> dbc.Card:
    """Return the card of jobs awaiting approval: the list, a job chooser, a note, approve and reject."""
    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-hourglass-split me-2"), "Awaiting approval"]),
        dbc.CardBody([
            html.Div(id=APPROVALS),
            dbc.Row([
                dbc.Col(dbc.Select(id=APPROVE_JOB, options=[], placeholder="Job", size="sm"), md=3),
                dbc.Col(dbc.Input(id=APPROVE_NOTE, placeholder="Note the user sees (required to reject)",
                                  size="sm", maxLength=500), md=5),
                dbc.Col([dbc.Button("Approve", id=APPROVE, color="success", size="sm", className="me-2"),
                         dbc.Button("Reject", id=REJECT, color="danger", outline=True, size="sm")], md=4),
            ], className="g-2"),
        ]),
    ], className="mb-3 shadow-sm border-warning")


def approval_rows(pending: list[approvals.PendingJob]) -> html.Div | dbc.Table:
    """Return the pending jobs with size, estimated GPU hours and the owner's recent usage."""
    if not pending:
        return html.P("No job is waiting for approval.", className="fd-empty small mb-2")
    head = html.Thead(html.Tr([html.Th(x) for x in ("Job", "Owner", "Tokens x seeds", "Est. GPU h",
                                                   f"Owner's last {approvals.RECENT_DAYS} days", "Waiting since")]))
    body = [html.Tr([html.Td(f"#{p.job.id} {p.job.name}"), html.Td(p.job.owner),
                     html.Td(f"{p.job.tokens:,} x {p.job.seeds:,}"), html.Td(f"{p.gpu_hours:.1f}"),
                     html.Td(f"{p.recent_jobs} jobs, {p.recent_gpu_hours:.1f} GPU h"),
                     html.Td(fmt_time(p.job.submitted_at))]) for p in pending]
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True, responsive=True, className="mb-2")


@callback(Output(APPROVALS, "children"), Output(APPROVE_JOB, "options"), Input(TICK, "n_intervals"),
          Input(REFRESH, "data"))
def refresh_approvals(_n, _refresh):
    """List the jobs awaiting approval."""
    require_account()
    pending = approvals.pending(conn())
    return approval_rows(pending), [{"label": f"#{p.job.id} {p.job.name} ({p.job.owner})", "value": p.job.id}
                                    for p in pending]


@callback(Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
          Output(APPROVE_NOTE, "value"), Input(APPROVE, "n_clicks"), Input(REJECT, "n_clicks"),
          State(APPROVE_JOB, "value"), State(APPROVE_NOTE, "value"), State(REFRESH, "data"),
          prevent_initial_call=True)
def decide_approval(_approve, _reject, job_id, note, n):
    """Approve or reject the chosen job; a rejection needs a note, which its owner reads."""
    try:
        if not job_id:
            raise JobNotFound("Choose a job awaiting approval first.")
        if ctx.triggered_id == REJECT:
            if not (note or "").strip():
                raise InvalidInput("Write a note saying why: the user reads it on the job page.")
            job = approvals.reject(conn(), require_account(), int(job_id), note)
            return ok_alert(f"Job {job.id} ({job.owner}) rejected."), (n or 0) + 1, ""
        job = approvals.approve(conn(), require_account(), int(job_id), note or "")
    except FoldDeckError as exc:
        return error_alert(exc), no_update, no_update
    return ok_alert(f"Job {job.id} ({job.owner}) approved; it keeps its place in the queue."), (n or 0) + 1, ""
