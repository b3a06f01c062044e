"""Status (`/status`): a card per host and time-series charts with a range selector.

Reads only the snapshot store and the history DB (the sampler writes both); one dcc.Interval
drives `refresh_status`, which extends the live charts with extendData and answers no_update
when the sampler has not ticked since the last poll (only the stale-sampler alert still updates).
The queue length and the running jobs per host come from the store too (`jobs.job_board`, once
per sampler tick for every viewer), so a poll reads no job rows.
Host cards also show hosts that workers rest after a failed SSH connect (`jobs.host_backoffs`).
Cards are rendered once per sampler tick and role in each web worker, each with a token; the cursor
keeps the tokens of the cards the page shows, and a tick sends (as a Patch) only the cards whose
token moved.
"""
from __future__ import annotations

import json
import os
import time
import zlib

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, Patch, State, callback, dcc, html, no_update

from dash_app import context
from dash_app.components.hosts.host_rest import resting_badge, resting_line
from dash_app.components.hosts.metric_chart import empty_figure, extend_data, history_figure, metric_chart
from dash_app.components.hosts.slurm_cluster import cluster_card
from services import jobs as jobs_service
from services.metrics import history
from services.metrics.jobgpu import owns
from services.metrics.model import HostSnapshot, series
from services.metrics.store import Latest, SnapshotStore, cache_dir
from services.platform import defaults

SAMPLER_ALERT = "status-sampler-alert"

dash.register_page(__name__, path="/status", name="Status", order=30, icon="bi-activity")

INTERVAL = "status-interval"
CURSOR = "status-cursor"
CARDS = "status-cards"
ALERT = "status-alert"
RANGE = "status-range"
HOST = "status-host"
GPU_SECTION = "status-gpu-section"
RANGES = {"15 min": 900, "1 h": 3600, "6 h": 6 * 3600, "24 h": 86400, "7 d": 7 * 86400, "30 d": 30 * 86400}
DEFAULT_RANGE = "1 h"
# chart id -> (title, unit, key suffix for GPUs or the host key, fixed y range)
CHARTS = {
    "status-chart-cpu": ("CPU", "%", "c", (0, 100)),
    "status-chart-mem": ("Memory used", "%", "m", (0, 100)),
    "status-chart-gpu-util": ("GPU utilisation", "%", "u", (0, 100)),
    "status-chart-gpu-mem": ("GPU memory used", "MiB", "m", None),
    "status-chart-gpu-temp": ("GPU temperature", "°C", "t", None),
    "status-chart-gpu-power": ("GPU power", "W", "p", None),
}
GPU_CHARTS = [c for c in CHARTS if c.startswith("status-chart-gpu")]
_stores: dict[tuple[int, str], SnapshotStore] = {}
_decoded: dict[tuple[int, str], Latest] = {}  # this worker's decoded latest tick
_rendered: dict[tuple, tuple[list, list[str]]] = {}  # this worker's cards and their tokens per (tick, role, resting)


def _store() -> SnapshotStore:
    """Return this process's handle on the snapshot store."""
    s = context.settings()
    key = (os.getpid(), str(s.data_dir))
    if key not in _stores:
        _stores[key] = SnapshotStore(cache_dir(s.data_dir))
    return _stores[key]


def _latest(seq: int) -> Latest:
    """Return the store's latest tick, decoded once per tick in this worker (every viewer asks for it)."""
    key = (os.getpid(), str(context.settings().data_dir))
    hit = _decoded.get(key)
    if hit is None or hit.seq != seq:
        hit = _decoded[key] = _store().latest()
    return hit


def layout(**_query) -> html.Div:
    latest = _store().latest()
    names = [h.host for h in latest.hosts]
    return html.Div([
        html.H1("Status", className="h3"),
        html.Div(_alert(latest.ts), id=ALERT),
        dbc.Row(_cards(latest.hosts, latest.jobs), id=CARDS, className="g-3 mb-4"),
        html.Div(readiness_list(), id=READINESS, className="mb-4"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id=HOST, options=names, value=names[0] if names else None, clearable=False,
                                 placeholder="host"), md=3),
            dbc.Col(dbc.RadioItems(id=RANGE, options=list(RANGES), value=DEFAULT_RANGE, inline=True,
                                   inputClassName="btn-check", labelClassName="btn btn-outline-primary btn-sm",
                                   labelCheckedClassName="active", className="btn-group"), md=9),
        ], className="mb-2 align-items-center"),
        dbc.Row([dbc.Col(metric_chart(c), lg=6) for c in CHARTS if c not in GPU_CHARTS]),
        dbc.Row([dbc.Col(metric_chart(c), lg=6) for c in GPU_CHARTS], id=GPU_SECTION),
        # one poll per sampler tick: polling faster only returns no_update
        dcc.Interval(id=INTERVAL, interval=max(1000, int(context.settings().sample_interval * 1000))),
        dcc.Store(id=CURSOR),
    ])


