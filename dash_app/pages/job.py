"""Job page (`/jobs/<id>`): header, stage bar, actions, failure summary, results and the live console.

One Interval (CONSOLE_POLL_MS) drives `refresh_job`: per tick one job-row read and one cursor read
of the log; it answers 204 when neither moved and stops once the job is final and fully read.
A one-shot Interval (FIRST) makes the first poll at once: it loads the log's tail, which the page
itself does not carry (a big job's page stays small and shows "Loading log…" meanwhile).
A job the caller may not see renders exactly like one that does not exist.

The job id of every callback comes from one place, the console's cursor, and is checked against
the logged-in user (`cons.checked_job`) before anything is read or done.
"""
from __future__ import annotations

import time
from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.components import console as cons
from dash_app.components.job_grid import fmt_duration, stage_text
from dash_app.components.results_plots import confidence_plots
from dash_app.components.state_badge import state_badge
from dash_app.context import account, conn, require_account, settings
from dash_app.ids import page_id
from services import defaults, joblog, jobs, results
from services.errors import FoldDeckError, JobNotFound
from services.jobs import Job, JobState

dash.register_page(__name__, path_template="/jobs/<job_id>", name="Job", nav=False)

KEY = "job"  # the console's key on this page
HEADER, PROGRESS, FAILURE, RESULTS = (page_id(__name__, x) for x in ("header", "progress", "failure", "results"))
INTERVAL, CURSOR, ALERT, NAV = (page_id(__name__, x) for x in ("interval", "cursor", "alert", "nav"))
FIRST = page_id(__name__, "first-poll")
FIRST_POLL_MS = 50  # the first poll right after the page renders: the log shows without waiting a full tick
CANCEL, RETRY, CLONE = (page_id(__name__, x) for x in ("cancel", "retry", "clone"))
CANCEL_MODAL, CANCEL_CONFIRM, CANCEL_KEEP = (page_id(__name__, x) for x in ("cancel-modal", "cancel-confirm",
                                                                           "cancel-keep"))
NOT_FOUND = page_id(__name__, "not-found")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def header(job: Job) -> list:
    """Return the header: name, state, owner, timings, host and attempt."""
    end = job.finished_at or (time.time() if job.state is JobState.RUNNING else None)
    facts = [("Owner", job.owner), ("Submitted", _when(job.submitted_at)), ("Started", _when(job.started_at)),
             ("Finished", _when(job.finished_at)),
             ("Run time", fmt_duration(end - job.started_at) if job.started_at and end else "—"),
             ("Host", job.host or "—"), ("Attempt", str(job.attempts or "—")), ("Tokens", f"{job.tokens:,}")]
    facts += slurm_facts(job)
    return [html.Div([html.H1([f"#{job.id} ", job.name], className="h4 mb-0 me-3 text-break"),
                      state_badge(job.state, job.cancel_requested, id=page_id(__name__, "state"))],
                     className="d-flex align-items-center flex-wrap gap-2 mb-2"),
            html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd(v))], className="fd-facts mb-0")]


def slurm_facts(job: Job) -> list[tuple[str, object]]:
    """Return the Slurm line of an attempt run through Slurm: pending reason or node, job id, the batch script."""
    if job.executor != "slurm" or not job.attempts:
        return []
    row = jobs.slurm_attempt(conn(), job.id, job.attempts)
    if row is None:
        return []
    script = f"/api/jobs/{job.id}/slurm-script"
    return [("Slurm", html.Span([html.Span(row.describe(), id=page_id(__name__, "slurm")), " · ",
                                 html.A("batch script", href=script, target="_blank"), " (",
                                 html.A("download", href=f"{script}?download=1", download=""), ")"]))]


