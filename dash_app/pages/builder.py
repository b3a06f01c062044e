"""Builder (`/builder`): make an AlphaFold 3 input by filling cards, with live JSON, problems and size.

The form's state lives in the browser (`STATE` store); every change is sent to the server, which
translates it (dash_app.builder_state), validates it with the AF3 library and answers in milliseconds.
"""
from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import datetime
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dash_app import builder_state as B
from dash_app import ids
from dash_app import upload_state as U
from dash_app.components import entity_card as EC
from dash_app.components.msa_option import search_again_check
from dash_app.components.size_badge import size_badge
from dash_app.components.terms import terms_check
from dash_app.context import conn, require_account, settings
from services import defaults, jobs
from services.af3 import input_files, load_json_text, safe_filename, server_to_af3
from services.af3 import rules as R
from services.af3.ccd import try_ccd
from services.errors import FoldDeckError, InvalidInput

dash.register_page(__name__, path="/builder", name="Builder", order=1, icon="bi-ui-checks-grid")

P = ids.page_id
STATE = P(__name__, "state")
NAME = P(__name__, "name")
FOLDER = P(__name__, "folder")
SEEDS = P(__name__, "seeds")
SEED_INPUT = P(__name__, "seed-input")
SEED_ADD = P(__name__, "seed-add")
SEED_RANDOM = P(__name__, "seed-random")
SEED_DEL = "builder-seed-del"
CARDS = P(__name__, "cards")
ADD = {kind: P(__name__, f"add-{kind}") for kind in B.KINDS}
BONDS = P(__name__, "bonds")
BOND_ADD = P(__name__, "bond-add")
BOND_DEL = "builder-bond-del"
BOND_CHAIN = "builder-bond-chain"
BOND_RES = "builder-bond-res"
BOND_ATOM = "builder-bond-atom"
BOND_PART = {"chain": BOND_CHAIN, "res": BOND_RES, "atom": BOND_ATOM}
FASTA_TEXT = P(__name__, "fasta-text")
FASTA_UPLOAD = P(__name__, "fasta-upload")
FASTA_APPLY = P(__name__, "fasta-apply")
JSON_UPLOAD = P(__name__, "json-upload")
CLONE_PICK = P(__name__, "clone-pick")
CLONE_LOAD = P(__name__, "clone-load")
MESSAGE = P(__name__, "message")
DIALECT = P(__name__, "dialect")
PREVIEW = P(__name__, "preview")
PROBLEMS = P(__name__, "problems")
PROBLEM = "builder-problem"
TARGETS = P(__name__, "targets")
FOCUS_SINK = P(__name__, "focus-sink")
SIZE = P(__name__, "size")
SUBMIT = P(__name__, "submit")
NOT_BEFORE = P(__name__, "not-before")  # issue 18: optional earliest start
SEARCH_AGAIN = P(__name__, "search-again")  # issue 16: ticked, no MSA is taken from the cache
SUBMIT_HINT = P(__name__, "submit-hint")
DOWNLOAD = P(__name__, "download")
DOWNLOAD_BTN = P(__name__, "download-btn")
TERMS_ACCEPT = P(__name__, "terms-accept")  # the terms checkbox, as on the upload page
SUBMIT_KEY = P(__name__, "submit-key")
SUBMIT_ERROR = P(__name__, "submit-error")
MAX_PROBLEMS_SHOWN = 50  # a pasted genome would list thousands; the first fifty say enough


# -- layout ----------------------------------------------------------------------------------------------


def layout(clone: str | None = None, **_query) -> html.Div:
    """Return the builder, pre-filled from one of the user's jobs when `?clone=<id>` is given."""
    state, message = B.empty_state(), None
    if clone:
        state, message = _state_from_job(clone)
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
            dbc.Col([_job_card(state), _start_card(), html.Div([EC.entity_card(e, i) for i, e in
                                                                 enumerate(state["entities"])], id=CARDS),
                     _add_bar(), _bonds_card(state)], lg=7, className="fd-builder-form"),
            dbc.Col(_live_panel(), lg=5),
        ]),
    ], className="fd-builder")


