"""Upload (`/upload`): drop AF3 / AlphaFold Server JSON files, review every job found, queue the valid ones."""
from __future__ import annotations

import uuid

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from flask import current_app

from dash_app import ids
from dash_app import upload_state as U
from dash_app.components.engine_option import engine_check, picked
from dash_app.components.msa_option import search_again_check
from dash_app.components.terms import terms_check
from dash_app.context import conn, require_account, settings
from services import jobs
from services.platform import defaults
from services.platform.errors import FoldDeckError

dash.register_page(__name__, path="/upload", name="Upload", order=2, icon="bi-cloud-upload")

P = ids.page_id
DROP = P(__name__, "drop")
FILES = P(__name__, "files")
GRID = P(__name__, "grid")
SUBMIT_ALL = P(__name__, "submit-all")
SUBMIT_SELECTED = P(__name__, "submit-selected")
RESULT = P(__name__, "result")
KEY = P(__name__, "key")
BATCH = P(__name__, "batch")
LIMITS = P(__name__, "limits")
TERMS = P(__name__, "terms")
SEARCH_AGAIN = P(__name__, "search-again")  # issue 16: ticked, no MSA is taken from the cache
ENGINES = P(__name__, "engines")  # issue 29: the engines every job runs on
COLUMNS = [
    {"field": "name", "headerName": "Job", "flex": 2, "minWidth": 180},
    {"field": "file", "headerName": "File", "flex": 1, "minWidth": 120},
    {"field": "entities", "headerName": "Entities", "width": 100},
    {"field": "tokens", "headerName": "Tokens", "width": 100},
    {"field": "status", "headerName": "Status", "flex": 3, "wrapText": True, "autoHeight": True,
     "cellClassRules": {"text-success fw-semibold": "params.value === 'valid'",
                        "text-danger": "params.value !== 'valid'"}},
]


def layout(**_query) -> html.Div:
    """Return the drop zone, the review table and the submit buttons."""
    limits = upload_limits()
    return html.Div([
        dcc.Store(id=KEY, data=uuid.uuid4().hex),  # one key per page load: a double click queues nothing twice
        dcc.Store(id=LIMITS, data=limits),
        dcc.Store(id=BATCH),
        html.H1("Upload input files", className="h3 mb-3"),
        # no `accept`: the drop zone would drop other files without a word; they are listed as refused instead
        dcc.Upload(id=DROP, multiple=True, className="fd-drop fd-drop-lg mb-3",
                   children=html.Div([
                       html.I(className="bi bi-cloud-arrow-up fs-2 d-block"),
                       html.Span("Drop AlphaFold 3 or AlphaFold Server .json files here, or "),
                       html.Span("click to choose", className="text-decoration-underline"),
                       html.Div(f"Up to {U.human_bytes(limits['file'])} per file and "
                                f"{U.human_bytes(limits['drop'])} per drop. Nothing is queued until you submit.",
                                className="small text-muted", id=P(__name__, "limits-text")),
                   ])),
        html.Div(id=FILES, **{"aria-live": "polite"}),
        dag.AgGrid(id=GRID, columnDefs=COLUMNS, rowData=[], getRowId="params.data.key",
                   dashGridOptions={"rowSelection": {"mode": "multiRow", "enableClickSelection": False,
                                                     "checkboxes": True, "headerCheckbox": True,
                                                     "isRowSelectable": {"function": "params.data.status === 'valid'"}},
                                    "localeText": {"noRowsToShow": "No jobs yet: drop a file above."},
                                    "domLayout": "autoHeight"},
                   columnSize="responsiveSizeToFit", className="ag-theme-alpine mb-3", style={"height": None}),
        terms_check(TERMS, require_account().accepted_terms_at is not None),
        search_again_check(SEARCH_AGAIN),
        html.Div([
            dbc.Button([html.I(className="bi bi-send me-1"), "Submit all valid"], id=SUBMIT_ALL, color="success",
                       className="me-2", disabled=True),
            dbc.Button("Submit selected", id=SUBMIT_SELECTED, color="success", outline=True, disabled=True),
            engine_check(ENGINES),
        ], className="mb-3"),
        html.Div(id=RESULT),
    ], className="fd-upload")


