"""Delete, rename and pin a job (issue 18), and the notices a job's owner must read.

A bar for the job page (which calls `register_callbacks`): its callback takes the job id from the
console's cursor and checks it against the logged-in user (`cons.checked_job`), like every other
callback of the page.
"""
from __future__ import annotations

import time

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.components import console as cons
from dash_app.context import conn, require_account, settings
from services import jobs
from services.jobs import Job
from services.jobs.rules import approval
from services.operations import job_removal, retention
from services.platform.errors import FoldDeckError

KEY = "job"  # the job page's console key
PIN, RENAME, RENAME_SAVE, DELETE = "job-pin", "job-rename", "job-rename-save", "job-delete"
DELETE_MODAL, DELETE_CONFIRM, DELETE_KEEP = "job-delete-modal", "job-delete-confirm", "job-delete-keep"
ALERT, NAV, NOTICES = "job-manage-alert", "job-manage-nav", "job-notices"


def _pin_label(pinned: int) -> list:
    return [html.I(className="bi bi-pin-angle me-1"), "Unpin" if pinned else "Pin (keep outputs)"]


def manage_bar(job: Job) -> html.Div:
    """Return rename field, pin toggle and delete button (delete asks first)."""
    modal = dbc.Modal([dbc.ModalHeader(dbc.ModalTitle("Delete this job?")),
                       dbc.ModalBody("Its input, outputs and log are removed for good."),
                       dbc.ModalFooter([dbc.Button("Keep it", id=DELETE_KEEP, color="secondary"),
                                        dbc.Button("Delete job", id=DELETE_CONFIRM, color="danger")])],
                      id=DELETE_MODAL, is_open=False)
    return html.Div([
        dbc.InputGroup([dbc.Input(id=RENAME, value=job.name, maxLength=jobs.manage.NAME_MAX, size="sm",
                                  placeholder="Job name"),
                        dbc.Button("Rename", id=RENAME_SAVE, color="secondary", outline=True, size="sm")],
                       size="sm", style={"maxWidth": "24rem"}),
        dbc.Button(_pin_label(job.pinned), id=PIN, color="secondary", outline=True, size="sm"),
        dbc.Button([html.I(className="bi bi-trash me-1"), "Delete"], id=DELETE, color="danger", outline=True,
                   size="sm", disabled=not job.is_finished,
                   title="" if job.is_finished else "Cancel the job before deleting it."),
        modal, dcc.Location(id=NAV, refresh=True), html.Div(id=ALERT, className="w-100"),
    ], className="d-flex gap-2 flex-wrap mt-2 align-items-start", role="toolbar",
        **{"aria-label": "Manage job"})


def notices(job: Job, now: float | None = None) -> list:
    """Return the alerts the owner must read: approval, rejection note, retention warning or purge."""
    out = []
    if job.approval == "pending" and job.state.value == "queued":
        out.append(dbc.Alert(f"Waiting: {approval.AWAITING} by an admin (large job, {job.tokens:,} tokens).",
                             color="warning", className="py-2"))
    if job.approval == "rejected":
        out.append(dbc.Alert(f"An admin rejected this job: {job.approval_note}", color="danger", className="py-2"))
    if job.purged_at:
        day = time.strftime("%Y-%m-%d", time.localtime(job.purged_at))
        out.append(dbc.Alert(f"Outputs deleted by retention on {day}; the input and log are kept.",
                             color="secondary", className="py-2"))
    else:
        text = retention.warning_text(retention.expiring(conn(), settings(), require_account(), now, job.id)
                                      if job.owner_id == require_account().id else [], now)
        if text:
            out.append(dbc.Alert(text, color="warning", className="py-2"))
    return out


def register_callbacks() -> None:
    """Register this bar's callbacks; the job page calls it (pages are set up per app, a module only once)."""
    callback(Output(DELETE_MODAL, "is_open"), Input(DELETE, "n_clicks"), Input(DELETE_KEEP, "n_clicks"),
             Input(DELETE_CONFIRM, "n_clicks"), prevent_initial_call=True)(toggle_delete)
    callback(Output(ALERT, "children"), Output(NAV, "href"), Output(PIN, "children"),
             Input(DELETE_CONFIRM, "n_clicks"), Input(RENAME_SAVE, "n_clicks"), Input(PIN, "n_clicks"),
             State(RENAME, "value"), State(cons.cid("cursor", KEY), "data"), prevent_initial_call=True)(manage_job)


def toggle_delete(*_clicks):
    """Ask before deleting; close on either answer."""
    return ctx.triggered_id == DELETE


def manage_job(_delete, _rename, _pin, name, console_cursor):
    """Delete (then go to the job list), rename or pin/unpin the page's job."""
    user = require_account()
    try:
        job = cons.checked_job(conn(), user, console_cursor)[0]
        if ctx.triggered_id == DELETE_CONFIRM:
            job_removal.delete_job(conn(), settings(), user, job.id)
            return no_update, "/", no_update
        if ctx.triggered_id == RENAME_SAVE:
            jobs.rename_job(conn(), user, job.id, name or "")
            return dbc.Alert("Renamed.", color="info", dismissable=True, duration=4000), no_update, no_update
        job = jobs.pin_job(conn(), user, job.id, not job.pinned)
        message = "Pinned: retention keeps its outputs." if job.pinned else "Unpinned."
        return dbc.Alert(message, color="info", dismissable=True, duration=4000), no_update, _pin_label(job.pinned)
    except FoldDeckError as exc:
        return dbc.Alert(str(exc), color="danger", dismissable=True), no_update, no_update
