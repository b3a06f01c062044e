"""The builder's problems and size, rendered: the live panel, the lines under each field, and the alerts."""
from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import html

from dash_app.builder import entity_card as EC
from dash_app.builder import state as B
from dash_app.builder.ids import BOND_ATOM, ERROR, LOADED, NAME, NO_PROBLEMS_YET, PROBLEM, SEED_INPUT, VALID
from dash_app.builder.problems import Evaluation, Location, locate, shown_problems
from dash_app.components.jobs.size_badge import size_badge
from services.af3 import rules as R

MAX_PROBLEMS_SHOWN = 50  # a pasted genome would list thousands; the first fifty say enough


def live_outputs(state: dict, ev: Evaluation) -> tuple:
    """Return the live panel's outputs for an evaluation (problems of untouched fields wait for a submit)."""
    visible = shown_problems(state, ev.problems)
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


def field_feedback(state: dict, ev: Evaluation, slots: list[tuple[int, str]]) -> list:
    """Return, for each (card uid, field) slot, that field's problems; a problem whose field has no slot goes
    to the card's "card" slot, so every problem shows exactly once on its card."""
    by_uid = {e["uid"]: e for e in state["entities"]}
    position = {e["uid"]: i for i, e in enumerate(state["entities"])}
    visible = {id(p) for p in shown_problems(state, ev.problems)}
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


def _problem_list(state: dict, ev: Evaluation, visible: list) -> tuple[object, list[str]]:
    """Return the clickable problem list (the problems shown so far) and the DOM id each item focuses."""
    if not ev.problems:
        return dbc.Alert([html.I(className="bi bi-check-circle me-1"), "No problems: this input is valid."],
                         color="success", className="py-2 mb-0", id=VALID), []
    if not visible:
        return html.P("Problems show here as you fill in the fields.", className="small text-muted mb-0",
                      id=NO_PROBLEMS_YET), []
    items, targets = [], []
    for k, p in enumerate(visible[:MAX_PROBLEMS_SHOWN]):
        loc = locate(p.path)
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


def _where(state: dict, loc: Location) -> str:
    """Name the card and field of a problem for people ("Protein 1 · sequence")."""
    if loc.card is None:
        return {"name": "Job name", "seeds": "Seeds", "bonds": "Bonds"}.get(loc.field, "Job")
    if loc.card >= len(state["entities"]):
        return f"Entity {loc.card + 1}"
    e = state["entities"][loc.card]
    return f"{B.KIND_LABEL[e['kind']]} {loc.card + 1} · {loc.field}"


def target_id(state: dict, loc: Location, path: str) -> dict | str:
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


def loaded_with_problems(name: str, problems: list[str], notes: list[str]) -> dbc.Alert:
    """Return the note for a file loaded with problems, listed as the Upload page words them."""
    return dbc.Alert([f"Loaded {name}; it has {len(problems)} problem{'s' * (len(problems) != 1)}, marked at "
                      "their fields below. Fix them to submit.",
                      html.Ul([html.Li(p) for p in problems[:10]], className="mb-0 small fd-load-problems"),
                      *[html.Div(n, className="small") for n in notes]],
                     color="warning", dismissable=True, className="py-2", id=LOADED)


def info_note(text: str, notes: list[str]) -> dbc.Alert:
    """Return an info alert with extra notes."""
    return dbc.Alert([text, *[html.Div(n, className="small") for n in notes]], color="info", dismissable=True,
                     className="py-2")


def error_alert(message: str, problems: list) -> dbc.Alert:
    """Return a danger alert for a service error with its first problems."""
    items = [html.Li(f"{p.path}: {p.message}" if getattr(p, "path", "") else getattr(p, "message", str(p)))
             for p in problems[:10]]
    return dbc.Alert([message, html.Ul(items, className="mb-0 small") if items else None], color="danger",
                     dismissable=True, className="py-2", id=ERROR)
