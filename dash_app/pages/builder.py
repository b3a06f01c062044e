"""Builder (`/builder`): make an AlphaFold 3 input by filling cards, with live JSON, problems and size.

The form's state lives in the browser (`STATE` store); every change is sent to the server, which
translates it (dash_app.builder), validates it with the AF3 library and answers in milliseconds. This
module is the page: its layout and callbacks; what they render and decide lives in `dash_app.builder`.
"""
from __future__ import annotations

import json
import uuid

import dash
import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dash_app import builder as B
from dash_app import ids
from dash_app.builder import entity_card as EC
from dash_app.builder.cards import add_bar, bond_rows, bonds_card, job_card, live_panel, seed_chips, start_card
from dash_app.builder.feedback import error_alert, field_feedback, live_outputs
from dash_app.builder.ids import (
    ADD,
    BOND_ADD,
    BOND_CHAIN,
    BOND_DEL,
    BOND_PART,
    BOND_RES,
    BONDS,
    CARDS,
    CLONE_LOAD,
    CLONE_PICK,
    DIALECT,
    DOWNLOAD,
    DOWNLOAD_BTN,
    ENGINES,
    FASTA_APPLY,
    FASTA_TEXT,
    FASTA_UPLOAD,
    FILES_UPLOAD,
    FOCUS_SINK,
    FOLDER,
    JSON_UPLOAD,
    MESSAGE,
    NAME,
    NOT_BEFORE,
    PREVIEW,
    PROBLEM,
    PROBLEMS,
    SEARCH_AGAIN,
    SEED_ADD,
    SEED_DEL,
    SEED_INPUT,
    SEED_RANDOM,
    SEEDS,
    SIZE,
    STATE,
    SUBMIT,
    SUBMIT_ERROR,
    SUBMIT_HINT,
    SUBMIT_KEY,
    TARGETS,
    TERMS_ACCEPT,
)
from dash_app.builder.prefill import decode_upload, restructure, state_from_job
from dash_app.builder.submit import parse_not_before, submit_state
from dash_app.components.engine_option import picked
from dash_app.context import conn, require_account
from services import jobs
from services.af3 import rules as R
from services.af3 import safe_filename
from services.af3.chem.ccd import try_ccd
from services.platform import defaults
from services.platform.errors import FoldDeckError

dash.register_page(__name__, path="/builder", name="Builder", order=1, icon="bi-ui-checks-grid")


# -- layout ----------------------------------------------------------------------------------------------


def layout(clone: str | None = None, **_query) -> html.Div:
    """Return the builder, pre-filled from one of the user's jobs when `?clone=<id>` is given."""
    state, message = B.empty_state(), None
    if clone:
        state, message = state_from_job(clone)
    return html.Div([
        dcc.Store(id=STATE, data=state),
        dcc.Store(id=TARGETS, data=[]),
        dcc.Store(id=FOCUS_SINK),
        dcc.Store(id=SUBMIT_KEY, data=uuid.uuid4().hex),  # one key per page load: a double click queues one job
        dcc.Download(id=DOWNLOAD),
        html.Div([html.H1("Build a fold job", className="h3 mb-0"),
                  html.Span("Fill the cards; the JSON, problems and size update as you type.",
                            className="text-muted ms-3 d-none d-lg-inline")],
                 className="d-flex align-items-center mb-3"),
        html.Div(message, id=MESSAGE),
        dbc.Row([
            dbc.Col([job_card(state), start_card(), html.Div([EC.entity_card(e, i) for i, e in
                                                               enumerate(state["entities"])], id=CARDS),
                     add_bar(), bonds_card(state)], lg=7, className="fd-builder-form"),
            dbc.Col(live_panel(), lg=5),
        ]),
    ], className="fd-builder")


# -- reading the form --------------------------------------------------------------------------------------

_FIELD_IDS = {"sequence": EC.SEQ, "copies": EC.COPIES, "msa_mode": EC.MSA_MODE, "msa_text": EC.MSA_TEXT,
              "template_mode": EC.TPL_MODE, "ccd": EC.CCD, "smiles": EC.SMILES}