def sampler_stale_message(ts: float, interval: float, now: float) -> str | None:
    """Return why the metrics are not fresh (no snapshot, or none for 3 ticks), or None when they are."""
    # three missed ticks: one late tick (a slow SSH host) is normal, three mean the sampler stopped
    if ts and now - ts <= 3 * interval:
        return None
    since = (f"since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({now - ts:.0f} s ago)" if ts
             else "yet")
    return (f"No fresh metrics: the sampler has not reported {since}; it is started by `make run` "
            "(`python -m services.operations.sampler`).")


def _alert(ts: float) -> dbc.Alert | None:
    """Return a warning when the sampler has never run or has stopped."""
    msg = sampler_stale_message(ts, context.settings().sample_interval, time.time())
    return dbc.Alert(msg, color="warning", id=SAMPLER_ALERT) if msg else None


def _bar(label: str, pct: float | None, text: str, color: str = "primary") -> html.Div:
    """Return a labelled progress bar."""
    value = max(0.0, min(100.0, pct or 0.0))
    color = "danger" if value >= 90 else "warning" if value >= 75 else color
    return html.Div([html.Div([html.Span(label), html.Span(text, className="text-muted")],
                              className="d-flex justify-content-between small"),
                     dbc.Progress(value=value, color=color, style={"height": "6px"})], className="mb-1")


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _gpu_block(gpu, procs, job_of: dict[int, int], admin: bool) -> html.Div:
    """Return one GPU's bars (and its processes for admins)."""
    used, total = gpu.mem_used_mib or 0.0, gpu.mem_total_mib or 0.0
    power = f"{gpu.power_w:.0f} / {gpu.power_limit_w:.0f} W" if gpu.power_w is not None and gpu.power_limit_w else "- W"
    temp = f"{gpu.temp_c:.0f} °C" if gpu.temp_c is not None else "- °C"
    rows = [html.Div([html.Strong(f"GPU {gpu.index}"), html.Span(f" {gpu.name}", className="text-muted small"),
                      html.Span(f"{temp} · {power}", className="float-end small fd-gpu-temp-power")]),
            _bar("util", gpu.util, f"{gpu.util:.0f} %" if gpu.util is not None else "n/a", "success"),
            _bar("memory", 100 * used / total if total else None, f"{used / 1024:.1f} / {total / 1024:.0f} GiB",
                 "info")]
    if admin and procs:
        rows.append(html.Ul([html.Li(f"pid {p.pid} {p.name or ''} {p.used_mib or 0:.0f} MiB"
                                     + (f" · job {job_of[p.pid]}" if p.pid in job_of else ""))
                             for p in procs], className="small mb-1 fd-gpu-procs"))
    return html.Div(rows, className="border-top pt-1 mt-1 fd-gpu", **{"data-gpu": str(gpu.index)})


def _host_card(h: HostSnapshot, running: list[list], queued: int, admin: bool,
               backoff: jobs_service.HostBackoff | None = None) -> dbc.Col:
    """Return the card of one host."""
    state = dbc.Badge("up" if h.up else "down", color="success" if h.up else "danger", className="fd-host-state")
    badges = [state]
    body: list = []
    if backoff:
        # the sampler may see the host up while workers still wait out their backoff: show both
        badges.append(resting_badge(backoff))
        body.extend(resting_line(backoff))
    if not h.up:
        body.append(html.P(h.reason, className="text-danger small fd-host-reason"))
    else:
        body.append(_bar("CPU", h.cpu_percent, f"{h.cpu_percent:.0f} %" if h.cpu_percent is not None else "…"))
        mem_pct = 100 * h.mem_used_bytes / h.mem_total_bytes if h.mem_total_bytes else None
        body.append(_bar("memory", mem_pct, f"{_gib(h.mem_used_bytes)} / {_gib(h.mem_total_bytes)}"))
        body += [_bar(f"disk {d.mount}", d.percent, f"{_gib(d.used_bytes)} / {_gib(d.total_bytes)}") for d in h.disks]
        job_of = {p.pid: job_id for job_id, _, target in running for p in h.gpu_processes if owns(target, p)}
        for gpu in h.gpus:
            procs = [p for p in h.gpu_processes if p.gpu_uuid == gpu.uuid]
            body.append(_gpu_block(gpu, procs, job_of, admin))
        if h.gpu_note:
            body.append(html.P(h.gpu_note, className="text-muted small mb-1 fd-gpu-note"))
    jobs_line = f"{len(running)} running" + (f" ({', '.join(f'#{j} {owner}' for j, owner, _ in running)})"
                                             if admin and running else "") + f" · {queued} queued"
    body.append(html.P(jobs_line, className="small mb-0 mt-2 fd-host-jobs"))
    card = dbc.Card([dbc.CardHeader([html.Strong(h.host, className="me-2"), *badges]), dbc.CardBody(body)],
                    className="h-100 fd-host-card")
    return dbc.Col(html.Div(card, className="h-100", **{"data-host": h.host}), md=6, xl=4)