def progress_bar(job: Job) -> list:
    """Return the stage bar: the stage and detail parsed from the log, and the fraction done."""
    pct = round(job.progress * 100)
    color = {"failed": "danger", "cancelled": "warning", "succeeded": "success"}.get(job.state.value, "primary")
    text = stage_text(job, None) if job.state is not JobState.QUEUED else "waiting for a free GPU"
    if job.executor == "slurm" and job.state is JobState.RUNNING and job.attempts:
        row = jobs.slurm_attempt(conn(), job.id, job.attempts)
        if row is not None and row.pending:  # claimed by FoldDeck, but Slurm has not started it
            text = f"pending in Slurm ({row.reason or 'waiting'})"
    if job.state is JobState.RUNNING and job.progress_detail:
        text = f"{job.stage} · {job.progress_detail}"
    return [html.Div([html.Span(text, id=page_id(__name__, "stage")), html.Span(f"{pct}%", className="ms-auto")],
                     className="d-flex small mb-1"),
            dbc.Progress(value=pct, color=color, striped=job.state is JobState.RUNNING,
                         animated=job.state is JobState.RUNNING, style={"height": "0.75rem"},
                         id=page_id(__name__, "bar"))]


def failure(job: Job) -> list:
    """Return the error summary and last error lines of a failed job (nothing otherwise)."""
    if job.state is not JobState.FAILED:
        return []
    tail = joblog.error_tail(conn(), job.id, 12)
    return [dbc.Alert([html.H2([html.I(className="bi bi-x-octagon me-2"), "This job failed"], className="h6"),
                       html.P(job.error or f"exit status {job.exit_code}", className="mb-2 fw-semibold"),
                       html.Pre("\n".join(x.text for x in tail), className="fd-error-tail mb-0") if tail else None],
                      color="danger", id=page_id(__name__, "error"))]


def results_section(job: Job) -> list:
    """Return output files and per-sample confidences of a succeeded job (nothing otherwise)."""
    if job.state is not JobState.SUCCEEDED:
        return []
    res = results.read_results(job.output_path)
    def num(x):
        return "—" if x is None else f"{x:.3f}"
    scores = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("Seed", "Sample", "Ranking score", "pTM", "ipTM")])),
                        html.Tbody([html.Tr([html.Td(s.seed), html.Td(s.sample), html.Td(num(s.ranking_score)),
                                             html.Td(num(s.ptm)), html.Td(num(s.iptm))]) for s in res.samples])],
                       size="sm", striped=True, className="mb-0") if res.samples else html.P("No confidences found.")
    files = html.Ul([html.Li(html.A(f"{f.path} ({f.size:,} bytes)", download="",
                                    href=f"/api/jobs/{job.id}/files/{quote(f.path)}")) for f in res.files]
                    + ([html.Li(f"… and {res.more_files} more")] if res.more_files else []),
                    className="fd-files small mb-0")
    folders = results.job_folders(job.output_path)
    plots = confidence_plots(results.best_confidences(folders[0]) if folders else None, page_id(__name__, "conf"))
    return [dbc.Card([dbc.CardHeader([html.I(className="bi bi-trophy me-2"), "Results"]),
                      dbc.CardBody([dbc.Row([dbc.Col(scores, lg=6), dbc.Col(files, lg=6)]), plots])],
                     className="mb-3", id=page_id(__name__, "results-card"))]


def not_found(job_id) -> html.Div:
    """Return the page for a job that does not exist or is not the caller's (the same page)."""
    return html.Div([html.H1("Job not found", className="h3"),
                     html.P(f"There is no job #{job_id} among your jobs."),
                     html.A("Back to your jobs", href="/")], id=NOT_FOUND)


