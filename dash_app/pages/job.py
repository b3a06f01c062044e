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

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, Patch, State, callback, clientside_callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.components import console as cons
from dash_app.components.jobs import job_manage as jm
from dash_app.components.jobs.job_grid import fmt_duration
from dash_app.components.jobs.state_badge import state_badge
from dash_app.components.results import results_plots as rp
from dash_app.components.results import results_view as rv
from dash_app.components.results import structure_viewer as sv
from dash_app.components.results.engine_results import engine_body
from dash_app.context import account, conn, require_account, settings
from dash_app.ids import page_id
from services import jobs, results
from services.af3.runlog import failures
from services.jobs import Job, JobState, joblog
from services.jobs.rules import waiting, wording
from services.jobs.rules.wording import cancel_wording
from services.operations.result_import import IMPORTED_HOST, has_input
from services.platform import defaults
from services.platform.errors import FoldDeckError, JobNotFound

dash.register_page(__name__, path_template="/jobs/<job_id>", name="Job", nav=False)

KEY = "job"  # the console's key on this page
HEADER, PROGRESS, FAILURE, RESULTS = (page_id(__name__, x) for x in ("header", "progress", "failure", "results"))
INTERVAL, CURSOR, ALERT, NAV = (page_id(__name__, x) for x in ("interval", "cursor", "alert", "nav"))
FIRST = page_id(__name__, "first-poll")
FIRST_POLL_MS = 50  # the first poll right after the page renders: the log shows without waiting a full tick
CANCEL, RETRY, CLONE = (page_id(__name__, x) for x in ("cancel", "retry", "clone"))
CANCEL_MODAL, CANCEL_CONFIRM, CANCEL_KEEP = (page_id(__name__, x) for x in ("cancel-modal", "cancel-confirm",
                                                                           "cancel-keep"))
CANCEL_BODY = page_id(__name__, "cancel-body")
NOT_FOUND = page_id(__name__, "not-found")
STEPS, MSA_REUSED = page_id(__name__, "steps"), page_id(__name__, "msa-reused")  # issue 16: the two stages
jm.register_callbacks()  # delete, rename, pin (issue 18)


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
    if job.engine_group is not None or job.engine != "af3":  # issue 29: one input on several engines
        facts.append(("Engine", html.Span([job.engine, " · ", html.A("compare engines", href=f"/jobs/{job.id}/compare")]
                                          if job.engine_group is not None else job.engine)))
    return [html.Div([html.H1([f"#{job.id} ", job.name], className="h4 mb-0 me-3 text-break"),
                      state_badge(job.state, job.cancel_requested, id=page_id(__name__, "state"))],
                     className="d-flex align-items-center flex-wrap gap-2 mb-2"),
            # one <div> per fact (HTML allows it in a <dl>): the grid places pairs, so a label stays on its value
            html.Dl([html.Div([html.Dt(k), html.Dd(v)], className="fd-fact") for k, v in facts],
                    className="fd-facts mb-0")]


def slurm_facts(job: Job) -> list[tuple[str, object]]:
    """Return the Slurm line of an attempt run through Slurm: pending reason or node, job id, the batch script."""
    row = jobs.current_attempts(conn(), [job]).get(job.id)
    if row is None:
        return []
    script = f"/api/jobs/{job.id}/slurm-script"
    return [("Slurm", html.Span([html.Span(row.describe(), id=page_id(__name__, "slurm")), " · ",
                                 html.A("batch script", href=script, target="_blank"), " (",
                                 html.A("download", href=f"{script}?download=1", download=""), ")"]))]


def progress_bar(job: Job, paused: bool = False) -> list:
    """Return the stage bar: the stage and detail parsed from the log, and the fraction done."""
    pct = round(job.progress * 100)
    color = {"failed": "danger", "cancelled": "warning", "succeeded": "success"}.get(job.state.value, "primary")
    why = waiting.reason(conn(), settings(), job) if job.state is JobState.QUEUED and not paused else ""
    text = wording.progress_text(job, paused, why, _slurm_pending(job))
    return [*stage_steps(job),
            html.Div([html.Span(text, id=page_id(__name__, "stage")), html.Span(f"{pct}%", className="ms-auto")],
                     className="d-flex small mb-1"),
            dbc.Progress(value=pct, color=color, striped=job.state is JobState.RUNNING,
                         animated=job.state is JobState.RUNNING, style={"height": "0.75rem"},
                         id=page_id(__name__, "bar"))]