def upload_limits() -> dict[str, int]:
    """Return the per-file cap, what one callback request may carry (Flask answers 413 beyond it) and the file
    bytes that makes per drop (base64 inflates them by a third), in the round figure the page states."""
    cap = settings().upload_max_bytes
    request = current_app.config.get("MAX_CONTENT_LENGTH") or 4 * cap
    request = max(cap, request - defaults.UPLOAD_REQUEST_HEADROOM_BYTES)
    return {"file": cap, "request": request, "drop": U.drop_capacity(request)}


# dcc.Upload's own max_size drops an oversized file without a word (its onDrop only sees accepted files), so the
# browser splits the drop here instead: a file over the cap, or past what one request carries, is named but not
# sent. Only this store goes to the server; the raw `contents` never do.
SPLIT_BATCH = """function(contents, names, limits) {
    if (!contents) { return dash_clientside.no_update; }
    let sent = 0;  // file bytes: the stated per-drop figure (limits.drop) is what the check counts
    // FileReader finishes in any order; name order makes which files fit in one request predictable
    const order = names.map(function(n, i) { return i; });
    order.sort(function(a, b) { return names[a] < names[b] ? -1 : (names[a] > names[b] ? 1 : 0); });
    return order.map(function(i) {
        const body = contents[i];
        const comma = body.indexOf(',') + 1;
        const pad = body.endsWith('==') ? 2 : (body.endsWith('=') ? 1 : 0);
        const bytes = Math.max(0, Math.floor((body.length - comma) * 3 / 4) - pad);
        const file = {name: names[i], bytes: bytes, contents: null, skipped: null};
        // JSON, and the MSA, template and CCD files a job may name (dash_app.upload_state.ATTACHMENT)
        const named = /[.](a3m|cif|mmcif)([.](gz|xz))?$/i;
        const sendable = /[.]json$/i.test(names[i]) || named.test(names[i]);
        if (!sendable) { file.skipped = 'type'; }
        else if (bytes > limits.file) { file.skipped = 'size'; }
        else if (sent + bytes > limits.drop) { file.skipped = 'batch'; }
        else { file.contents = body; sent += bytes; }
        return file;
    });
}"""
clientside_callback(SPLIT_BATCH, Output(BATCH, "data"), Input(DROP, "contents"), State(DROP, "filename"),
                    State(LIMITS, "data"), prevent_initial_call=True)


@callback(
    Output(FILES, "children"),
    Output(GRID, "rowData"),
    Output(SUBMIT_ALL, "disabled"),
    Output(SUBMIT_ALL, "children"),
    Output(RESULT, "children", allow_duplicate=True),
    Input(BATCH, "data"),
    prevent_initial_call=True,
)
def review_files(batch):
    """Parse the dropped files and list every job found, valid or not."""
    results = read(batch)
    rows = [r.table_row() for f in results for r in f.rows]
    n_valid = len(U.valid_rows(results))
    return (file_messages(results), rows, n_valid == 0,
            [html.I(className="bi bi-send me-1"), f"Submit all valid ({n_valid})"], None)


def read(batch: list[dict] | None) -> list[U.FileResult]:
    """Read the batch with the server's own limits (the browser's figures only word the messages)."""
    limits = upload_limits()
    mine = jobs.effective_limits(conn(), require_account().id)
    results = U.read_batch(batch, limits["file"], limits["drop"], mine.jobs_per_submit, mine.tokens_per_job)
    U.bind_rows(results, settings().shared_input_dirs)
    return results