def _by_index(items: list[dict]) -> dict:
    """Return {id index: value} for one ALL input/state list."""
    return {item["id"]["index"]: item.get("value") for item in items}


# -- callbacks ----------------------------------------------------------------------------------------------


@callback(
    Output(STATE, "data"),
    Input(NAME, "value"),
    *[Input({"type": t, "index": ALL}, "value") for t in _FIELD_IDS.values()],
    Input({"type": EC.LIG_MODE, "index": ALL}, "value"),
    Input({"type": EC.MOD_CODE, "index": ALL, "row": ALL}, "value"),
    Input({"type": EC.MOD_POS, "index": ALL, "row": ALL}, "value"),
    *[Input({"type": t, "index": ALL, "side": ALL}, "value") for t in BOND_PART.values()],
    State(STATE, "data"),
)
def collect_form(name, *_values):
    """Read every field on screen into the form state."""
    lists = ctx.inputs_list
    fields = {f: _by_index(lists[1 + k]) for k, f in enumerate(_FIELD_IDS)}
    n = 1 + len(_FIELD_IDS)
    fields["ligand_mode"] = _by_index(lists[n])  # ions have no choice: always a CCD code
    codes = {(i["id"]["index"], i["id"]["row"]): i.get("value") for i in lists[n + 1]}
    positions = {(i["id"]["index"], i["id"]["row"]): i.get("value") for i in lists[n + 2]}
    mods = {key: (codes.get(key), positions.get(key)) for key in codes.keys() | positions.keys()}
    bonds: dict[str, dict[int, object]] = {}
    for k, part in enumerate(BOND_PART):
        for item in lists[n + 3 + k]:
            bonds.setdefault(f"{item['id']['side']}_{part}", {})[item["id"]["index"]] = item.get("value")
    return B.touch_changes(_values[-1], B.apply_form(_values[-1], name, fields, mods, bonds))


def _clicked() -> bool:
    """Tell whether this call comes from a real click (new pattern-matching buttons also fire, with None)."""
    return any(t.get("value") for t in ctx.triggered)


@callback(
    Output(STATE, "data", allow_duplicate=True),
    Output(CARDS, "children"),
    Output(SEEDS, "children"),
    Output(BONDS, "children"),
    Output(MESSAGE, "children"),
    Output(SEED_INPUT, "value"),
    Output(NAME, "value"),
    *[Input(ADD[k], "n_clicks") for k in B.KINDS],
    Input({"type": EC.DUP, "index": ALL}, "n_clicks"),
    Input({"type": EC.DEL, "index": ALL}, "n_clicks"),
    Input({"type": EC.MOD_ADD, "index": ALL}, "n_clicks"),
    Input({"type": EC.MOD_DEL, "index": ALL, "row": ALL}, "n_clicks"),
    Input(SEED_ADD, "n_clicks"),
    Input(SEED_RANDOM, "n_clicks"),
    Input({"type": SEED_DEL, "index": ALL}, "n_clicks"),
    Input(BOND_ADD, "n_clicks"),
    Input({"type": BOND_DEL, "index": ALL}, "n_clicks"),
    Input(FASTA_APPLY, "n_clicks"),
    Input(FASTA_UPLOAD, "contents"),
    Input(JSON_UPLOAD, "contents"),
    Input(CLONE_LOAD, "n_clicks"),
    Input(SEED_INPUT, "n_submit"),  # Enter in the seed box adds it, like the button
    Input(FILES_UPLOAD, "contents"),
    State(STATE, "data"),
    State(FASTA_TEXT, "value"),
    State(SEED_INPUT, "value"),
    State(JSON_UPLOAD, "filename"),
    State(CLONE_PICK, "value"),
    State(FILES_UPLOAD, "filename"),
    prevent_initial_call=True,
)
def change_structure(*args):
    """Add, duplicate or remove cards, rows, seeds and bonds; pre-fill from FASTA, JSON or a job."""
    if not _clicked():
        return (no_update,) * 7
    state, fasta, seed, json_name, clone_id, file_names = args[-6:]
    trig = ctx.triggered_id
    try:
        state, message = restructure(state, trig, fasta=fasta, seed=seed, fasta_file=args[len(B.KINDS) + 10],
                                     json_file=args[len(B.KINDS) + 11], json_name=json_name, clone_id=clone_id,
                                     files=args[len(B.KINDS) + 14], file_names=file_names)
    except FoldDeckError as exc:
        return (no_update,) * 4 + (error_alert(str(exc), getattr(exc, "problems", [])), no_update, no_update)
    # an added seed leaves the box empty: the next digits typed are a new seed, not appended to the last one
    cleared = "" if trig in (SEED_ADD, SEED_INPUT) else no_update
    loaded = state["name"] if trig in (JSON_UPLOAD, CLONE_LOAD) else no_update  # a loaded job brings its name
    return (state, [EC.entity_card(e, i) for i, e in enumerate(state["entities"])], seed_chips(state["seeds"]),
            bond_rows(state), message, cleared, loaded)


