"""A Slurm cluster on the status and queue pages: partitions, node states, free GPUs and FoldDeck's jobs.

Everything comes from the sampler's tick (`board["clusters"]`, one sinfo per cluster per tick):
a page poll runs no Slurm command.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

STATES = ("idle", "mixed", "allocated", "down")


def summary(info: dict) -> str:
    """Return one line: "12 GPUs free · FoldDeck: 3 running, 5 pending in Slurm"."""
    ours = info.get("folddeck", {})
    mine = f"FoldDeck: {ours.get('running', 0)} running, {ours.get('pending', 0)} pending in Slurm"
    if info.get("error"):
        return f"Slurm does not answer: {info['error']} · {mine}"
    return f"{info.get('gpus_free', 0)} GPUs free · {mine}"


def partition_rows(info: dict) -> list:
    rows = []
    for name, p in sorted((info.get("partitions") or {}).items()):
        nodes = ", ".join(f"{p.get(s, 0)} {s}" for s in STATES if p.get(s))
        rows.append(html.Tr([html.Td(name), html.Td(nodes or "no nodes"),
                             html.Td(f"{p.get('gpus_free', 0)} of {p.get('gpus', 0)}")]))
    return rows


def cluster_card(name: str, info: dict) -> dbc.Col:
    """Return the status page's card of one Slurm host."""
    up = not info.get("error")
    body = [html.P(summary(info), className="small mb-2 fd-cluster-summary")]
    if up:
        body.append(dbc.Table([html.Thead(html.Tr([html.Th("partition"), html.Th("nodes"), html.Th("GPUs free")])),
                               html.Tbody(partition_rows(info))], size="sm", className="mb-0 fd-cluster-partitions"))
    badge = dbc.Badge("Slurm" if up else "Slurm down", color="info" if up else "danger", className="fd-host-state")
    card = dbc.Card([dbc.CardHeader([html.Strong(name, className="me-2"), badge]), dbc.CardBody(body)],
                    className="h-100 fd-cluster-card")
    return dbc.Col(html.Div(card, className="h-100", **{"data-cluster": name}), md=6, xl=4)