def _slurm_pending(job: Job) -> str | None:
    """Return Slurm's pending reason ("" when it gives none) for a claimed job Slurm has not started, else None."""
    if job.state is not JobState.RUNNING:
        return None
    row = jobs.current_attempts(conn(), [job]).get(job.id)
    return (row.reason or "") if row is not None and row.pending else None


def stage_steps(job: Job) -> list:
    """Return the two-step line and one line per reused entity (nothing for a one-slot run without the cache)."""
    steps = wording.steps_line(job)
    if steps is None:
        return []
    line, reused = steps
    reused_rows = [html.Div([html.I(className="bi bi-recycle me-1"), text]) for text in reused]
    return [html.Div(line, id=STEPS, className="small fw-semibold mb-1"),
            html.Div(reused_rows, id=MSA_REUSED, className="small text-muted mb-1") if reused_rows else None]


def failure(job: Job) -> list:
    """Return a failed job's summary: a plain sentence and the AF3 line behind it (the traceback stays in the log)."""
    if job.state is not JobState.FAILED:
        return []
    tail = joblog.error_tail(conn(), job.id, failures.LOG_LINES)
    summary = failures.summarise(job.error or (f"AlphaFold exited with status {job.exit_code}"
                                               if job.exit_code is not None else None),
                                 [x.text for x in tail], job.stage)
    return [dbc.Alert([html.H2([html.I(className="bi bi-x-octagon me-2"), "This job failed"], className="h6"),
                       html.P(summary.headline, className="mb-1 fw-semibold", id=page_id(__name__, "error-headline")),
                       html.Code(summary.detail, className="d-block mb-1 fd-error-detail text-break")
                       if summary.detail else None,
                       html.P([summary.hint + " " if summary.hint else "", "The full output, traceback included, is "
                               "in the log below."], className="small mb-0")],
                      color="danger", id=page_id(__name__, "error"))]


def results_section(job: Job) -> list:
    """Return the results card of a succeeded job as a placeholder; `fill_results` fills it after first paint."""
    if job.state is not JobState.SUCCEEDED:
        return []
    return rv.placeholder("Imported results (read-only)" if job.host == IMPORTED_HOST else "Results")


def not_found(job_id) -> html.Div:
    """Return the page for a job that does not exist or is not the caller's (the same page)."""
    return html.Div([html.H1("Job not found", className="h3"),
                     html.P(f"There is no job #{job_id} among your jobs."),
                     html.A("Back to your jobs", href="/")], id=NOT_FOUND)


def clone_href(job_id: int) -> str:
    """Return the builder address that opens a copy of the job's input."""
    return f"/builder?clone={int(job_id)}"


NO_INPUT = ("These results were imported without their input (the zip held no _data.json or job request), "
            "so there is nothing to clone or download.")


def _input_actions(job: Job) -> list:
    """Return Clone and Download input; disabled, saying why, for results imported without an input."""
    if job.host == IMPORTED_HOST and not has_input(job):
        return [html.Span(dbc.Button([html.I(className="bi bi-files me-1"), "Clone"], id=CLONE, color="secondary",
                                     outline=True, size="sm", disabled=True), title=NO_INPUT, tabIndex=0),
                html.Span(dbc.Button([html.I(className="bi bi-filetype-json me-1"), "Download input"],
                                     id=page_id(__name__, "input"), color="secondary", outline=True, size="sm",
                                     disabled=True), title=NO_INPUT, tabIndex=0),
                html.Span("No input was imported with these results.", className="small text-muted align-self-center",
                          id=page_id(__name__, "no-input"))]
    return [
        # a link, not an action: the builder opens with this job's input, and nothing is queued until Submit
        dbc.Button([html.I(className="bi bi-files me-1"), "Clone"], id=CLONE, color="secondary", outline=True,
                   size="sm", href=clone_href(job.id), title="Open a copy of this job's input in the builder"),
        html.A([html.I(className="bi bi-filetype-json me-1"), "Download input"], href=f"/api/jobs/{job.id}/input",
               className="btn btn-sm btn-outline-secondary", download="", id=page_id(__name__, "input"))]