@callback(
    Output(PREVIEW, "children"),
    Output(PROBLEMS, "children"),
    Output(TARGETS, "data"),
    Output(SIZE, "children"),
    Output(SUBMIT, "disabled"),
    Output(SUBMIT_HINT, "children"),
    Output(FOLDER, "children"),
    Input(STATE, "data"),
    Input(DIALECT, "value"),
)
def refresh_live_panel(state, dialect):
    """Validate the form and update the JSON, problems, size and submit button."""
    limits = jobs.effective_limits(conn(), require_account().id)
    return live_outputs(state, B.evaluate(state, dialect or R.AF3_DIALECT, limits.tokens_per_job))


# dash-renderer 4.x mangles the request of a callback with several ALL outputs, so each per-card and
# per-bond output has a callback of its own (one ALL output each; skipped while nothing matches).
@callback(Output({"type": EC.CHAINS, "index": ALL}, "children"), Input(STATE, "data"))
def refresh_chains(state):
    """Show each card's chain ids."""
    chains = B.chain_ids(state)
    return [("Chains " + ", ".join(chains[o["id"]["index"]])) if chains.get(o["id"]["index"]) else ""
            for o in ctx.outputs_list]


@callback(Output({"type": EC.FIELD_PROBLEMS, "index": ALL, "field": ALL}, "children"), Input(STATE, "data"))
def refresh_field_feedback(state):
    """Show each card field's own problems under it (and a sequence's length and bad characters)."""
    slots = [(o["id"]["index"], o["id"]["field"]) for o in ctx.outputs_list]
    return field_feedback(state, B.evaluate(state), slots)


@callback(Output({"type": BOND_CHAIN, "index": ALL, "side": ALL}, "options"), Input(STATE, "data"))
def refresh_bond_chains(state):
    """Offer only existing chains (not SMILES ligands) in the bond editor."""
    return [B.chain_options(state) for _ in ctx.outputs_list]


@callback(Output({"type": BOND_RES, "index": ALL, "side": ALL}, "options"), Input(STATE, "data"))
def refresh_bond_residues(state):
    """Offer only the residues of the chosen chain in the bond editor."""
    bonds = state.get("bonds") or []
    return [B.residue_options(state, bonds[o["id"]["index"]][f"{o['id']['side']}_chain"])
            if o["id"]["index"] < len(bonds) else [] for o in ctx.outputs_list]