def _job_card(state: dict) -> dbc.Card:
    """Return the job name and seeds card."""
    return dbc.Card(dbc.CardBody([
        dbc.Row([
            dbc.Col([dbc.Label("Job name", html_for=NAME, className="fw-semibold"),
                     dbc.Input(id=NAME, value=state["name"], placeholder="e.g. kinase_with_ATP", autoFocus=True,
                               maxLength=200),
                     html.Div(["Output folder: ", html.Code(id=FOLDER, className="text-muted")],
                              className="small text-muted mt-1")], md=6),
            dbc.Col([dbc.Label("Model seeds", html_for=SEED_INPUT, className="fw-semibold"),
                     html.Div(_seed_chips(state["seeds"]), id=SEEDS, className="mb-1"),
                     dbc.InputGroup([
                         dbc.Input(id=SEED_INPUT, type="number", min=0, max=B.MAX_SEED, step=1, placeholder="seed",
                                   size="sm"),
                         dbc.Button("Add", id=SEED_ADD, color="secondary", outline=True, size="sm"),
                         dbc.Button([html.I(className="bi bi-shuffle me-1"), "Random"], id=SEED_RANDOM,
                                    color="secondary", outline=True, size="sm"),
                     ], size="sm"),
                     html.Div("Each seed is one more prediction (and one more run).", className="small text-muted")],
                    md=6),
        ], className="g-3"),
    ]), className="mb-3 shadow-sm")


def _seed_chips(seeds: list) -> list:
    """Return one removable chip per seed."""
    if not seeds:
        return [html.Span("No seeds yet: add one.", className="small text-danger")]
    return [dbc.Badge([str(s), html.Button(html.I(className="bi bi-x"), id={"type": SEED_DEL, "index": k},
                                           className="btn btn-link btn-sm p-0 ms-1 text-white",
                                           title=f"Remove seed {s}")],
                      color="primary", className="me-1 fd-seed") for k, s in enumerate(seeds)]


def _start_card() -> dbc.Accordion:
    """Return the ways to pre-fill the form: FASTA, an AF3/server JSON file, or one of the user's jobs."""
    job_options = _clone_options()
    return dbc.Accordion([
        dbc.AccordionItem([
            dbc.Label("Paste FASTA (one card per distinct record; identical records become copies)",
                      html_for=FASTA_TEXT, className="small"),
            dbc.Textarea(id=FASTA_TEXT, rows=4, spellCheck=False, className="font-monospace small",
                         placeholder=">chain_A\nMKTAYIAKQRQISFVKSHFSRQ\n>dna\nATGCGT"),
            html.Div([
                dbc.Button([html.I(className="bi bi-magic me-1"), "Create cards"], id=FASTA_APPLY, size="sm",
                           color="primary", className="me-2"),
                dcc.Upload(id=FASTA_UPLOAD, accept=".fasta,.fa,.faa,.fna,.txt",
                           className="fd-drop small d-inline-block",
                           children=html.Span([html.I(className="bi bi-upload me-1"),
                                               "or drop / choose a FASTA file"])),
            ], className="d-flex align-items-center mt-2"),
        ], title="Start from FASTA"),
        dbc.AccordionItem([
            dcc.Upload(id=JSON_UPLOAD, accept=".json,application/json", className="fd-drop fd-drop-lg",
                       children=html.Div([html.I(className="bi bi-filetype-json fs-4 d-block"),
                                          "Drop an AlphaFold 3 or AlphaFold Server .json here, or click to choose"])),
        ], title="Load a JSON file"),
        dbc.AccordionItem([
            dbc.Label("Your jobs", html_for=CLONE_PICK, className="small"),
            dcc.Dropdown(id=CLONE_PICK, options=job_options, placeholder="Pick a job to edit a copy of…"),
            dbc.Button("Load into the form", id=CLONE_LOAD, size="sm", className="mt-2", disabled=not job_options),
            html.Div("You have no jobs yet." if not job_options else "", className="small text-muted mt-1"),
        ], title="Clone one of your jobs"),
    ], start_collapsed=True, className="mb-3", id=P(__name__, "start"))


def _clone_options() -> list[dict]:
    """Return the user's latest jobs as dropdown options."""
    found, _ = jobs.list_jobs(conn(), require_account(), limit=100)
    return [{"label": f"#{j.id} {j.name} ({j.state.value})", "value": j.id} for j in found]


def _add_bar() -> html.Div:
    """Return the buttons that add an entity card."""
    return html.Div([html.Span("Add:", className="me-2 fw-semibold")] + [
        dbc.Button([html.I(className=f"bi {EC.KIND_ICON[k]} me-1"), B.KIND_LABEL[k]], id=ADD[k], color="primary",
                   outline=True, size="sm", className="me-2 mb-1") for k in B.KINDS
    ], className="d-flex flex-wrap align-items-center mb-3 fd-add-bar")


