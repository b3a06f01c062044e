"""Screens page (`/screens`, issue 26): one protein (or complex) against many ligands or variants.

Paste the protein's sequence(s) and the ligands (SMILES with names, CCD codes, an SDF file) or point
mutations, tick the terms and submit once: every member becomes a job (services.screens, all or none).
Below, the caller's screens with their progress, each opening its results (`/screens/<id>`).
"""
from __future__ import annotations

import base64
import string

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from dash_app.components.terms import terms_check
from dash_app.context import account, conn, require_account, settings
from dash_app.ids import page_id
from services import screens
from services.platform.errors import FoldDeckError

dash.register_page(__name__, path="/screens", name="Screens", order=4, icon="bi-grid-3x3")

NAME, PROTEINS, COFACTORS, SEEDS = (page_id(__name__, k) for k in ("name", "proteins", "cofactors", "seeds"))
SMILES, CCD, SDF, SDF_NAME = (page_id(__name__, k) for k in ("smiles", "ccd", "sdf", "sdf-name"))
MUTATIONS, MUTATE_CHAIN = page_id(__name__, "mutations"), page_id(__name__, "mutate-chain")
TERMS, SUBMIT, RESULT, LIST = (page_id(__name__, k) for k in ("terms", "submit", "result", "list"))


def _area(component_id: str, label: str, placeholder: str, rows: int = 4) -> dbc.Row:
    return dbc.Row([dbc.Label(label, html_for=component_id, width=3),
                    dbc.Col(dbc.Textarea(id=component_id, placeholder=placeholder, rows=rows,
                                         className="font-monospace"), width=9)], className="mb-2")


def layout(**_query) -> html.Div:
    user = account()
    return html.Div([
        html.H1("Screens", className="h3"),
        html.P("One protein (or complex) against a list of ligands or variants: one job per member, searched once "
               "(the protein's MSA is reused), ranked together.", className="text-muted"),
        dbc.Row([dbc.Label("Name", html_for=NAME, width=3), dbc.Col(dbc.Input(id=NAME, value="screen"), width=9)],
                className="mb-2"),
        _area(PROTEINS, "Protein chains", "one sequence per line: chains A, B, ... in this order", 3),
        _area(COFACTORS, "Cofactors (CCD)", "optional, shared by every member: e.g. MG, HEM", 1),
        dbc.Row([dbc.Label("Seeds", html_for=SEEDS, width=3),
                 dbc.Col(dbc.Input(id=SEEDS, type="number", min=1, max=20, value=1), width=3)], className="mb-3"),
        html.H2("Ligands", className="h5"),
        _area(SMILES, "SMILES", "one per line: SMILES, then a name\nCC(=O)Oc1ccccc1C(=O)O aspirin", 6),
        _area(CCD, "CCD codes", "one per line or comma: ATP, GTP, NAG+NAG", 2),
        dbc.Row([dbc.Label("SDF file", width=3), dbc.Col([
            dcc.Upload(dbc.Button("Choose an SDF file", color="secondary", outline=True, size="sm"), id=SDF,
                       accept=".sdf,.sd,.mol", max_size=settings().upload_max_bytes),
            html.Span(id=SDF_NAME, className="ms-2 small text-muted")], width=9)], className="mb-3"),
        html.H2("Or point mutations", className="h5"),
        _area(MUTATIONS, "Variants", "one per line: K45R or A12G,K45R", 3),
        dbc.Row([dbc.Label("Of chain", html_for=MUTATE_CHAIN, width=3),
                 dbc.Col(dbc.Input(id=MUTATE_CHAIN, value="A", maxLength=4), width=3)], className="mb-3"),
        terms_check(TERMS, bool(user and user.accepted_terms_at)),
        dbc.Button("Submit screen", id=SUBMIT, color="primary", className="mb-3"),
        html.Div(id=RESULT),
        html.H2("Your screens", className="h5 mt-4"),
        html.Div(_screen_list(), id=LIST),
    ], style={"maxWidth": "52rem"})


def _screen_list() -> html.Ul | html.P:
    user = account()
    found = screens.list_screens(conn(), user) if user else []
    if not found:
        return html.P("None yet.", className="text-muted")
    return html.Ul([html.Li([dcc.Link(f"#{sid} {name}", href=f"/screens/{sid}"), f" · {kind} · ",
                             ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))])
                    for sid, name, kind, _created, counts in found], className="mb-0")


def shared_input(proteins: str, cofactors: str, seeds: int | None) -> dict:
    """Return the shared AF3-dialect input the form describes (chains A, B, ... then the cofactors)."""
    chains = [s.strip().replace(" ", "").upper() for s in (proteins or "").splitlines() if s.strip()]
    ids = iter(string.ascii_uppercase)
    sequences = [{"protein": {"id": next(ids), "sequence": seq}} for seq in chains]
    for code in (c.strip().upper() for c in (cofactors or "").replace(",", " ").split() if c.strip()):
        sequences.append({"ligand": {"id": next(ids), "ccdCodes": [code]}})
    return {"dialect": "alphafold3", "version": 1, "modelSeeds": list(range(1, max(1, int(seeds or 1)) + 1)),
            "sequences": sequences}


@callback(Output(SDF_NAME, "children"), Input(SDF, "filename"), prevent_initial_call=True)
def show_sdf_name(filename):
    """Name the chosen SDF file next to its button."""
    return filename or ""


@callback(
    Output(RESULT, "children"),
    Output(LIST, "children"),
    Input(SUBMIT, "n_clicks"),
    State(NAME, "value"), State(PROTEINS, "value"), State(COFACTORS, "value"), State(SEEDS, "value"),
    State(SMILES, "value"), State(CCD, "value"), State(SDF, "contents"), State(MUTATIONS, "value"),
    State(MUTATE_CHAIN, "value"), State(TERMS, "value"),
    prevent_initial_call=True,
)
def submit_screen(clicks, name, proteins, cofactors, seeds, smiles, ccd, sdf, mutations, chain, accepted):
    """Queue the screen: one job per member, all or none; say what was refused, naming each member."""
    if not clicks:
        return no_update, no_update
    sdf_text = base64.b64decode(sdf.split(",", 1)[1]) if sdf else b""
    spec = screens.ScreenSpec(name=name or "", shared=shared_input(proteins, cofactors, seeds), smiles=smiles or "",
                              ccd=ccd or "", sdf=sdf_text, mutations=mutations or "", mutate_chain=chain or "")
    try:
        made = screens.create_screen(conn(), settings(), require_account(), spec, accept_terms=bool(accepted),
                                     via="builder")
    except FoldDeckError as exc:
        problems = getattr(exc, "problems", [])
        return dbc.Alert([str(exc), html.Ul([html.Li(str(p)) for p in problems[:50]], className="mb-0")
                          if problems else None], color="danger", className="py-2"), no_update
    return dbc.Alert([html.I(className="bi bi-check-circle me-1"), f"{len(made.members)} jobs queued as screen ",
                      dcc.Link(f"#{made.id} {made.name}", href=f"/screens/{made.id}"), "."],
                     color="success", className="py-2", id=page_id(__name__, "queued")), _screen_list()