def file_messages(results: list[U.FileResult]) -> list:
    """Return one line per file: how many jobs it holds, or why it cannot be read."""
    out = []
    for f in results:
        if f.attachment is not None:
            out.append(dbc.Alert([html.I(className="bi bi-paperclip me-1"), html.Strong(f.name + ": "),
                                  f"{U.human_bytes(len(f.attachment))}, sent with the jobs whose input names it"],
                                 color="light", className="py-2 mb-2 fd-file-attachment"))
        elif f.error:
            out.append(dbc.Alert([html.I(className="bi bi-x-octagon me-1"), html.Strong(f.name + ": "), f.error],
                                 color="danger", className="py-2 mb-2 fd-file-error"))
        else:
            valid = sum(r.valid for r in f.rows)
            icon = ("bi-file-earmark-check text-success" if valid == len(f.rows)
                    else "bi-exclamation-triangle text-warning")
            out.append(html.Div([html.I(className=f"bi {icon} me-1"), html.Strong(f.name),
                                 f": {len(f.rows)} job(s), {valid} valid"], className="small mb-1 fd-file-ok"))
    return out


@callback(
    Output(SUBMIT_SELECTED, "disabled"),
    Input(GRID, "selectedRows"),
)
def enable_selected(selected):
    """Allow "Submit selected" only when valid rows are selected."""
    return not selected


@callback(
    Output(RESULT, "children"),
    Output(SUBMIT_ALL, "disabled", allow_duplicate=True),
    Input(SUBMIT_ALL, "n_clicks"),
    Input(SUBMIT_SELECTED, "n_clicks"),
    State(BATCH, "data"),
    State(GRID, "selectedRows"),
    State(KEY, "data"),
    State(TERMS, "value"),
    State(SEARCH_AGAIN, "value"),
    State(ENGINES, "value"),
    prevent_initial_call=True,
)
def submit_uploads(_all, _selected, batch, selected, key, accepted, search_again=False, engines=None):
    """Re-read the files on the server and queue the valid jobs (all, or the selected ones)."""
    if not any(t.get("value") for t in ctx.triggered):
        return no_update, no_update
    keys = [r["key"] for r in selected or []] if ctx.triggered_id == SUBMIT_SELECTED else None
    try:
        queued = submit_rows(read(batch), keys, key, bool(accepted), reuse_msa=not search_again,
                             engines=picked(engines))
    except FoldDeckError as exc:  # each problem on its own line: an engine's refusal says which and why
        reasons = [p for p in getattr(exc, "problems", []) if isinstance(p, str)]
        return dbc.Alert([str(exc), html.Ul([html.Li(p) for p in reasons], className="mb-0")] if reasons
                         else str(exc), color="danger", className="py-2"), no_update
    if not queued:
        return dbc.Alert("Nothing to submit: no valid job is selected.", color="warning", className="py-2"), no_update
    links = [html.Li([dcc.Link(f"#{j.id} {j.name}" + (f" ({j.engine})" if j.engine_group else ""),
                               href=f"/jobs/{j.id}")]
                     + ([" · ", dcc.Link("compare engines", href=f"/jobs/{j.id}/compare")]
                        if j.engine_group == j.id else [])) for j in queued]
    return dbc.Alert([html.I(className="bi bi-check-circle me-1"), f"{len(queued)} job(s) queued.",
                      html.Ul(links, className="mb-0")],
                     color="success", className="py-2", id=P(__name__, "queued")), True


def submit_rows(results: list[U.FileResult], keys: list[str] | None, key: str | None, accepted: bool, *,
                reuse_msa: bool = True, engines: list[str] | None = None) -> list:
    """Queue the chosen valid jobs of files read again on the server (never trust the browser's table).

    All or nothing, in one transaction: a refused job leaves none of the others queued. `reuse_msa=False`:
    the owner ticked "Search MSAs again".
    """
    rows, files = U.valid_rows(results, keys), U.attachments(results)
    items = [jobs.NewJob(r.af3, r.name or None, f"upload-{key}-{r.key}" if key else None,
                         f"{r.file}, job {int(r.key.split(':')[1]) + 1}" + (f" ({r.name})" if r.name else ""),
                         files=files)
             for r in rows]
    items = jobs.engine_items(settings(), items, engines or ["af3"])  # one per engine, grouped (issue 29)
    return jobs.submit_many(conn(), settings(), require_account(), items, accept_terms=accepted, via="upload",
                            reuse_msa=reuse_msa)