def _bonds_card(state: dict) -> dbc.Card:
    """Return the bonded-atom-pairs editor (covalent ligand bonds, glycans)."""
    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-link me-2"), "Covalent bonds ",
                        html.Small("(optional: a ligand bonded to a residue, or glycan links)",
                                   className="text-muted")]),
        dbc.CardBody([html.Div(_bond_rows(state), id=BONDS),
                      dbc.Button([html.I(className="bi bi-plus-lg me-1"), "Add bond"], id=BOND_ADD, size="sm",
                                 color="secondary", outline=True)]),
    ], className="mb-3 shadow-sm")


def _bond_rows(state: dict) -> list:
    """Return one editor row per bond; chains and residues come from the cards."""
    chains = B.chain_options(state)
    rows = []
    for k, b in enumerate(state.get("bonds") or []):
        side = []
        for s in ("a", "b"):
            side.append(dbc.Col(dcc.Dropdown(id={"type": BOND_CHAIN, "index": k, "side": s}, options=chains,
                                             value=b[f"{s}_chain"] or None, placeholder="chain", clearable=False),
                                width=4))
            side.append(dbc.Col(dcc.Dropdown(id={"type": BOND_RES, "index": k, "side": s},
                                             options=B.residue_options(state, b[f"{s}_chain"]), value=b[f"{s}_res"],
                                             placeholder="residue", clearable=False), width=4))
            atom = {"type": BOND_ATOM, "index": k, "side": s}
            side.append(dbc.Col([EC.hidden_label(f"Bond {k + 1} atom {s.upper()}", atom),
                                 dbc.Input(id=atom, value=b[f"{s}_atom"], placeholder="atom, e.g. SG", size="sm")],
                                width=4))
        rows.append(html.Div([
            html.Div([html.Strong(f"Bond {k + 1}", className="small me-auto"),
                      dbc.Button(html.I(className="bi bi-x-lg"), id={"type": BOND_DEL, "index": k}, color="link",
                                 size="sm", title=f"Remove bond {k + 1}")], className="d-flex"),
            dbc.Row(side[:3], className="g-1 mb-1"), dbc.Row(side[3:], className="g-1"),
        ], className="fd-bond border rounded p-2 mb-2"))
    if not rows:
        rows = [html.P("No bonds. Most jobs need none.", className="small text-muted mb-2")]
    return rows


def _live_panel() -> html.Div:
    """Return the sticky panel: size, problems, submit/export, JSON preview."""
    return html.Div([
        dbc.Card(dbc.CardBody([
            html.Div(id=SIZE, className="mb-2"),
            html.Div(id=PROBLEMS, className="fd-problems mb-2", **{"aria-live": "polite"}),
            terms_check(TERMS_ACCEPT, require_account().accepted_terms_at is not None),
            dbc.InputGroup([dbc.InputGroupText("Not before", className="small"),
                            dbc.Input(id=NOT_BEFORE, type="datetime-local", size="sm")],
                           size="sm", className="mb-2", style={"maxWidth": "22rem"}),
            search_again_check(SEARCH_AGAIN),
            html.Div([
                dbc.Button([html.I(className="bi bi-send me-1"), "Submit"], id=SUBMIT, color="success",
                           disabled=True, className="me-2"),
                dbc.Button([html.I(className="bi bi-download me-1"), "Download JSON"], id=DOWNLOAD_BTN,
                           color="secondary", outline=True, className="me-2"),
                dbc.RadioItems(id=DIALECT, value=R.AF3_DIALECT, inline=True, className="small d-inline-block",
                               options=[{"label": "alphafold3", "value": R.AF3_DIALECT},
                                        {"label": "AlphaFold Server", "value": R.SERVER_DIALECT}]),
            ], className="d-flex flex-wrap align-items-center"),
            html.Div(id=SUBMIT_HINT, className="small text-muted mt-1"),
            html.Div(id=SUBMIT_ERROR, className="mt-2"),
        ]), className="mb-3 shadow-sm"),
        dbc.Card([dbc.CardHeader([html.I(className="bi bi-braces me-2"), "JSON as it will be submitted"]),
                  dbc.CardBody(html.Pre(id=PREVIEW, className="fd-json mb-0", tabIndex=0))], className="shadow-sm"),
    ], className="fd-live-panel")


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
    State(STATE, "data"),
    State(FASTA_TEXT, "value"),
    State(SEED_INPUT, "value"),
    State(JSON_UPLOAD, "filename"),
    State(CLONE_PICK, "value"),
    prevent_initial_call=True,
)
def change_structure(*args):
    """Add, duplicate or remove cards, rows, seeds and bonds; pre-fill from FASTA, JSON or a job."""
    if not _clicked():
        return (no_update,) * 7
    state, fasta, seed, json_name, clone_id = args[-5:]
    trig = ctx.triggered_id
    try:
        state, message = restructure(state, trig, fasta=fasta, seed=seed, fasta_file=args[len(B.KINDS) + 10],
                                     json_file=args[len(B.KINDS) + 11], json_name=json_name, clone_id=clone_id)
    except FoldDeckError as exc:
        return (no_update,) * 4 + (_alert(str(exc), getattr(exc, "problems", [])), no_update, no_update)
    # an added seed leaves the box empty: the next digits typed are a new seed, not appended to the last one
    cleared = "" if trig in (SEED_ADD, SEED_INPUT) else no_update
    loaded = state["name"] if trig in (JSON_UPLOAD, CLONE_LOAD) else no_update  # a loaded job brings its name
    return (state, [EC.entity_card(e, i) for i, e in enumerate(state["entities"])], _seed_chips(state["seeds"]),
            _bond_rows(state), message, cleared, loaded)


