"""Confidence plots of one sample: PAE map, pLDDT per token, chain-pair ipTM / PAE-min matrices.

The x axis of the pLDDT plot and both PAE axes are the same token index, so a range picked on
one is the same residues on the other. The PAE is an image with one pixel per token pair
(services.results.pae_image): a heatmap trace of 25 million cells would not draw. Plotly's image
trace takes only data URIs, so the server sends the figure and the PNG's address, and the
browser fetches the PNG (binary, cacheable) and puts it in (`LOAD_PAE_JS`). The hover line is
written by the page from the hovered pixel (`PAE_HOVER_JS`), in residues.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dash_app.components.graph_config import graph_config
from services.results import Confidences
from services.results import pae_image as pim

# AlphaFold's pLDDT bands, as its own viewers colour them
PLDDT_BANDS = ((90, 100, "#0053d6", "very high (> 90)"), (70, 90, "#65cbf3", "confident (70–90)"),
               (50, 70, "#ffdb13", "low (50–70)"), (0, 50, "#ff7d45", "very low (< 50)"))
PAE_MAX = pim.PAE_MAX  # Å; the top of the PAE image's colour scale (exact below it, "or more" at it)
GRAPH_CONFIG = graph_config(modeBarButtonsToRemove=["lasso2d", "autoScale2d"])
SMALL_CONFIG = graph_config(displayModeBar=False)
BORDER = {"color": "#2c3e50", "width": 1}
MARK = {"color": "#e74c3c", "width": 2}


def band_colour(plddt: float | None) -> str:
    """Return the colour of AF3's band that `plddt` falls in (grey when unknown)."""
    if plddt is None:
        return "#b4b4b4"
    return next(colour for low, _high, colour, _ in PLDDT_BANDS if plddt >= low)


def _chain_ticks(starts: list[tuple[str, int]], total: int) -> tuple[list[float], list[str]]:
    """Return tick positions at the middle of each chain, and their labels."""
    ends = [s for _, s in starts[1:]] + [total]
    return [(s + e - 1) / 2 for (_, s), e in zip(starts, ends, strict=True)], [c for c, _ in starts]


def pae_shapes(starts: list[list], total: int, mark: int | None = None) -> list[dict]:
    """Return the chain borders (and a clicked token's row and column) as heatmap shapes."""
    shapes = []
    for _, start in starts[1:]:
        edge = start - 0.5
        shapes += [{"type": "line", "x0": edge, "x1": edge, "y0": -0.5, "y1": total - 0.5, "line": BORDER},
                   {"type": "line", "y0": edge, "y1": edge, "x0": -0.5, "x1": total - 0.5, "line": BORDER}]
    if mark is not None:
        shapes += [{"type": "line", "x0": mark, "x1": mark, "y0": -0.5, "y1": total - 0.5, "line": MARK},
                   {"type": "line", "y0": mark, "y1": mark, "x0": -0.5, "x1": total - 0.5, "line": MARK}]
    return shapes


def pae_figure(conf: Confidences) -> go.Figure:
    """Return the PAE map (row = aligned on token i) with chain borders; `LOAD_PAE_JS` puts the image in.

    One pixel per token pair; when the job is larger than the image (`pae_block` > 1) each pixel
    is its block's minimum and the title says so.
    """
    block, total = conf.pae_block, len(conf.tokens)
    image = go.Image(source="", x0=(block - 1) / 2, dx=block, y0=(block - 1) / 2, dy=block, hoverinfo="none",
                     name="PAE")
    # the image carries no colour bar: an invisible point draws the scale
    scale = go.Scatter(x=[0], y=[0], mode="markers", hoverinfo="skip", showlegend=False,
                       marker={"color": [0], "cmin": 0, "cmax": PAE_MAX, "colorscale": pim.colour_scale(),
                               "opacity": 0, "showscale": True, "colorbar": {"title": {"text": "Å"}, "thickness": 12}})
    ticks, labels = _chain_ticks(conf.chain_starts, total)
    title = "Predicted aligned error"
    if block > 1:
        title += f" <span style='font-size:11px'>(each pixel: minimum of {block}×{block} tokens)</span>"
    fig = go.Figure([image, scale])
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=380, dragmode="select",
                      margin={"l": 40, "r": 10, "t": 40, "b": 40}, uirevision="pae", hovermode="closest",
                      shapes=pae_shapes([list(s) for s in conf.chain_starts], total), plot_bgcolor="white",
                      xaxis={"tickvals": ticks, "ticktext": labels, "title": "scored chain", "constrain": "domain",
                             "range": [-0.5, total - 0.5], "showgrid": False, "zeroline": False},
                      yaxis={"tickvals": ticks, "ticktext": labels, "title": "aligned chain",
                             "range": [total - 0.5, -0.5], "scaleanchor": "x", "showgrid": False, "zeroline": False})
    return fig


# Fetch the PNG, make it the image trace's data URI, and hand the figure to the graph.
LOAD_PAE_JS = """async (stored) => {
    if (!stored || !stored.figure) { return window.dash_clientside.no_update; }
    const fig = stored.figure;
    if (stored.source) {
        const answer = await fetch(stored.source, {credentials: 'same-origin'});
        if (!answer.ok) { throw new Error('PAE image: ' + answer.status); }
        const blob = await answer.blob();
        fig.data[0].source = await new Promise((resolve, reject) => {
            const reader = new FileReader();
            reader.onload = () => resolve(reader.result); reader.onerror = reject;
            reader.readAsDataURL(blob);
        });
    }
    return fig;
}"""