def _buttons(job: Job) -> html.Div:
    return html.Div([
        dbc.Button([html.I(className="bi bi-stop-circle me-1"), "Cancel"], id=CANCEL, color="danger", outline=True,
                   size="sm", disabled=job.is_finished),
        dbc.Button([html.I(className="bi bi-arrow-repeat me-1"), "Retry"], id=RETRY, color="secondary",
                   outline=True, size="sm", disabled=job.state not in (JobState.FAILED, JobState.CANCELLED)),
        dbc.Button([html.I(className="bi bi-files me-1"), "Clone"], id=CLONE, color="secondary", outline=True,
                   size="sm"),
        html.A([html.I(className="bi bi-filetype-json me-1"), "Download input"], href=f"/api/jobs/{job.id}/input",
               className="btn btn-sm btn-outline-secondary", download="", id=page_id(__name__, "input")),
    ], className="d-flex gap-2 flex-wrap", role="toolbar", **{"aria-label": "Job actions"})


def layout(job_id: str | None = None, **_query) -> html.Div:
    user = account()
    try:
        job = jobs.get_job(conn(), user, int(job_id))
    except (JobNotFound, TypeError, ValueError):
        return not_found(job_id)
    modal = dbc.Modal([dbc.ModalHeader(dbc.ModalTitle("Cancel this job?")),
                       dbc.ModalBody("The run is stopped; what it wrote so far stays in its folder."),
                       dbc.ModalFooter([dbc.Button("Keep it running", id=CANCEL_KEEP, color="secondary"),
                                        dbc.Button("Cancel job", id=CANCEL_CONFIRM, color="danger")])],
                      id=CANCEL_MODAL, is_open=False)
    done = job.is_finished and joblog.last_seq(conn(), job.id) == 0
    return html.Div([
        html.A([html.I(className="bi bi-arrow-left me-1"), "All jobs"], href="/", className="small"),
        dbc.Card(dbc.CardBody([html.Div(header(job), id=HEADER), html.Div(progress_bar(job), id=PROGRESS,
                                                                           className="my-3"), _buttons(job)]),
                 className="mb-3 mt-2"),
        html.Div(id=ALERT),
        html.Div(failure(job), id=FAILURE),
        html.Div(results_section(job), id=RESULTS),
        dbc.Card([dbc.CardHeader([html.I(className="bi bi-terminal me-2"), "Log"]),
                  dbc.CardBody(cons.console(conn(), KEY, job.id, settings().console_max_lines,
                                            f"/api/jobs/{job.id}/log", live=not job.is_finished))]),
        modal,
        dcc.Location(id=NAV, refresh="callback-nav"),
        dcc.Store(id=CURSOR, data={"updated": job.updated_at, "state": job.state.value}),
        dcc.Interval(id=INTERVAL, interval=defaults.CONSOLE_POLL_MS, disabled=done),
        dcc.Interval(id=FIRST, interval=FIRST_POLL_MS, max_intervals=1),
    ], className="fd-job-page")


def tick(cursor: dict, console_cursor: dict) -> dict | None:
    """Return what changed since the cursors (None: nothing); the pure core of `refresh_job`.

    Raises:
        JobNotFound: the console cursor names no job the caller may see.
    """
    db = conn()
    job, console_cursor = cons.checked_job(db, require_account(), console_cursor)
    patch, new_console = cons.append_patch(db, KEY, job.id, console_cursor)
    cursor = cursor if isinstance(cursor, dict) else {}
    job_changed = job.updated_at != cursor.get("updated") or job.state.value != cursor.get("state")
    if patch is None and not job_changed:
        return {"stop": True} if job.is_finished else None
    out = {"job": job, "patch": patch, "console": new_console, "job_changed": job_changed,
           "stop": job.is_finished and patch is None,
           "counts": joblog.level_counts(db, job.id) if patch is not None else None}
    return out


@callback(Output(HEADER, "children"), Output(PROGRESS, "children"), Output(FAILURE, "children"),
          Output(RESULTS, "children"), Output(CANCEL, "disabled"), Output(RETRY, "disabled"),
          Output(CURSOR, "data"), Output(cons.cid("lines", KEY), "children"), Output(cons.cid("cursor", KEY), "data"),
          *[Output(cons.count_id(KEY, lv), "children") for lv in cons.LEVELS],
          Output(cons.cid("earlier-wrap", KEY), "hidden", allow_duplicate=True), Output(INTERVAL, "disabled"),
          Input(INTERVAL, "n_intervals"), Input(FIRST, "n_intervals"), State(CURSOR, "data"),
          State(cons.cid("cursor", KEY), "data"), prevent_initial_call=True)