def restructure(state: dict, trig, *, fasta=None, seed=None, fasta_file=None, json_file=None, json_name=None,
                clone_id=None) -> tuple[dict, object]:
    """Return the state after the structural action `trig` (a component id) and a message to show."""
    kind = next((k for k, i in ADD.items() if i == trig), None)
    if kind:
        return B.add_entity(state, kind), None
    if isinstance(trig, dict):
        new = _restructure_pattern(state, trig)
        return (B.touch(new, "seeds") if trig["type"] == SEED_DEL else new), None
    if trig in (SEED_ADD, SEED_INPUT):
        value = B.as_int(seed)
        if value is None or not 0 <= value <= B.MAX_SEED:
            return B.touch(B.add_seed(state), "seeds"), None
        return B.touch({**state, "seeds": [*state["seeds"], value]}, "seeds"), None
    if trig == SEED_RANDOM:
        return B.touch(B.add_seed(state, random.SystemRandom()), "seeds"), None
    if trig == BOND_ADD:
        return {**state, "bonds": [*state["bonds"], {f: "" if "res" not in f else None for f in B.BOND_FIELDS}]}, None
    if trig in (FASTA_APPLY, FASTA_UPLOAD):
        text = fasta if trig == FASTA_APPLY else _decode_upload(fasta_file)
        new = B.entities_from_fasta(state, text or "")
        old_uids = {e["uid"] for e in state["entities"]}
        return B.touch(new, *[f"{e['uid']}:sequence" for e in new["entities"] if e["uid"] not in old_uids]), None
    if trig == JSON_UPLOAD:
        return _state_from_upload(json_file, json_name)
    if trig == CLONE_LOAD and clone_id:
        return _state_from_job(clone_id)
    return state, None


def _restructure_pattern(state: dict, trig: dict) -> dict:
    """Apply a click on a pattern-matching button (card, modification row, seed or bond)."""
    kind, index = trig["type"], trig["index"]
    if kind == EC.DUP:
        return B.duplicate_entity(state, index)
    if kind == EC.DEL:
        return B.remove_entity(state, index)
    if kind == EC.MOD_ADD:
        e = next(e for e in state["entities"] if e["uid"] == index)
        return B.update_entity(state, index, mods=[*e["mods"], {"code": "", "position": None}])
    if kind == EC.MOD_DEL:
        e = next(e for e in state["entities"] if e["uid"] == index)
        return B.update_entity(state, index, mods=[m for r, m in enumerate(e["mods"]) if r != trig["row"]])
    if kind == SEED_DEL:
        return {**state, "seeds": [s for k, s in enumerate(state["seeds"]) if k != index]}
    if kind == BOND_DEL:
        return {**state, "bonds": [b for k, b in enumerate(state["bonds"]) if k != index]}
    return state


def _decode_upload(contents: str | None) -> bytes:
    """Return the bytes of a dcc.Upload data URL."""
    if not contents:
        return b""
    return base64.b64decode(contents.split(",", 1)[-1])


