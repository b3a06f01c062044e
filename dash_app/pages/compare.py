"""Engines compared (`/jobs/<id>/compare`): one input's predictions by several engines on one page (issue 29).

The engines' top models superposed on a chosen chain, pairwise RMSD and TM-score, confidences per
chain and per interface side by side with a verdict, ligand placement, Boltz-2's affinity, and the PAE
maps on one scale. Everything is read when the page opens or the chain changes, never on a timer;
the job id in the Store is checked against the logged-in user by the service on every read.
"""
from __future__ import annotations

import base64

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from dash_app.components.graph_config import graph_config
from dash_app.components.results import results_plots as rp
from dash_app.context import conn, require_account, settings
from dash_app.ids import page_id
from services.operations.engine_compare import GroupView, compare_group
from services.platform.errors import FoldDeckError, JobNotFound

dash.register_page(__name__, path_template="/jobs/<job_id>/compare", name="Engines compared", nav=False)

CHAIN, JOB, BODY = (page_id(__name__, x) for x in ("chain", "job", "body"))
COLOURS = ("#2c3e50", "#e67e22", "#18bc9c", "#8e44ad", "#c0392b")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(head: list[str], rows: list[list]) -> dbc.Table:
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                      html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows])],
                     size="sm", bordered=True, className="mb-3")


def _runs_table(view: GroupView) -> dbc.Table:
    rows = []
    for run in view.runs:
        best = run.outputs.samples[0] if run.outputs and run.outputs.samples else None
        rows.append([html.A(f"#{run.job.id}", href=f"/jobs/{run.job.id}"), run.engine.label, run.job.state.value,
                     _fmt(best.score.ranking_score, 3) if best else "—", _fmt(best.score.ptm) if best else "—",
                     _fmt(best.score.iptm) if best else "—", _fmt(best.plddt, 1) if best else "—",
                     run.job.error or "; ".join(run.outputs.notes if run.outputs else [])])
    return _table(["job", "engine", "state", "ranking", "pTM", "ipTM", "mean pLDDT", "note"], rows)


def superposition_figure(view: GroupView) -> go.Figure:
    """Return the top models' traces (CA, C1') and ligands, superposed on the chosen chain, one colour each."""
    fig = go.Figure()
    for k, side in enumerate(view.comparison.sides):
        colour = COLOURS[k % len(COLOURS)]
        for chain, xyz in side.trace.items():
            fig.add_trace(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines",
                                       name=f"{side.label} {chain}", legendgroup=side.label,
                                       line={"color": colour, "width": 4}))
        for chain, xyz in side.ligands.items():
            fig.add_trace(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers",
                                       name=f"{side.label} ligand {chain}", legendgroup=side.label,
                                       marker={"color": colour, "size": 3}))
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 30, "b": 0}, uirevision="superposition",
                      title={"text": f"Top models superposed on chain {view.comparison.chain}", "font": {"size": 14}},
                      scene={"aspectmode": "data", "xaxis": {"visible": False}, "yaxis": {"visible": False},
                             "zaxis": {"visible": False}})
    return fig


def _matrix(labels: list[str], values: list[list[float | None]], digits: int) -> dbc.Table:
    return _table([""] + labels, [[a] + [_fmt(v, digits) for v in row] for a, row in zip(labels, values, strict=True)])


def _chain_ptm(view: GroupView) -> dbc.Table:
    sides = view.comparison.sides
    chains = list(dict.fromkeys(c for s in sides for c in s.sample.chain_ptm))
    return _table(["chain"] + [s.label for s in sides],
                  [[c] + [_fmt(s.sample.chain_ptm.get(c)) for s in sides] for c in chains])


def _interfaces(view: GroupView) -> dbc.Table:
    sides = view.comparison.sides
    colour = {"agree: confident": "success", "agree: not confident": "secondary", "disagree": "warning"}
    return _table(["interface"] + [s.label for s in sides] + ["verdict"],
                  [[r["chains"]] + [_fmt(r["iptm"].get(s.label)) for s in sides]
                   + [dbc.Badge(r["verdict"], color=colour.get(r["verdict"], "light"))]
                   for r in view.comparison.interfaces])


