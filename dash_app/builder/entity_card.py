"""One builder card per entity (protein, RNA, DNA, ligand, ion), with pattern-matching ids keyed by the card uid.

Every field's id is `{"type": <one of the constants below>, "index": uid}` (modification rows add `"row"`),
so the builder's callbacks read them all with ALL and a card's own widgets talk to each other with MATCH.
"""
from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import dcc, html

from dash_app.builder.state import ION_CHOICES, KIND_LABEL, LIGAND_CHOICES, MAX_COPIES
from services.af3.chem.ccd import Hit, ccd_info, try_ccd

# pattern-matching id types, written once
CARD = "builder-card"
SEQ = "builder-seq"
COPIES = "builder-copies"
CHAINS = "builder-chains"
MOD_CODE = "builder-mod-code"
MOD_POS = "builder-mod-pos"
MOD_ADD = "builder-mod-add"
MOD_DEL = "builder-mod-del"
MSA_MODE = "builder-msa-mode"
MSA_BOX = "builder-msa-box"
MSA_TEXT = "builder-msa-text"
MSA_UPLOAD = "builder-msa-upload"
TPL_MODE = "builder-tpl-mode"
LIG_MODE = "builder-lig-mode"
LIG_PICK = "builder-lig-pick"  # type-ahead search over the whole CCD
LIG_KIND = "builder-lig-kind"  # store: "ligand" or "ion", so the search knows what to list
LIG_SHORT = "builder-lig-short"  # one-click AlphaFold Server shortcut buttons; ids add "code"
CCD = "builder-ccd"
CCD_BOX = "builder-ccd-box"
SMILES = "builder-smiles"
SMILES_BOX = "builder-smiles-box"
DUP = "builder-dup"
DEL = "builder-del"
FIELD_PROBLEMS = "builder-field-problems"  # {"type", "index": uid, "field": a builder.problems.Location field}

KIND_ICON = {"protein": "bi-link-45deg", "rna": "bi-bezier2", "dna": "bi-bezier", "ligand": "bi-hexagon",
             "ion": "bi-circle-fill"}
KIND_HINT = {
    "protein": "One-letter amino-acid codes, e.g. MKTAYIAKQR… Spaces and line breaks are ignored.",
    "rna": "RNA bases A, C, G, U. Spaces and line breaks are ignored.",
    "dna": "DNA bases A, C, G, T (one strand; add a second DNA card for the other strand).",
}


def pid(kind: str, uid: int, **extra: int | str) -> dict:
    """Return the pattern-matching id of a card field."""
    return {"type": kind, "index": uid, **extra}


def dom_id(component_id: dict | str) -> str:
    """Return the DOM id Dash renders for a component id (dict ids: JSON with sorted keys, no spaces)."""
    if isinstance(component_id, str):
        return component_id
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


def entity_card(entity: dict, position: int) -> dbc.Card:
    """Return the card for one entity of the form state."""
    uid, kind = entity["uid"], entity["kind"]
    body = _polymer_body(entity) if kind in ("protein", "rna", "dna") else _ligand_body(entity)
    header = dbc.CardHeader(html.Div([
        html.I(className=f"bi {KIND_ICON[kind]} me-2", **{"aria-hidden": "true"}),
        html.Strong(f"{KIND_LABEL[kind]} {position + 1}", className="me-2"),
        dbc.Badge("", id=pid(CHAINS, uid), color="secondary", className="fd-chains me-auto",
                  title="Chain ids this entity gets"),
        dbc.Button(html.I(className="bi bi-copy"), id=pid(DUP, uid), color="link", size="sm",
                   title=f"Duplicate {KIND_LABEL[kind]} {position + 1}"),
        dbc.Button(html.I(className="bi bi-trash"), id=pid(DEL, uid), color="link", size="sm",
                   className="text-danger", title=f"Remove {KIND_LABEL[kind]} {position + 1}"),
    ], className="d-flex align-items-center"))
    return dbc.Card([header, dbc.CardBody([*body, field_slot(uid, "card")])],
                    id=pid(CARD, uid), className=f"fd-entity-card fd-kind-{kind} mb-3 shadow-sm")


def field_slot(uid: int, field: str) -> html.Div:
    """Return the place under a field where its own problems appear (each problem shows once, here)."""
    return html.Div(id=pid(FIELD_PROBLEMS, uid, field=field), className=f"small fd-field-problems fd-for-{field}",
                    **{"aria-live": "polite"})