def _state_from_upload(contents: str | None, filename: str | None) -> tuple[dict, object]:
    """Return the form state for an uploaded AF3 / server JSON (its first job) and a note.

    A job with problems is loaded as written with each problem at its field; the note lists them in the
    upload page's words (the same reader: `upload_state.read_file`).
    """
    name = filename or "the file"
    mine = jobs.effective_limits(conn(), require_account().id)
    result = U.read_file(0, name, _decode_upload(contents), settings().upload_max_bytes, mine.jobs_per_submit,
                         mine.tokens_per_job)
    if result.error:
        raise InvalidInput(f"{name}: {result.error}")
    first = result.rows[0]
    if first.af3 is not None:
        state, notes = B.from_af3(first.af3)
    else:
        doc = _as_written_af3(load_json_text(_decode_upload(contents), settings().upload_max_bytes))
        if doc is None:
            raise InvalidInput(f"{name}: the first job is not laid out as AlphaFold 3 or AlphaFold Server JSON; "
                               "fix these problems first.", first.problems)
        state, notes = B.from_af3_as_written(doc)
    state = {**state, "attempted": True}  # a loaded file's problems show at once, at their fields
    if len(result.rows) > 1:
        notes.append(f"The file holds {len(result.rows)} jobs; the first one was loaded. Use Upload to queue them "
                     "all.")
    if first.problems:
        return state, _loaded_with_problems(name, first.problems, notes)
    return state, _note(f"Loaded {name}.", notes)


def _as_written_af3(doc) -> dict | None:
    """Return the first job of a file as AF3-dialect JSON, problems and all; None when its layout is too broken
    to convert (a server job whose fields have the wrong types)."""
    if isinstance(doc, dict):
        return doc
    if not (isinstance(doc, list) and doc and isinstance(doc[0], dict)):
        return None
    try:
        return server_to_af3(doc[0])
    except (TypeError, KeyError, ValueError, AttributeError, IndexError):  # the converter assumes a valid layout
        return None


def _loaded_with_problems(name: str, problems: list[str], notes: list[str]) -> dbc.Alert:
    """Return the note for a file loaded with problems, listed as the Upload page words them."""
    return dbc.Alert([f"Loaded {name}; it has {len(problems)} problem{'s' * (len(problems) != 1)}, marked at "
                      "their fields below. Fix them to submit.",
                      html.Ul([html.Li(p) for p in problems[:10]], className="mb-0 small fd-load-problems"),
                      *[html.Div(n, className="small") for n in notes]],
                     color="warning", dismissable=True, className="py-2", id=P(__name__, "loaded"))


def _state_from_job(job_id) -> tuple[dict, object]:
    """Return the form state for a copy of one of the user's jobs (the caller must see it) and a note."""
    try:
        job = jobs.get_job(conn(), require_account(), int(job_id))
        state, notes = B.from_af3(_with_files_inline(job))
    except (FoldDeckError, ValueError, OSError) as exc:
        return B.empty_state(), _alert(f"Could not load job {job_id}: {exc}", [])
    state = {**state, "name": copy_name(job.name), "attempted": True}
    return state, _note(f"Loaded a copy of job #{job.id} ({job.name}); nothing is queued until you submit.", notes)


def _with_files_inline(job) -> dict:
    """Return a job's input with the text of the files sent with it in place of their paths, so its copy
    carries them (issue 22); a path the rule refuses stays, and the submit names it."""
    doc = job.read_input()
    try:
        return input_files.inline(doc, Path(job.input_path).parent, settings().shared_input_dirs)
    except input_files.InputFileRefused:
        return doc


def copy_name(name: str) -> str:
    """Return the name of a copy: the job's own with " (copy)" added."""
    return f"{name} (copy)"


def _note(text: str, notes: list[str]) -> dbc.Alert:
    """Return an info alert with extra notes."""
    return dbc.Alert([text, *[html.Div(n, className="small") for n in notes]], color="info", dismissable=True,
                     className="py-2")


def _alert(message: str, problems: list) -> dbc.Alert:
    """Return a danger alert for a service error with its first problems."""
    items = [html.Li(f"{p.path}: {p.message}" if getattr(p, "path", "") else getattr(p, "message", str(p)))
             for p in problems[:10]]
    return dbc.Alert([message, html.Ul(items, className="mb-0 small") if items else None], color="danger",
                     dismissable=True, className="py-2", id=P(__name__, "error"))


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