def refresh_job(_n, _first, cursor, console_cursor):
    """Append new log lines and refresh the header when the job row moved; stop when final."""
    n_out = 11 + len(cons.LEVELS)
    try:
        change = tick(cursor, console_cursor)
    except JobNotFound:
        return (no_update,) * (n_out - 1) + (True,)
    if change is None:
        raise PreventUpdate  # nothing new: an empty 204
    if "job" not in change:
        return (no_update,) * (n_out - 1) + (True,)
    job, nu = change["job"], no_update
    moved = change["job_changed"]
    newly_final = moved and job.is_finished and cursor.get("state") != job.state.value
    counts = [f"{change['counts'][lv]:,}" for lv in cons.LEVELS] if change["counts"] else [nu] * len(cons.LEVELS)
    sent = change["patch"] is not None
    return (header(job) if moved else nu, progress_bar(job) if moved else nu,
            failure(job) if newly_final else nu, results_section(job) if newly_final else nu,
            job.is_finished if moved else nu, job.state not in (JobState.FAILED, JobState.CANCELLED) if moved else nu,
            {"updated": job.updated_at, "state": job.state.value} if moved else nu,
            change["patch"] if sent else nu, change["console"] if sent else nu, *counts,
            not cons.has_earlier(change["console"]) if sent else nu, change["stop"] or nu)


@callback(Output(cons.cid("lines", KEY), "children", allow_duplicate=True),
          Output(cons.cid("cursor", KEY), "data", allow_duplicate=True),
          Output(cons.cid("earlier-wrap", KEY), "hidden"), Input(cons.cid("earlier", KEY), "n_clicks"),
          State(cons.cid("cursor", KEY), "data"), prevent_initial_call=True)
def load_earlier(_clicks, console_cursor):
    """Prepend the page of lines before the first one shown (the job checked as in every callback here)."""
    return cons.load_earlier(KEY, console_cursor)


@callback(Output(CANCEL_MODAL, "is_open"), Input(CANCEL, "n_clicks"), Input(CANCEL_KEEP, "n_clicks"),
          Input(CANCEL_CONFIRM, "n_clicks"), prevent_initial_call=True)
def toggle_cancel(*_clicks):
    """Ask before cancelling; close on either answer."""
    return ctx.triggered_id == CANCEL


@callback(Output(ALERT, "children"), Output(NAV, "pathname"), Output(INTERVAL, "disabled", allow_duplicate=True),
          Input(CANCEL_CONFIRM, "n_clicks"), Input(RETRY, "n_clicks"), Input(CLONE, "n_clicks"),
          State(cons.cid("cursor", KEY), "data"), prevent_initial_call=True)
def act_on_job(_cancel, _retry, _clone, console_cursor):
    """Cancel, retry or clone this job; a clone opens the new job's page."""
    user = require_account()
    try:
        job_id = cons.checked_job(conn(), user, console_cursor)[0].id
        if ctx.triggered_id == CLONE:
            new = jobs.clone_job(conn(), settings(), user, job_id)
            return no_update, f"/jobs/{new.id}", no_update
        if ctx.triggered_id == RETRY:
            jobs.retry_job(conn(), user, job_id)
            message = "Queued again; the log continues below."
        else:
            job = jobs.cancel_job(conn(), user, job_id)
            message = "Stopping the job…" if job.state is JobState.RUNNING else "Job cancelled."
    except FoldDeckError as exc:
        return dbc.Alert(str(exc), color="danger", dismissable=True), no_update, no_update
    return dbc.Alert(message, color="info", dismissable=True, duration=5000), no_update, False  # polling resumes