def _buttons(job: Job) -> html.Div:
    return html.Div([
        dbc.Button([html.I(className="bi bi-stop-circle me-1"), "Cancel"], id=CANCEL, color="danger", outline=True,
                   size="sm", disabled=job.is_finished),
        dbc.Button([html.I(className="bi bi-arrow-repeat me-1"), "Retry"], id=RETRY, color="secondary",
                   outline=True, size="sm", disabled=job.state not in (JobState.FAILED, JobState.CANCELLED)),
        *_input_actions(job),
    ], className="d-flex gap-2 flex-wrap fd-actions", role="toolbar", **{"aria-label": "Job actions"})


def imported_notice(imported: str | None) -> list:
    """Return the note shown after a zip that held several results was imported as one job each."""
    ids = [int(x) for x in (imported or "").split(",") if x.strip().isdigit()][:1000]
    if len(ids) < 2:
        return []
    links = [html.A(f"#{i}", href=f"/jobs/{i}", className="me-1") for i in ids]
    return [dbc.Alert([f"The zip held {len(ids)} AlphaFold 3 results; each was imported as its own job: ", *links],
                      color="info", className="py-2 small", id=page_id(__name__, "imported"))]


def layout(job_id: str | None = None, imported: str | None = None, **_query) -> html.Div:
    user = account()
    try:
        job = jobs.get_job(conn(), user, int(job_id))
    except (JobNotFound, TypeError, ValueError):
        return not_found(job_id)
    body, keep = cancel_wording(job.state)
    modal = dbc.Modal([dbc.ModalHeader(dbc.ModalTitle("Cancel this job?")),
                       dbc.ModalBody(body, id=CANCEL_BODY),
                       dbc.ModalFooter([dbc.Button(keep, id=CANCEL_KEEP, color="secondary"),
                                        dbc.Button("Cancel job", id=CANCEL_CONFIRM, color="danger")])],
                      id=CANCEL_MODAL, is_open=False)
    done = job.is_finished and joblog.last_seq(conn(), job.id) == 0
    paused = job.state is JobState.QUEUED and jobs.queue_paused(conn())
    return html.Div([
        html.A([html.I(className="bi bi-arrow-left me-1"), "All jobs"], href="/", className="small"),
        dbc.Card(dbc.CardBody([html.Div(header(job), id=HEADER), html.Div(progress_bar(job, paused), id=PROGRESS,
                                                                           className="my-3"), _buttons(job),
                               jm.manage_bar(job)]),
                 className="mb-3 mt-2"),
        html.Div(imported_notice(imported), id=ALERT),
        html.Div(jm.notices(job), id=jm.NOTICES),
        html.Div(failure(job), id=FAILURE),
        html.Div(results_section(job), id=RESULTS),
        dbc.Card([dbc.CardHeader([html.I(className="bi bi-terminal me-2"), "Log"]),
                  dbc.CardBody(cons.console(conn(), KEY, job.id, settings().console_max_lines,
                                            f"/api/jobs/{job.id}/log", live=not job.is_finished))]),
        modal,
        dcc.Location(id=NAV, refresh="callback-nav"),
        dcc.Store(id=CURSOR, data={"updated": job.updated_at, "state": job.state.value, "paused": paused,
                                   "steps": steps_signature(job)}),
        dcc.Interval(id=INTERVAL, interval=defaults.CONSOLE_POLL_MS, disabled=done),
        dcc.Interval(id=FIRST, interval=FIRST_POLL_MS, max_intervals=1),
    ], className="fd-job-page")


def steps_signature(job: Job) -> str:
    """Return what the two-step line hangs on ("" for a one-slot run): a stage change redraws the bar."""
    return f"{job.phase}|{bool(job.data_json)}|{job.msa_reused or ''}" if wording.runs_in_stages(job) else ""