def live_outputs(state: dict, ev: B.Evaluation) -> tuple:
    """Return the live panel's outputs for an evaluation (problems of untouched fields wait for a submit)."""
    visible = B.shown_problems(state, ev.problems)
    problems, targets = _problem_list(state, ev, visible)
    shown = ev.export if ev.export is not None else ev.af3
    if ev.export is None and ev.export_blockers:
        shown = {"cannot be written as AlphaFold Server JSON": ev.export_blockers}
    errors = sum(p.is_error for p in ev.problems)
    attempted = bool(state.get("attempted"))
    if ev.valid:
        hint = "Ready to submit."
    elif attempted:
        hint = f"Fix {errors} problem{'s' * (errors != 1)} to submit."
    else:
        hint = "Fill in the job; Submit checks it and shows what is missing."
    return (json.dumps(shown, indent=2), problems, targets, size_badge(ev.size, ev.size_warnings),
            attempted and not ev.valid, hint, ev.folder or "(none yet: type a name)")


def field_feedback(state: dict, ev: B.Evaluation, slots: list[tuple[int, str]]) -> list:
    """Return, for each (card uid, field) slot, that field's problems; a problem whose field has no slot goes
    to the card's "card" slot, so every problem shows exactly once on its card."""
    by_uid = {e["uid"]: e for e in state["entities"]}
    position = {e["uid"]: i for i, e in enumerate(state["entities"])}
    visible = {id(p) for p in B.shown_problems(state, ev.problems)}
    grouped = {card: [(loc, p) for loc, p in items if id(p) in visible]
               for card, items in ev.problems_by_card().items()}
    present = set(slots)
    out = []
    for uid, fld in slots:
        items = [(loc, p) for loc, p in grouped.get(position.get(uid), [])
                 if (loc.field if (uid, loc.field) in present else "card") == fld]
        if fld == "sequence":
            out.append(_sequence_feedback(by_uid.get(uid), items))
        else:
            out.append(_problem_lines(items, show_field=fld == "card"))
    return out


def _sequence_feedback(entity: dict | None, items: list) -> list:
    """Return the length line under a sequence and its problems; bad characters are listed with positions
    in place of the validator's own alphabet message (same problem, said once)."""
    if not entity:
        return []
    seq = B.clean_sequence(entity["sequence"])
    issues = B.sequence_issues(entity["kind"], entity["sequence"])
    advice = R.ALPHABET_TEXT.get(entity["kind"], "")
    lines = [html.Span(f"{len(seq)} residues", className="text-muted me-2 fd-seq-length")]
    rest = []
    for loc, p in items:
        if issues and p.is_error and advice and advice in p.message:
            advice = p.message[p.message.index(advice):]  # keep the validator's hint ("'T' belongs to DNA…")
        else:
            rest.append((loc, p))
    if issues:
        lines.append(html.Div([html.I(className="bi bi-exclamation-triangle me-1"),
                               f"Not allowed: {B.describe_issues(issues)}. {advice[:1].upper()}{advice[1:]}"],
                              className="text-danger fd-seq-bad"))
    return [html.Div(lines[0]), *lines[1:], _problem_lines(rest)]


def _problem_lines(items: list, show_field: bool = False):
    """Return problems as a short list under their field (the field named only in the card-level slot)."""
    rows = []
    for loc, p in items:
        label = [html.Span(loc.field, className="badge bg-light text-dark me-1")] if show_field else []
        if loc.field == "mods" and loc.row is not None:
            label.append(f"Modification {loc.row + 1}: ")
        rows.append(html.Li([*label, p.message], className="text-danger" if p.is_error else "text-warning"))
    return html.Ul(rows, className="small mb-0 ps-3 fd-card-problems") if rows else None