def _cards(hosts: list[HostSnapshot], board: dict | None, seq: int | None = None) -> list:
    """Return every host's card with its running jobs and the queue length (`board`: the sampler's)."""
    return _cards_and_tokens(hosts, board, seq)[0]


def _cards_and_tokens(hosts: list[HostSnapshot], board: dict | None, seq: int | None = None) -> tuple[list, list[str]]:
    """Return every host's card and a token of each (what a tick compares to send only the cards that changed).

    With the tick's `seq`, the cards are rendered once per tick, role and resting state in each
    web worker and kept as plain JSON-ready dicts: every viewer of a tick gets the same cards, and
    building ~600 components per poll cost more than everything else in it.
    """
    if not hosts:  # before the sampler's first tick: no cards, so no queries either
        return [], []
    conn = context.conn()
    user = context.account()
    admin = bool(user and user.is_admin)
    resting = jobs_service.host_backoffs(conn)
    key = (os.getpid(), str(context.settings().data_dir), seq, admin,
           tuple(sorted((h, b.until, b.reason) for h, b in resting.items())))
    if seq is not None and key in _rendered:
        return _rendered[key]
    board = board if board is not None else jobs_service.job_board(conn)  # a sampler from before the board
    cards = [_plain(_host_card(h, board["running"].get(h.host, []), board["queued"], admin, resting.get(h.host)))
             for h in hosts]
    cards += [_plain(cluster_card(name, info)) for name, info in (board.get("clusters") or {}).items()]
    tokens = [format(zlib.crc32(json.dumps(c, default=str).encode()), "x") for c in cards]
    if seq is not None:
        if len(_rendered) >= 8:  # a tick or two of each role; older ticks are never asked for again
            _rendered.pop(next(iter(_rendered)))
        _rendered[key] = (cards, tokens)
    return cards, tokens


def changed_cards(cards: list, tokens: list[str], shown: object):
    """Return the cards output of a tick: a Patch of the cards whose token moved since `shown` (the cursor's
    tokens), no_update when none did, or every card when the cursor names no cards or other ones."""
    if not isinstance(shown, list) or len(shown) != len(tokens):
        return cards
    moved = [i for i, (old, new) in enumerate(zip(shown, tokens, strict=True)) if old != new]
    if not moved:
        return no_update
    patch = Patch()
    for i in moved:
        patch[i] = cards[i]
    return patch


def _plain(component):
    """Return a component tree as the plain dicts Dash would send (serialised by the C JSON encoder)."""
    if isinstance(component, (list, tuple)):
        return [_plain(c) for c in component]
    if not hasattr(component, "to_plotly_json"):
        return component
    out = component.to_plotly_json()
    out["props"] = {k: _plain(v) for k, v in out["props"].items()}
    return out


def _traces(chart: str, gpus: list[int]) -> list[tuple[str, str]]:
    """Return (series key, label) of the lines a chart draws for a host with these GPUs."""
    key = CHARTS[chart][2]
    if chart in GPU_CHARTS:
        return [(f"g{i}{key}", f"GPU {i}") for i in gpus]
    return [(key, CHARTS[chart][0])]


def _live(span: int) -> bool:
    """Return True when the range reads raw ticks, so live points match its resolution."""
    s = context.settings()
    now = time.time()
    return history.choose_tier(span, now - span, history.Retention.from_settings(s), now) == history.Tier.RAW


@callback([Output(c, "figure") for c in CHARTS] + [Output(GPU_SECTION, "style"), Output(CURSOR, "data")],
          Input(HOST, "value"), Input(RANGE, "value"))