def tick(cursor: dict, console_cursor: dict) -> dict | None:
    """Return what changed since the cursors (None: nothing); the pure core of `refresh_job`.

    Raises:
        JobNotFound: the console cursor names no job the caller may see.
    """
    db = conn()
    job, console_cursor = cons.checked_job(db, require_account(), console_cursor)
    patch, new_console = cons.append_patch(db, KEY, job.id, console_cursor)
    cursor = cursor if isinstance(cursor, dict) else {}
    paused = job.state is JobState.QUEUED and jobs.queue_paused(db)  # an admin's pause changes no job row
    job_changed = (job.updated_at != cursor.get("updated") or job.state.value != cursor.get("state")
                   or paused != bool(cursor.get("paused")) or steps_signature(job) != (cursor.get("steps") or ""))
    if patch is None and not job_changed:
        return {"stop": True} if job.is_finished else None
    out = {"job": job, "patch": patch, "console": new_console, "job_changed": job_changed, "paused": paused,
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
    return (header(job) if moved else nu, progress_bar(job, change["paused"]) if moved else nu,
            failure(job) if newly_final else nu, results_section(job) if newly_final else nu,
            job.is_finished if moved else nu, job.state not in (JobState.FAILED, JobState.CANCELLED) if moved else nu,
            {"updated": job.updated_at, "state": job.state.value, "paused": change["paused"],
             "steps": steps_signature(job)} if moved else nu,
            change["patch"] if sent else nu, change["console"] if sent else nu, *counts,
            not cons.has_earlier(change["console"]) if sent else nu, change["stop"] or nu)


@callback(Output(cons.cid("lines", KEY), "children", allow_duplicate=True),
          Output(cons.cid("cursor", KEY), "data", allow_duplicate=True),
          Output(cons.cid("earlier-wrap", KEY), "hidden"), Input(cons.cid("earlier", KEY), "n_clicks"),
          State(cons.cid("cursor", KEY), "data"), prevent_initial_call=True)
def load_earlier(_clicks, console_cursor):
    """Prepend the page of lines before the first one shown (the job checked as in every callback here)."""
    return cons.load_earlier(KEY, console_cursor)


@callback(Output(CANCEL_MODAL, "is_open"), Output(CANCEL_BODY, "children"), Output(CANCEL_KEEP, "children"),
          Input(CANCEL, "n_clicks"), Input(CANCEL_KEEP, "n_clicks"), Input(CANCEL_CONFIRM, "n_clicks"),
          State(CURSOR, "data"), prevent_initial_call=True)
def toggle_cancel(_cancel, _keep, _confirm, cursor):
    """Ask before cancelling, in words for the job's state as last seen; close on either answer."""
    if ctx.triggered_id != CANCEL:
        return False, no_update, no_update
    return (True, *cancel_wording((cursor or {}).get("state")))


@callback(Output(ALERT, "children"), Output(NAV, "pathname"), Output(INTERVAL, "disabled", allow_duplicate=True),
          Input(CANCEL_CONFIRM, "n_clicks"), Input(RETRY, "n_clicks"),
          State(cons.cid("cursor", KEY), "data"), prevent_initial_call=True)
def act_on_job(_cancel, _retry, console_cursor):
    """Cancel or retry this job (Clone is a link to the builder); the job is the checked one of the console."""
    user = require_account()
    try:
        job_id = cons.checked_job(conn(), user, console_cursor)[0].id
        if ctx.triggered_id == RETRY:
            message = wording.retried(jobs.retry_job(conn(), user, job_id, settings())) + " The log continues below."
        else:
            message = wording.cancelled(jobs.cancel_job(conn(), user, job_id))
    except FoldDeckError as exc:
        return dbc.Alert(str(exc), color="danger", dismissable=True), no_update, no_update
    return dbc.Alert(message, color="info", dismissable=True, duration=5000), no_update, False  # polling resumes


# -- results (issue 14): filled after first paint, one sample at a time, linked views -------------


def _results_job(console_cursor) -> Job:
    """Return the page's job, checked against the caller like every other callback here (JobNotFound)."""
    return cons.checked_job(conn(), require_account(), console_cursor)[0]


clientside_callback(sv.LOAD_MOLSTAR_JS, Output(rv.MOLSTAR_READY, "data"), Input(rv.MOLSTAR_URL, "data"))


@callback(Output(rv.BODY, "children"), Input(rv.MOLSTAR_READY, "data"), State(cons.cid("cursor", KEY), "data"))
def fill_results(_ready, console_cursor):
    """Read the output folder once the page is up: chooser, scores and files (the sample views follow)."""
    try:
        job = _results_job(console_cursor)
    except JobNotFound:
        raise PreventUpdate from None
    if job.engine != "af3":  # another engine's layout: its own reader (issue 29)
        return engine_body(settings(), job)
    return rv.body(job.id, results.read_results(job.output_path))


@callback(Output(rv.VIEWER, "data"), Input(rv.SAMPLE, "value"), Input(rv.COLOUR, "value"),
          State(cons.cid("cursor", KEY), "data"))
def show_model(key, colour_by, console_cursor):
    """Load the chosen sample's model into the viewer, coloured by pLDDT band or by chain."""
    try:
        job = _results_job(console_cursor)
    except JobNotFound:
        raise PreventUpdate from None
    return rv.sample_model(job.id, job.output_path, key, colour_by or "plddt")


@callback(Output(rv.PAE_FIG, "data"), Output(rv.PLDDT, "figure"), Output(rv.IPTM, "figure"),
          Output(rv.PAEMIN, "figure"), Output(rv.TROUBLE, "children"), Output(rv.TOKENS, "data"),
          Output(rv.NOTE, "children"), Output(rv.CHAINS, "children"), Input(rv.SAMPLE, "value"),
          State(cons.cid("cursor", KEY), "data"))
def show_sample(key, console_cursor):
    """Switch PAE, pLDDT, chain-pair matrices and warnings to the chosen sample (apart from the model:
    a large sample's PAE is parsed on its first visit, and the model should not wait for that)."""
    try:
        job = _results_job(console_cursor)
    except JobNotFound:
        raise PreventUpdate from None
    view = rv.sample_view(job.id, job.output_path, key, cache_dir=settings().data_dir / defaults.RESULTS_CACHE_DIR)
    return view.pae, view.plddt, view.iptm, view.pae_min, view.trouble, view.tokens, view.note, view.chains


def _box(selected: dict | None) -> list[tuple[float, float]]:
    """Return the token ranges (scored x, aligned y) of a PAE box selection ([] when cleared)."""
    rng = (selected or {}).get("range") or {}
    return [tuple(rng[a]) for a in ("x", "y") if a in rng]


@callback(Output(rv.VIEWER, "selection"), Output(rv.PLDDT, "figure", allow_duplicate=True),
          Output(rv.LINKED, "children"), Input(rv.PAE, "selectedData"), State(rv.TOKENS, "data"),
          prevent_initial_call=True)
def link_pae_box(selected, tokens):
    """Highlight the residues of both axes of a PAE box in 3D and in the pLDDT plot."""
    if not tokens:
        raise PreventUpdate
    ranges = _box(selected)
    patch = Patch()
    patch["layout"]["shapes"] = rp.plddt_shapes(tokens["chains"], tokens["n"], ranges)
    picked = sv.residues_in(tokens, ranges)
    text = f"Selected: {sv.describe(picked)}" if picked else ""
    return sv.selection(tokens, ranges), patch, text


@callback(Output(rv.VIEWER, "focus"), Output(rv.PAE, "figure", allow_duplicate=True),
          Input(rv.PLDDT, "clickData"), State(rv.TOKENS, "data"), prevent_initial_call=True)
def link_plddt_click(click, tokens):
    """Focus the clicked residue in 3D and mark its row and column in the PAE."""
    points = (click or {}).get("points") or []
    if not tokens or not points:
        raise PreventUpdate
    index = int(points[0]["x"])
    patch = Patch()
    patch["layout"]["shapes"] = rp.pae_shapes(tokens["chains"], tokens["n"], index)
    return sv.focus(tokens, index), patch


@callback(Output(rv.PAE, "figure", allow_duplicate=True), Output(rv.PLDDT, "figure", allow_duplicate=True),
          Input(rv.VIEWER, "focus"), State(rv.TOKENS, "data"), prevent_initial_call=True)
def link_structure_click(focus, tokens):
    """Mark the residue clicked in 3D (Mol* reports its focus) in the PAE and the pLDDT plot."""
    index = sv.token_of(tokens or {}, focus) if tokens else None
    if index is None:
        raise PreventUpdate
    pae, plddt = Patch(), Patch()
    pae["layout"]["shapes"] = rp.pae_shapes(tokens["chains"], tokens["n"], index)
    plddt["layout"]["shapes"] = rp.plddt_shapes(tokens["chains"], tokens["n"], [(index, index)])
    return pae, plddt


clientside_callback(rp.LOAD_PAE_JS, Output(rv.PAE, "figure"), Input(rv.PAE_FIG, "data"))

# The PAE's hover, in residues: the pixel under the pointer read back through the token map.
clientside_callback(rp.PAE_HOVER_JS, Output(rv.PAE_HOVER, "children"), Input(rv.PAE, "hoverData"),
                    State(rv.TOKENS, "data"))


# The viewer reports what Mol* really selected as {chains: [...]}: residues per chain, e.g. "A:11,B:5".
clientside_callback(
    """(sel) => ((sel && (sel.chains || (sel.targets || []).flatMap(t => t.chains || []))) || [])
        .map(c => c.name + ':' + (c.residues || []).length).join(',')""",
    Output(rv.VIEWER_SEL, "children"), Input(rv.VIEWER, "selection"))