def _label(text: str, target: dict) -> dbc.Label:
    """Return a label bound to a pattern-matching input (screen readers and click-to-focus)."""
    return dbc.Label(text, html_for=dom_id(target), className="fw-semibold small mb-1")


def hidden_label(text: str, target: dict | str) -> dbc.Label:
    """Return a label only screen readers see (dbc.Input takes no title or aria-label)."""
    return dbc.Label(text, html_for=dom_id(target), className="visually-hidden")


def _copies_row(entity: dict) -> html.Div:
    """Return the copies input and the chain ids it turns into."""
    uid = entity["uid"]
    return html.Div([dbc.Row([
        dbc.Col([_label("Copies", pid(COPIES, uid)),
                 dbc.Input(id=pid(COPIES, uid), type="number", min=1, max=MAX_COPIES, step=1,
                           value=entity.get("copies"), size="sm")], width=4, md=3),
        dbc.Col(html.Small("Each copy is its own chain; chain ids are given in card order.",
                           className="text-muted"), className="d-flex align-items-end"),
    ], className="g-2"), field_slot(uid, "copies")], className="mb-2")


def _polymer_body(entity: dict) -> list:
    """Return the fields of a protein, RNA or DNA card."""
    uid, kind = entity["uid"], entity["kind"]
    parts = [
        _label("Sequence", pid(SEQ, uid)),
        dbc.Textarea(id=pid(SEQ, uid), value=entity.get("sequence", ""), rows=3, spellCheck=False,
                     placeholder=KIND_HINT[kind], className="font-monospace fd-seq", debounce=False),
        field_slot(uid, "sequence"),
        _copies_row(entity),
        _mods_block(entity),
    ]
    if kind in ("protein", "rna"):
        parts.append(_msa_block(entity))
    return parts


def _mods_block(entity: dict) -> html.Div:
    """Return the modification rows (CCD code + 1-based position) and the add button."""
    uid = entity["uid"]
    noun = "PTM" if entity["kind"] == "protein" else "modified base"
    rows = [dbc.Row([
        dbc.Col([hidden_label(f"Modification {r + 1} CCD code", pid(MOD_CODE, uid, row=r)),
                 dbc.Input(id=pid(MOD_CODE, uid, row=r), value=m.get("code", ""), placeholder="CCD code, e.g. SEP",
                           size="sm", maxLength=5)], width=5),
        dbc.Col([hidden_label(f"Modification {r + 1} position", pid(MOD_POS, uid, row=r)),
                 dbc.Input(id=pid(MOD_POS, uid, row=r), value=m.get("position"), type="number", min=1, step=1,
                           placeholder="position", size="sm")], width=4),
        dbc.Col(dbc.Button(html.I(className="bi bi-x-lg"), id=pid(MOD_DEL, uid, row=r), color="link", size="sm",
                           title=f"Remove modification {r + 1}"), width=3),
    ], className="g-2 mb-1") for r, m in enumerate(entity.get("mods") or [])]
    return html.Div([
        html.Div([html.Span("Modifications", className="fw-semibold small me-2"),
                  dbc.Button([html.I(className="bi bi-plus-lg me-1"), f"Add {noun}"], id=pid(MOD_ADD, uid),
                             color="secondary", outline=True, size="sm")], className="d-flex align-items-center mb-1"),
        *rows,
        field_slot(uid, "mods"),
    ], className="mb-2")


def _msa_block(entity: dict) -> html.Div:
    """Return MSA mode (search / none / custom A3M) and, for proteins, template mode."""
    uid = entity["uid"]
    custom_hidden = entity.get("msa_mode") != "custom"
    parts = [
        _label("MSA", pid(MSA_MODE, uid)),
        dbc.RadioItems(id=pid(MSA_MODE, uid), value=entity.get("msa_mode", "auto"), inline=True, className="small",
                       options=[{"label": "Automatic search", "value": "auto"},
                                {"label": "None (single sequence)", "value": "none"},
                                {"label": "Custom A3M", "value": "custom"}]),
        html.Div([
            dbc.Textarea(id=pid(MSA_TEXT, uid), value=entity.get("msa_text", ""), rows=3, spellCheck=False,
                         placeholder=">query\nMKTAYIAKQR…", className="font-monospace small",
                         title="Custom MSA in A3M format"),
            dcc.Upload(id=pid(MSA_UPLOAD, uid), accept=".a3m,.txt,text/plain", className="fd-drop small mt-1",
                       children=html.Span([html.I(className="bi bi-upload me-1"), "or drop / choose an .a3m file"])),
        ], id=pid(MSA_BOX, uid), className="mb-2", hidden=custom_hidden),
        field_slot(uid, "msa"),
    ]
    if entity["kind"] == "protein":
        parts += [
            _label("Templates", pid(TPL_MODE, uid)),
            dbc.RadioItems(id=pid(TPL_MODE, uid), value=entity.get("template_mode", "auto"), inline=True,
                           className="small", options=[{"label": "Automatic search", "value": "auto"},
                                                       {"label": "None", "value": "none"}]),
            field_slot(uid, "templates"),
        ]
    return html.Div(parts, className="fd-msa")