def _problem_list(state: dict, ev: B.Evaluation, visible: list) -> tuple[object, list[str]]:
    """Return the clickable problem list (the problems shown so far) and the DOM id each item focuses."""
    if not ev.problems:
        return dbc.Alert([html.I(className="bi bi-check-circle me-1"), "No problems: this input is valid."],
                         color="success", className="py-2 mb-0", id=P(__name__, "valid")), []
    if not visible:
        return html.P("Problems show here as you fill in the fields.", className="small text-muted mb-0",
                      id=P(__name__, "no-problems-yet")), []
    items, targets = [], []
    for k, p in enumerate(visible[:MAX_PROBLEMS_SHOWN]):
        loc = B.locate(p.path)
        targets.append(EC.dom_id(target_id(state, loc, p.path)))
        where = _where(state, loc)
        icon = "bi-x-circle text-danger" if p.is_error else "bi-exclamation-triangle text-warning"
        items.append(html.Button([
            html.I(className=f"bi {icon} me-1"),
            html.Strong(where + ": ", className="me-1"), p.message],
            id={"type": PROBLEM, "index": k}, type="button", className="list-group-item list-group-item-action small"))
    more = len(visible) - MAX_PROBLEMS_SHOWN
    if more > 0:
        items.append(html.Div(f"… and {more} more", className="list-group-item small text-muted"))
    return html.Div(items, className="list-group"), targets


def _where(state: dict, loc: B.Location) -> str:
    """Name the card and field of a problem for people ("Protein 1 · sequence")."""
    if loc.card is None:
        return {"name": "Job name", "seeds": "Seeds", "bonds": "Bonds"}.get(loc.field, "Job")
    if loc.card >= len(state["entities"]):
        return f"Entity {loc.card + 1}"
    e = state["entities"][loc.card]
    return f"{B.KIND_LABEL[e['kind']]} {loc.card + 1} · {loc.field}"


def target_id(state: dict, loc: B.Location, path: str) -> dict | str:
    """Return the component id a problem's click should focus."""
    if loc.card is None:
        if loc.field == "bonds" and loc.row is not None:
            return {"type": BOND_ATOM, "index": loc.row, "side": "a"}
        return {"name": NAME, "seeds": SEED_INPUT}.get(loc.field, NAME)
    if loc.card >= len(state["entities"]):
        return NAME
    e = state["entities"][loc.card]
    uid = e["uid"]
    if loc.field == "mods" and loc.row is not None:
        position = path.endswith(("Position", "basePosition"))
        return EC.pid(EC.MOD_POS if position else EC.MOD_CODE, uid, row=loc.row)
    field_ids = {"sequence": EC.SEQ, "copies": EC.COPIES, "msa": EC.MSA_MODE, "templates": EC.TPL_MODE,
                 "ccd": EC.CCD, "smiles": EC.SMILES}
    if loc.field in field_ids:
        return EC.pid(field_ids[loc.field], uid)
    return EC.pid(EC.SEQ if e["kind"] in B.POLYMERS else EC.CCD, uid)


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
    return _decode_upload(contents).decode("utf-8", "replace")


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
    prevent_initial_call=True,
)
def submit_job(_submit, state, key, accepted, not_before=None, search_again=False):
    """Queue the job (the AF3 terms ticked) and go to its page; an attempt on a job with problems shows them all."""
    nu = no_update
    if not _clicked():  # the page's buttons are new to a shell whose URL output already exists: Dash calls once
        return nu, nu, nu
    if not B.evaluate(state).valid:  # the attempt shows every problem at its field; nothing is queued
        return nu, nu, {**state, "attempted": True}
    try:
        job = submit_state(state, require_account(), key, bool(accepted), parse_not_before(not_before),
                           reuse_msa=not search_again)
    except FoldDeckError as exc:
        return nu, _alert(str(exc), getattr(exc, "problems", [])), nu
    return f"/jobs/{job.id}", nu, nu


def parse_not_before(value: str | None) -> float | None:
    """Return the timestamp of a datetime-local value ("2026-11-28T14:00"), None when empty.

    Raises:
        InvalidInput: not a date and time.
    """
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise InvalidInput(f"'Not before' must be a date and time, not {value!r}.") from None


def submit_state(state: dict, user, key: str | None, accepted: bool, not_before: float | None = None, *,
                 reuse_msa: bool = True):
    """Validate the form state on the server and queue it (`reuse_msa=False`: search every chain again).

    Raises:
        InvalidInput: the form has errors.
        TermsNotAccepted, LimitExceeded: from jobs.submit; nothing was submitted.
    """
    ev = B.evaluate(state)
    if not ev.valid:
        raise InvalidInput("The job has problems; nothing was submitted.", [p for p in ev.problems if p.is_error])
    return jobs.submit(conn(), settings(), user, ev.af3, idempotency_key=f"builder-{key}" if key else None,
                       accept_terms=accepted, via="builder", not_before=not_before, reuse_msa=reuse_msa)