def draw_charts(host: str | None, range_label: str):
    """Draw every chart of `host` over the chosen range from the right history tier."""
    if not host:
        return [empty_figure(CHARTS[c][0], "no data yet") for c in CHARTS] + [{"display": "none"}, None]
    s = context.settings()
    span = RANGES.get(range_label, RANGES[DEFAULT_RANGE])
    now = time.time()
    hist = history.query(context.conn(), host, span, now, history.Retention.from_settings(s))
    snap = _store().latest().host(host)
    gpus = sorted({int(k[1:-1]) for k in hist.series if k.startswith("g") and k[1:-1].isdigit()}
                  | {g.index for g in (snap.gpus if snap else [])})
    figures = []
    for chart, (title, unit, _, y_range) in CHARTS.items():
        traces = _traces(chart, gpus)
        figures.append(history_figure(hist.series, traces, title, unit, f"{host}|{range_label}", y_range)
                       if traces else empty_figure(title, "no GPU"))
    last = max((xs[-1] for xs, _ in hist.series.values() if xs), default=0.0)
    cursor = {"seq": _store().seq(), "host": host, "range": range_label, "gpus": gpus, "last_ts": last,
              "points": max((len(xs) for xs, _ in hist.series.values()), default=0)}
    return figures + [{} if gpus else {"display": "none"}, cursor]


@callback([Output(CARDS, "children"), Output(ALERT, "children")]
          + [Output(c, "extendData") for c in CHARTS] + [Output(CURSOR, "data", allow_duplicate=True)],
          Input(INTERVAL, "n_intervals"), State(CURSOR, "data"), prevent_initial_call=True)
def refresh_status(_n: int, cursor: dict | None):
    """Redraw the cards and extend the live charts with the newest tick; no_update if none."""
    seq, ts = _store().head()
    if cursor is not None and seq == cursor.get("seq"):
        # no new tick: nothing to redraw, but a stopped sampler must still be called out
        alert = _alert(ts)
        return [no_update, alert or no_update] + [no_update] * (1 + len(CHARTS))
    latest = _latest(seq)
    extends = [no_update] * len(CHARTS)
    snap = latest.host(cursor["host"]) if cursor else None
    if cursor and snap and snap.up and snap.ts > cursor["last_ts"] and _live(RANGES[cursor["range"]]) \
            and [g.index for g in snap.gpus] == cursor["gpus"]:
        values = series(snap)
        # the window slides: about one range's worth of ticks, never more than the chart point cap
        cap = min(defaults.CHART_MAX_POINTS, int(RANGES[cursor["range"]] / context.settings().sample_interval))
        extends = [extend_data([(snap.ts, values.get(k)) for k, _ in _traces(c, cursor["gpus"])], cap)
                   if _traces(c, cursor["gpus"]) else no_update for c in CHARTS]
        cursor = {**cursor, "last_ts": snap.ts}
    cards, tokens = _cards_and_tokens(latest.hosts, latest.jobs, latest.seq)
    # the cursor and the cards travel in one answer, so its tokens always name the cards the page shows
    shown = cursor.get("cards") if cursor else None
    new_cursor = {**cursor, "seq": latest.seq, "cards": tokens} if cursor else no_update
    return [changed_cards(cards, tokens, shown) if cursor else cards, _alert(latest.ts)] + extends + [new_cursor]


# -- AlphaFold 3 readiness per host (issue 18): the sampler's preflight, one small table read --------

READINESS = "status-readiness"


def readiness_list() -> list:
    """Return one line per checked host: ready, or what is missing (nothing before the first check)."""
    from services.hosts import preflight

    found = preflight.readiness(context.conn())
    if not found:
        return []
    items = []
    for r in sorted(found.values(), key=lambda r: r.host):
        badge = dbc.Badge("ready" if r.ready else "not ready", color="success" if r.ready else "danger",
                          className="me-2")
        detail = html.Ul([html.Li(m) for m in r.missing], className="small mb-1") if r.missing else None
        items.append(html.Li([html.Strong(r.host, className="me-2"), badge,
                              html.Span(f"checked {time.strftime('%H:%M', time.localtime(r.checked_at))}",
                                        className="text-muted small"), detail], **{"data-host": r.host}))
    return [html.H2("AlphaFold 3 readiness", className="h5"), html.Ul(items, className="list-unstyled mb-0")]


@callback(Output(READINESS, "children"), Input(INTERVAL, "n_intervals"), prevent_initial_call=True)
def refresh_readiness(_n: int):
    """Show each host's latest preflight (checked every few minutes by the sampler)."""
    return readiness_list()