# The AlphaFold Server's own ligands and ions, one click each (the search reaches every other CCD component).
SHORTCUTS = {"ligand": LIGAND_CHOICES, "ion": ION_CHOICES}
WORDING = {
    "ligand": {"search": "Search the CCD by name or code", "placeholder": "Type a name or code, e.g. heme, NAD, ATP",
               "codes": "CCD code(s)", "example": "e.g. ATP  (glycans: NAG, NAG)",
               "shortcuts": "AlphaFold Server ligands"},
    "ion": {"search": "Search ions (single-atom components) by name or symbol",
            "placeholder": "Type an element or code, e.g. zinc, MG", "codes": "Ion CCD code",
            "example": "e.g. MG", "shortcuts": "AlphaFold Server ions"},
}


def hit_option(hit: Hit, query: str) -> dict:
    """Return a search hit as a dropdown option: code, name, formula, heavy atoms.

    The dropdown also filters in the browser (over `search`); the query the server answered as every
    option's search text keeps all of them (`search_order="original"` keeps the server's ranking).
    """
    label = f"{hit.code} — {hit.name} · {hit.formula or 'no formula'} · {hit.heavy_atoms} heavy atoms"
    return {"label": label, "value": hit.code, "search": query or f"{hit.code} {hit.name}"}


def _shortcut_options(kind: str) -> list[dict]:
    """Return the shortcuts as picker options, so the opened picker shows them before anything is typed."""
    index = try_ccd()
    comps = [index.get(code) if index else None for code, _ in SHORTCUTS[kind]]
    return [hit_option(Hit(c.code, c.name, c.formula, c.heavy_atoms, c.type), "") for c in comps if c]


def _ligand_body(entity: dict) -> list:
    """Return the fields of a ligand or ion card: shortcuts, CCD search, CCD code(s) or SMILES, copies."""
    uid, kind = entity["uid"], entity["kind"]
    words = WORDING[kind]
    smiles_mode = entity.get("ligand_mode") == "smiles"
    parts = []
    if kind == "ligand":
        parts.append(dbc.RadioItems(
            id=pid(LIG_MODE, uid), value=entity.get("ligand_mode", "ccd"), inline=True, className="small mb-1",
            options=[{"label": "CCD code(s)", "value": "ccd"}, {"label": "SMILES", "value": "smiles"}]))
    shortcuts = [dbc.Button(code, id=pid(LIG_SHORT, uid, code=code), title=label, size="sm", color="secondary",
                            outline=True, className="me-1 mb-1 font-monospace fd-shortcut")
                 for code, label in SHORTCUTS[kind]]
    parts += [
        dcc.Store(id=pid(LIG_KIND, uid), data=kind),
        html.Div([
            html.Div(words["shortcuts"], className="fw-semibold small mb-1"),
            html.Div(shortcuts, className="mb-2"),
            _label(words["search"], pid(LIG_PICK, uid)),
            dcc.Dropdown(id=pid(LIG_PICK, uid), options=_shortcut_options(kind), placeholder=words["placeholder"],
                         clearable=True, searchable=True, search_order="original", className="mb-1 fd-pick"),
            html.Small(ccd_info(), className="text-muted d-block mb-2 fd-ccd-info"),
            _label(words["codes"], pid(CCD, uid)),
            dbc.Input(id=pid(CCD, uid), value=entity.get("ccd", ""), placeholder=words["example"],
                      size="sm", className="font-monospace"),
            field_slot(uid, "ccd"),
        ], id=pid(CCD_BOX, uid), hidden=smiles_mode, className="mb-2"),
        html.Div([
            _label("SMILES", pid(SMILES, uid)),
            dbc.Input(id=pid(SMILES, uid), value=entity.get("smiles", ""), placeholder="e.g. CC(=O)Oc1ccccc1C(=O)O",
                      size="sm", className="font-monospace"),
            field_slot(uid, "smiles"),
        ], id=pid(SMILES_BOX, uid), hidden=not smiles_mode, className="mb-2"),
        _copies_row(entity),
    ]
    return parts