# The PAE's hover line: the hovered pixel's colour back to its value (nearest palette entry), and
# both tokens in residues. `tmap` is the page's token map (structure_viewer.token_map).
PAE_HOVER_JS = """(hover, tmap) => {
    const p = hover && hover.points && hover.points[0];
    if (!p || !tmap || !tmap.labels) { return ''; }
    const n = tmap.labels.length, clamp = (v) => Math.max(0, Math.min(n - 1, Math.round(v)));
    const row = tmap.labels[clamp(p.y)], col = tmap.labels[clamp(p.x)];
    const c = p.color || p.z;
    let value = '';
    if (c && tmap.palette) {
        let best = 0, bestD = Infinity;
        for (let k = 0; k < tmap.palette.length; k += 3) {
            const d = (c[0] - tmap.palette[k]) ** 2 + (c[1] - tmap.palette[k + 1]) ** 2
                + (c[2] - tmap.palette[k + 2]) ** 2;
            if (d < bestD) { bestD = d; best = k / 3; }
        }
        const top = best === tmap.palette.length / 3 - 1;
        value = ': PAE ' + (top ? '≥ ' : '') + (best * tmap.step).toFixed(1) + ' Å'
            + (tmap.block > 1 ? ' (block minimum)' : '');
    }
    return 'aligned on ' + row + ' · scored ' + col + value;
}"""


def plddt_shapes(starts: list[list], total: int, ranges: list[tuple[float, float]] = ()) -> list[dict]:
    """Return the band backgrounds, chain separators and highlighted token ranges of the pLDDT plot."""
    shapes = [{"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "y0": low, "y1": high, "fillcolor": colour,
               "opacity": 0.18, "line": {"width": 0}, "layer": "below"} for low, high, colour, _ in PLDDT_BANDS]
    shapes += [{"type": "line", "yref": "paper", "x0": s - 0.5, "x1": s - 0.5, "y0": 0, "y1": 1,
                "line": {"color": "#7b8a8b", "width": 1, "dash": "dot"}} for _, s in starts[1:]]
    shapes += [{"type": "rect", "yref": "paper", "x0": lo - 0.5, "x1": hi + 0.5, "y0": 0, "y1": 1,
                "fillcolor": MARK["color"], "opacity": 0.2, "line": {"width": 0}} for lo, hi in ranges]
    return shapes


def plddt_figure(conf: Confidences) -> go.Figure:
    """Return pLDDT per residue (polymers, a line) and per atom (ligands and modified residues, dots)."""
    residues = [(i, t) for i, t in enumerate(conf.tokens) if not t.atom]
    atoms = [(i, t) for i, t in enumerate(conf.tokens) if t.atom]
    fig = go.Figure()
    for points, mode, name in ((residues, "lines", "residues (polymer)"), (atoms, "markers", "ligand / per-atom")):
        if not points:
            continue
        fig.add_trace(go.Scatter(
            x=np.array([i for i, _ in points], dtype=np.int32),
            y=np.array([np.nan if t.plddt is None else t.plddt for _, t in points], dtype=np.float32),
            mode=mode, name=name,
            line={"color": "#2c3e50", "width": 1}, marker={"color": "#8e44ad", "size": 5},
            text=[t.label for _, t in points],
            hovertemplate="%{text}<br>pLDDT %{y:.1f}<extra></extra>", connectgaps=False))
    total = len(conf.tokens)
    ticks, labels = _chain_ticks(conf.chain_starts, total)
    fig.update_layout(title={"text": "pLDDT per residue (ligands per atom)", "font": {"size": 14}}, height=380,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40}, uirevision="plddt", clickmode="event",
                      legend={"orientation": "h", "y": -0.18, "x": 0}, hovermode="closest",
                      shapes=plddt_shapes([list(s) for s in conf.chain_starts], total),
                      xaxis={"tickvals": ticks, "ticktext": labels, "title": "chain", "range": [-0.5, total - 0.5]},
                      yaxis={"range": [0, 100], "title": "pLDDT"})
    return fig


def chain_pair_figure(matrix: list[list[float | None]], chain_ids: list[str], title: str, *, zmax: float,
                      colorscale: str, unit: str = "", diagonal: str = "") -> go.Figure:
    """Return a small chain x chain heatmap with the values written in the cells.

    The hover names both chains; `diagonal` names what the diagonal holds (chain_pair_iptm's
    diagonal is each chain's own pTM).
    """
    ids = chain_ids if len(chain_ids) == len(matrix) else [str(i + 1) for i in range(len(matrix))]
    text = [["—" if v is None else f"{v:.2f}" for v in row] for row in matrix]
    what = title.replace("chain-pair ", "")
    hover = [[(f"chain {a}: {diagonal or what}" if a == b and diagonal else f"chain {a} with chain {b}: {what}")
              + f" {t}{unit}" for b, t in zip(ids, row, strict=True)] for a, row in zip(ids, text, strict=True)]
    fig = go.Figure(go.Heatmap(z=matrix, x=ids, y=ids, zmin=0, zmax=zmax, colorscale=colorscale, text=text,
                               customdata=hover, texttemplate="%{text}" if len(ids) <= 8 else None, showscale=False,
                               hovertemplate="%{customdata}<extra></extra>"))
    side = 60 + 34 * max(1, len(ids))
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=min(side + 40, 360), width=None,
                      margin={"l": 30, "r": 10, "t": 30, "b": 25},
                      xaxis={"type": "category", "side": "top"}, yaxis={"type": "category", "autorange": "reversed"})
    return fig
