"""The builder page's cards other than the entity cards: job and seeds, where to start from, the add bar,
covalent bonds, and the live panel (size, problems, submit, JSON preview)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dash_app.builder import entity_card as EC
from dash_app.builder import state as B
from dash_app.builder.ids import (
    ADD,
    BOND_ADD,
    BOND_ATOM,
    BOND_CHAIN,
    BOND_DEL,
    BOND_RES,
    BONDS,
    CLONE_LOAD,
    CLONE_PICK,
    DIALECT,
    DOWNLOAD_BTN,
    ENGINES,
    FASTA_APPLY,
    FASTA_TEXT,
    FASTA_UPLOAD,
    FILES_UPLOAD,
    FOLDER,
    JSON_UPLOAD,
    NAME,
    NOT_BEFORE,
    PREVIEW,
    PROBLEMS,
    SEARCH_AGAIN,
    SEED_ADD,
    SEED_DEL,
    SEED_INPUT,
    SEED_RANDOM,
    SEEDS,
    SIZE,
    START,
    SUBMIT,
    SUBMIT_ERROR,
    SUBMIT_HINT,
    TERMS_ACCEPT,
)
from dash_app.components.engine_option import engine_check
from dash_app.components.msa_option import search_again_check
from dash_app.components.terms import terms_check
from dash_app.context import conn, require_account
from services import jobs
from services.af3 import rules as R


def job_card(state: dict) -> dbc.Card:
    """Return the job name and seeds card."""
    return dbc.Card(dbc.CardBody([
        dbc.Row([
            dbc.Col([dbc.Label("Job name", html_for=NAME, className="fw-semibold"),
                     dbc.Input(id=NAME, value=state["name"], placeholder="e.g. kinase_with_ATP", autoFocus=True,
                               maxLength=200),
                     html.Div(["Output folder: ", html.Code(id=FOLDER, className="text-muted")],
                              className="small text-muted mt-1")], md=6),
            dbc.Col([dbc.Label("Model seeds", html_for=SEED_INPUT, className="fw-semibold"),
                     html.Div(seed_chips(state["seeds"]), id=SEEDS, className="mb-1"),
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


def seed_chips(seeds: list) -> list:
    """Return one removable chip per seed."""
    if not seeds:
        return [html.Span("No seeds yet: add one.", className="small text-danger")]
    return [dbc.Badge([str(s), html.Button(html.I(className="bi bi-x"), id={"type": SEED_DEL, "index": k},
                                           className="btn btn-link btn-sm p-0 ms-1 text-white",
                                           title=f"Remove seed {s}")],
                      color="primary", className="me-1 fd-seed") for k, s in enumerate(seeds)]


def start_card() -> dbc.Accordion:
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
            dcc.Upload(id=FILES_UPLOAD, multiple=True, accept=".a3m,.cif,.mmcif,.gz,.xz",
                       className="fd-drop small mt-2",
                       children=html.Span([html.I(className="bi bi-paperclip me-1"),
                                           "Then drop the MSA (.a3m), template or CCD (.cif) files its paths name: "
                                           "their text goes into the job"])),
        ], title="Load a JSON file"),
        dbc.AccordionItem([
            dbc.Label("Your jobs", html_for=CLONE_PICK, className="small"),
            dcc.Dropdown(id=CLONE_PICK, options=job_options, placeholder="Pick a job to edit a copy of…"),
            dbc.Button("Load into the form", id=CLONE_LOAD, size="sm", className="mt-2", disabled=not job_options),
            html.Div("You have no jobs yet." if not job_options else "", className="small text-muted mt-1"),
        ], title="Clone one of your jobs"),
    ], start_collapsed=True, className="mb-3", id=START)


def _clone_options() -> list[dict]:
    """Return the user's latest jobs as dropdown options."""
    found, _ = jobs.list_jobs(conn(), require_account(), limit=100)
    return [{"label": f"#{j.id} {j.name} ({j.state.value})", "value": j.id} for j in found]


def add_bar() -> html.Div:
    """Return the buttons that add an entity card."""
    return html.Div([html.Span("Add:", className="me-2 fw-semibold")] + [
        dbc.Button([html.I(className=f"bi {EC.KIND_ICON[k]} me-1"), B.KIND_LABEL[k]], id=ADD[k], color="primary",
                   outline=True, size="sm", className="me-2 mb-1") for k in B.KINDS
    ], className="d-flex flex-wrap align-items-center mb-3 fd-add-bar")


def bonds_card(state: dict) -> dbc.Card:
    """Return the bonded-atom-pairs editor (covalent ligand bonds, glycans)."""
    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-link me-2"), "Covalent bonds ",
                        html.Small("(optional: a ligand bonded to a residue, or glycan links)",
                                   className="text-muted")]),
        dbc.CardBody([html.Div(bond_rows(state), id=BONDS),
                      dbc.Button([html.I(className="bi bi-plus-lg me-1"), "Add bond"], id=BOND_ADD, size="sm",
                                 color="secondary", outline=True)]),
    ], className="mb-3 shadow-sm")


def bond_rows(state: dict) -> list:
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


def live_panel() -> html.Div:
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
            html.Div(engine_check(ENGINES), className="mb-2"),
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