clientside_callback(
    """function(clicks, targets) {
        const t = dash_clientside.callback_context.triggered_id;
        if (!t || !clicks.some(Boolean)) { return dash_clientside.no_update; }
        let el = document.getElementById(targets[t.index]);
        if (!el) { return dash_clientside.no_update; }
        if (!el.matches('input,textarea,select,button')) {
            el = el.querySelector('input,textarea,select,button') || el;
        }
        el.scrollIntoView({block: 'center'});
        el.focus();
        return dash_clientside.no_update;
    }""",
    Output(FOCUS_SINK, "data"),
    Input({"type": PROBLEM, "index": ALL}, "n_clicks"),
    State(TARGETS, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    "function(mode) { return mode !== 'custom'; }",
    Output({"type": EC.MSA_BOX, "index": MATCH}, "hidden"),
    Input({"type": EC.MSA_MODE, "index": MATCH}, "value"),
)

clientside_callback(
    "function(mode) { return [mode === 'smiles', mode !== 'smiles']; }",
    Output({"type": EC.CCD_BOX, "index": MATCH}, "hidden"),
    Output({"type": EC.SMILES_BOX, "index": MATCH}, "hidden"),
    Input({"type": EC.LIG_MODE, "index": MATCH}, "value"),
)


@callback(
    Output({"type": EC.CCD, "index": MATCH}, "value"),
    Input({"type": EC.LIG_PICK, "index": MATCH}, "value"),
    prevent_initial_call=True,
)
def pick_ligand(code):
    """Put the picked CCD component's code into the card."""
    return code or no_update


@callback(
    Output({"type": EC.LIG_PICK, "index": MATCH}, "options"),
    Input({"type": EC.LIG_PICK, "index": MATCH}, "search_value"),
    State({"type": EC.LIG_KIND, "index": MATCH}, "data"),
    State({"type": EC.LIG_PICK, "index": MATCH}, "value"),
    prevent_initial_call=True,
)
def search_ccd(text, kind, value):
    """List the CCD components matching the typed text (ions: single-atom components only)."""
    if not text:
        return no_update if value else []
    index = try_ccd()
    hits = index.search(text, limit=defaults.CCD_SEARCH_LIMIT, ions=kind == "ion") if index else []
    return [EC.hit_option(h, text) for h in hits]


@callback(
    Output({"type": EC.CCD, "index": MATCH}, "value", allow_duplicate=True),
    Input({"type": EC.LIG_SHORT, "index": MATCH, "code": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def pick_shortcut(clicks):
    """Put a clicked AlphaFold Server shortcut's code into the card."""
    if not any(clicks or []) or not isinstance(ctx.triggered_id, dict):
        return no_update
    return ctx.triggered_id["code"]


@callback(
    Output({"type": EC.MSA_TEXT, "index": MATCH}, "value"),
    Input({"type": EC.MSA_UPLOAD, "index": MATCH}, "contents"),
    prevent_initial_call=True,
)
def load_msa_file(contents):
    """Put an uploaded A3M file's text into the card."""
    if not contents:
        return no_update
    return decode_upload(contents).decode("utf-8", "replace")


@callback(
    Output(DOWNLOAD, "data"),
    Input(DOWNLOAD_BTN, "n_clicks"),
    State(STATE, "data"),
    State(DIALECT, "value"),
    prevent_initial_call=True,
)
def download_json(_clicks, state, dialect):
    """Send the JSON in the chosen dialect (as it stands, even if invalid: people fix files elsewhere too)."""
    ev = B.evaluate(state, dialect or R.AF3_DIALECT)
    doc = ev.export if ev.export is not None else ev.af3
    return {"content": json.dumps(doc, indent=2), "filename": safe_filename(ev.af3["name"], "fold_job") + ".json",
            "type": "application/json"}


@callback(
    Output(ids.URL, "href", allow_duplicate=True),
    Output(SUBMIT_ERROR, "children"),
    Output(STATE, "data", allow_duplicate=True),
    Input(SUBMIT, "n_clicks"),
    State(STATE, "data"),
    State(SUBMIT_KEY, "data"),
    State(TERMS_ACCEPT, "value"),
    State(NOT_BEFORE, "value"),
    State(SEARCH_AGAIN, "value"),
    State(ENGINES, "value"),
    prevent_initial_call=True,
)
def submit_job(_submit, state, key, accepted, not_before=None, search_again=False, engines=None):
    """Queue the job (the AF3 terms ticked) and go to its page; an attempt on a job with problems shows them all."""
    nu = no_update
    if not _clicked():  # the page's buttons are new to a shell whose URL output already exists: Dash calls once
        return nu, nu, nu
    if not B.evaluate(state).valid:  # the attempt shows every problem at its field; nothing is queued
        return nu, nu, {**state, "attempted": True}
    try:
        job = submit_state(state, require_account(), key, bool(accepted), parse_not_before(not_before),
                           reuse_msa=not search_again, engines=picked(engines))
    except FoldDeckError as exc:
        return nu, error_alert(str(exc), getattr(exc, "problems", [])), nu
    return (f"/jobs/{job.id}/compare" if len(picked(engines)) > 1 else f"/jobs/{job.id}"), nu, nu
