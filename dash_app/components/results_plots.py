"""Confidence plots of a finished job's best model: predicted aligned error and pLDDT."""
from __future__ import annotations

import plotly.graph_objects as go
from dash import dcc, html

from services.results import Confidences

# AlphaFold's pLDDT bands, as its own viewers colour them
PLDDT_BANDS = ((90, 100, "#0053d6", "very high (> 90)"), (70, 90, "#65cbf3", "confident (70–90)"),
               (50, 70, "#ffdb13", "low (50–70)"), (0, 50, "#ff7d45", "very low (< 50)"))
PAE_MAX = 30.0  # Å; AF3 clamps at 99.9 but anything above ~30 reads as "no idea" alike
GRAPH_CONFIG = {"displaylogo": False,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def _chain_ticks(starts: list[tuple[str, int]], total: int, scale: float = 1.0) -> tuple[list[float], list[str]]:
    """Return tick positions at the middle of each chain, and their labels."""
    ends = [s for _, s in starts[1:]] + [total]
    return [((s + e) / 2) / scale for (_, s), e in zip(starts, ends, strict=True)], [c for c, _ in starts]


def pae_figure(conf: Confidences) -> go.Figure:
    """Return the PAE heatmap (row = aligned on token i), chain borders drawn as lines."""
    block, n = conf.pae_block, len(conf.pae)
    centres = [block * (i + 0.5) for i in range(n)]
    fig = go.Figure(go.Heatmap(z=conf.pae, x=centres, y=centres, zmin=0, zmax=PAE_MAX, colorscale="Greens_r",
                               colorbar={"title": {"text": "Å"}, "thickness": 12},
                               hovertemplate="aligned on token %{y:.0f}<br>token %{x:.0f}<br>%{z:.1f} Å"
                                             "<extra></extra>"))
    for _, start in conf.chain_starts[1:]:
        for axis in ("x", "y"):
            fig.add_shape(type="line", line={"color": "#2c3e50", "width": 1},
                          **({"x0": start, "x1": start, "y0": 0, "y1": conf.tokens} if axis == "x"
                             else {"y0": start, "y1": start, "x0": 0, "x1": conf.tokens}))
    ticks, labels = _chain_ticks(conf.chain_starts, conf.tokens)
    fig.update_layout(title={"text": "Predicted aligned error", "font": {"size": 14}}, height=380,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40}, uirevision="pae",
                      xaxis={"tickvals": ticks, "ticktext": labels, "title": "scored chain", "constrain": "domain"},
                      yaxis={"tickvals": ticks, "ticktext": labels, "title": "aligned chain", "autorange": "reversed",
                             "scaleanchor": "x"})
    return fig


def plddt_figure(conf: Confidences) -> go.Figure:
    """Return per-atom pLDDT over the model with AlphaFold's confidence bands behind it."""
    atoms = len(conf.plddt) * conf.plddt_step
    fig = go.Figure(go.Scatter(x=[i * conf.plddt_step for i in range(len(conf.plddt))], y=conf.plddt,
                               mode="lines", line={"color": "#2c3e50", "width": 1}, name="pLDDT",
                               hovertemplate="atom %{x}<br>pLDDT %{y:.1f}<extra></extra>"))
    for low, high, colour, _label in PLDDT_BANDS:
        fig.add_hrect(y0=low, y1=high, fillcolor=colour, opacity=0.18, line_width=0, layer="below")
    for _, start in conf.atom_chain_starts[1:]:
        fig.add_vline(x=start, line={"color": "#7b8a8b", "width": 1, "dash": "dot"})
    ticks, labels = _chain_ticks(conf.atom_chain_starts, atoms)
    fig.update_layout(title={"text": "pLDDT per atom", "font": {"size": 14}}, height=380, showlegend=False,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40}, uirevision="plddt",
                      xaxis={"tickvals": ticks, "ticktext": labels, "title": "chain"},
                      yaxis={"range": [0, 100], "title": "pLDDT"})
    return fig


def confidence_plots(conf: Confidences | None, id_prefix: str) -> html.Div:
    """Return the two plots side by side, or a one-line note when they cannot be drawn."""
    if conf is None:
        return html.Div()
    if conf.note:
        return html.P(conf.note, className="text-muted small mb-0", id=f"{id_prefix}-note")
    legend = html.Div([html.Span([html.Span(className="fd-swatch", style={"background": c}), label],
                                 className="me-3") for _, _, c, label in PLDDT_BANDS], className="small mt-1")
    scale = f"one cell = {conf.pae_block} × {conf.pae_block} tokens" if conf.pae_block > 1 else ""
    return html.Div([
        html.Div([dcc.Graph(figure=pae_figure(conf), config=GRAPH_CONFIG, id=f"{id_prefix}-pae",
                            style={"height": "380px"}),
                  html.Div(scale, className="small text-muted")], className="col-lg-6"),
        html.Div([dcc.Graph(figure=plddt_figure(conf), config=GRAPH_CONFIG, id=f"{id_prefix}-plddt",
                            style={"height": "380px"}), legend],
                 className="col-lg-6"),
    ], className="row mt-3")