def _ligands(view: GroupView) -> list:
    labels = [s.label for s in view.comparison.sides]
    out = []
    for chain, matrix in view.comparison.ligand_shift.items():
        out += [html.H6(f"Ligand {chain}: distance to the nearest equivalent ligand (Å)"), _matrix(labels, matrix, 1)]
    return out


def _affinity(view: GroupView) -> list:
    cards = []
    for run in view.runs:
        if run.outputs and run.outputs.affinity:
            a = run.outputs.affinity
            cards.append(dbc.Alert([html.Strong(f"{run.engine.label} binding affinity: "),
                                    f"log10(IC50 / µM) {_fmt(a.get('affinity_pred_value'))}, probability of binding "
                                    f"{_fmt(a.get('affinity_probability_binary'))}"], color="info"))
    return cards


def _pae_row(view: GroupView) -> dbc.Row:
    cols = []
    for run in view.runs:
        out = run.outputs
        conf = out.confidences(out.samples[0]) if out and out.samples and out.confidences else None
        if conf is None or conf.note:
            body = html.P(conf.note if conf else f"{run.engine.label} wrote no PAE.", className="text-muted")
        else:
            fig = rp.pae_figure(conf)  # the same colour scale for every engine
            fig.data[0].source = "data:image/png;base64," + base64.b64encode(conf.pae_png).decode()
            fig.update_layout(title={"text": f"{run.engine.label}: predicted aligned error"})
            body = dcc.Graph(figure=fig, config=graph_config())
        cols.append(dbc.Col(body, md=12 // max(1, min(3, len(view.runs)))))
    return dbc.Row(cols)


def body(view: GroupView) -> list:
    """Return the page's content for a group (runs, and the comparison once two engines have models)."""
    out = [html.H5("Engines"), _runs_table(view), *_affinity(view)]
    if view.comparison is None:
        return out + [dbc.Alert("The comparison appears once two engines have finished with models.", color="light")]
    labels = [s.label for s in view.comparison.sides]
    return out + [
        dcc.Graph(figure=superposition_figure(view), config=graph_config()),
        *[dbc.Alert(n, color="warning") for n in view.comparison.notes],
        dbc.Row([dbc.Col([html.H6("RMSD over polymer residues (Å)"), _matrix(labels, view.comparison.rmsd, 2)]),
                 dbc.Col([html.H6("TM-score"), _matrix(labels, view.comparison.tm, 3)])]),
        html.H5("Confidence per chain (pTM)"), _chain_ptm(view),
        html.H5("Interfaces (ipTM) and whether the engines agree"), _interfaces(view),
        *_ligands(view),
        html.H5("Predicted aligned error, one scale"), _pae_row(view)]


def layout(job_id: str | None = None, **_query) -> html.Div:
    """Return the comparison of the group job `job_id` belongs to (a job one may not see: not found)."""
    user = require_account()
    try:
        view = compare_group(conn(), settings(), user, int(job_id or 0))
    except (JobNotFound, ValueError):
        return html.Div(dbc.Alert("No such job.", color="warning"), className="container py-3")
    name = view.runs[0].job.name
    chooser = dcc.Dropdown(id=CHAIN, options=view.chains, value=view.comparison.chain if view.comparison else None,
                           clearable=False, style={"maxWidth": "12rem"}) if view.chains else html.Div(id=CHAIN)
    return html.Div([dcc.Store(id=JOB, data=int(job_id)), html.H3(f"{name}: engines compared"),
                     html.Div([html.Span("Superpose on chain ", className="me-2"), chooser],
                              className="d-flex align-items-center mb-3"),
                     html.Div(body(view), id=BODY)], className="container-fluid py-3")


@callback(Output(BODY, "children"), Input(CHAIN, "value"), State(JOB, "data"), prevent_initial_call=True)
def superpose_on_chain(chain: str | None, job_id: int) -> list:
    """Re-compare the group superposed on the chosen chain."""
    try:
        return body(compare_group(conn(), settings(), require_account(), int(job_id), chain))
    except FoldDeckError as exc:
        return [dbc.Alert(str(exc), color="warning")]


