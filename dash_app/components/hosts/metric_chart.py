"""A time-series metric chart: drawn once from history, then extended live with extendData.

x values are server-local wall-clock strings, not epoch numbers: Plotly reads epoch ms as UTC, while
every other time in the UI is the server's local time, so the server converts each point once.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dash import dcc

from dash_app.components.graph_config import graph_config
from services.platform import defaults

Series = dict[str, tuple[list[float], list[float | None]]]  # key -> (unix seconds, values)


def local_x(ts: float) -> str:
    """Return epoch seconds as the server-local "YYYY-MM-DD HH:MM:SS.fff" a Plotly date axis shows as is."""
    # naive strings carry no zone, so the browser's own zone cannot shift them again
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def local_xs(timestamps: Sequence[float]) -> list[str]:
    """Return `local_x` of every timestamp, in order."""
    return [local_x(ts) for ts in timestamps]


def metric_chart(chart_id: str, height: int = 220) -> dcc.Graph:
    """Return an empty chart placeholder; `history_figure` fills it."""
    return dcc.Graph(id=chart_id, figure=empty_figure("", "loading..."), style={"height": f"{height}px"},
                     config=graph_config(modeBarButtonsToRemove=["lasso2d", "select2d"]))


def empty_figure(title: str, note: str) -> dict:
    """Return a blank chart with a centred note."""
    return {"data": [], "layout": {"title": {"text": title, "font": {"size": 14}},
                                   "margin": dict(l=50, r=10, t=30, b=30),
                                   "xaxis": {"visible": False}, "yaxis": {"visible": False},
                                   "annotations": [{"text": note, "showarrow": False, "xref": "paper", "yref": "paper",
                                                    "x": 0.5, "y": 0.5}]}}


def history_figure(series: Series, traces: Sequence[tuple[str, str]], title: str, unit: str, uirevision: str,
                   y_range: tuple[float, float] | None = None) -> dict:
    """Return a figure with one line per (key, label); x is server-local time on a date axis.

    `uirevision` keeps the user's zoom across extendData updates; it changes with host and range.
    """
    data = []
    for key, label in traces:
        xs, ys = series.get(key, ([], []))
        data.append({"type": "scattergl" if len(xs) > defaults.CHART_MAX_POINTS else "scatter", "mode": "lines",
                     "name": label, "x": local_xs(xs), "y": ys, "connectgaps": False,
                     "hovertemplate": f"%{{y:.1f}} {unit}<extra>{label}</extra>"})
    yaxis: dict = {"title": {"text": unit}, "rangemode": "tozero", "fixedrange": True}
    if y_range:
        yaxis.update(range=list(y_range), autorange=False)
    return {"data": data, "layout": {"title": {"text": title, "font": {"size": 14}}, "uirevision": uirevision,
                                     "margin": dict(l=50, r=10, t=30, b=30), "xaxis": {"type": "date"},
                                     "yaxis": yaxis, "showlegend": len(traces) > 1,
                                     "legend": {"orientation": "h", "y": -0.2}, "hovermode": "x unified"}}


def extend_data(points: Sequence[tuple[float, float | None]], max_points: int) -> tuple[dict, list[int], int]:
    """Return the extendData value appending one (unix seconds, value) point to each trace in order."""
    return ({"x": [[local_x(ts)] for ts, _ in points], "y": [[v] for _, v in points]}, list(range(len(points))),
            max_points)
