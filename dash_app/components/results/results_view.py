"""The results card of a finished job: sample chooser, scores, 3D model, PAE, pLDDT, chain-pair matrices, files.

`placeholder` goes into the first paint; the job page's callbacks then fill the body
(`body`) and, per chosen sample, the plots and the model (`sample_view`).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, get_relative_path, html

from dash_app.components.results import results_plots as rp
from dash_app.components.results import structure_viewer as sv
from services import results
from services.platform import defaults
from services.results.mmcif_atoms import read_residues

PREFIX = "job-res"
MOLSTAR_URL, MOLSTAR_READY = f"{PREFIX}-molstar-url", f"{PREFIX}-molstar-ready"
BODY, SAMPLE, COLOUR, VIEWER, PAE, PLDDT, IPTM, PAEMIN, TROUBLE, TOKENS, NOTE, LINKED, VIEWER_SEL, SCORES = (
    f"{PREFIX}-{x}" for x in ("body", "sample", "colour", "viewer", "pae", "plddt", "iptm", "paemin",
                              "trouble", "tokens", "note", "linked", "viewer-sel", "scores"))
PAE_HOVER, CHAINS, PAE_FIG = f"{PREFIX}-pae-hover", f"{PREFIX}-chains", f"{PREFIX}-pae-fig"
CARD = "job-results-card"


def _num(x: float | None) -> str:
    """Return a score as AF3 reports it: two decimals."""
    return "—" if x is None else f"{x:.2f}"


def placeholder(title: str = "Results") -> list:
    """Return the results card as first painted: a spinner; a callback fills it right after."""
    return [dbc.Card([dbc.CardHeader([html.I(className="bi bi-trophy me-2"), title]),
                      dbc.CardBody([dcc.Store(id=MOLSTAR_READY),
                                    dcc.Store(id=MOLSTAR_URL, data=get_relative_path(
                                        f"/_dash-component-suites/dash_molstar/{sv.MOLSTAR_BUNDLE}")),
                                    html.Div(html.Div([dbc.Spinner(size="sm", spinner_class_name="me-2"),
                                                       "Loading results…"], className="text-muted small"),
                                             id=BODY)])],
                     className="mb-3", id=CARD)]


def scores_table(scores: list[results.SampleScore]) -> dbc.Table:
    """Return one row per sample: ranking score, pTM, ipTM, fraction disordered, clash; the best one starred."""
    head = ("Sample", "Ranking score", "pTM", "ipTM", "Disordered", "Clash")
    rows = [html.Tr([html.Td([s.label, html.Span(" ★ best", className="text-success fw-semibold") if s.best else ""]),
                     html.Td(_num(s.ranking_score)), html.Td(_num(s.ptm)), html.Td(_num(s.iptm)),
                     html.Td("—" if s.fraction_disordered is None else f"{s.fraction_disordered:.2f}"),
                     html.Td("—" if s.has_clash is None else ("yes" if s.has_clash else "no"))]) for s in scores]
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], size="sm", striped=True,
                     className="mb-0", id=SCORES)


def _files(job_id: int, res: results.Results) -> html.Div:
    links = [html.Li(html.A(f"{f.path} ({f.size:,} bytes)", download="",
                            href=f"/api/jobs/{job_id}/files/{quote(f.path)}")) for f in res.files]
    more = [html.Li(f"… and {res.more_files} more")] if res.more_files else []
    return html.Div([
        html.A([html.I(className="bi bi-file-zip me-1"), "Download all (zip)"], href=f"/api/jobs/{job_id}/archive",
               className="btn btn-sm btn-outline-primary mb-2", download="", id=f"{PREFIX}-zip"),
        html.Details([html.Summary(f"{len(res.files) + res.more_files} files"),
                      html.Ul(links + more, className="fd-files small mb-0")])])


def _legend() -> html.Div:
    return html.Div([html.Span([html.Span(className="fd-swatch", style={"background": c}), label], className="me-3")
                     for _, _, c, label in rp.PLDDT_BANDS], className="small mt-1")


def body(job_id: int, res: results.Results) -> list:
    """Return the filled results card body: chooser and scores, then the per-sample views."""
    if not res.samples:
        return [html.P("No AlphaFold 3 results were found in this job's folder.", className="mb-2"),
                _files(job_id, res)]
    options = [{"label": f"{s.label}{'  ★ best' if s.best else ''}", "value": s.key} for s in res.samples]
    chooser = html.Div([dbc.Label("Sample", html_for=SAMPLE, className="small mb-0"),
                        dcc.Dropdown(id=SAMPLE, options=options, value=res.samples[0].key, clearable=False,
                                     searchable=False, style={"minWidth": "16rem"})])
    colour = dbc.RadioItems(id=COLOUR, value="plddt", inline=True, className="small",
                            options=[{"label": "colour by pLDDT", "value": "plddt"},
                                     {"label": "colour by chain", "value": "chain"}])
    graph = {"config": rp.GRAPH_CONFIG, "style": {"height": "380px"}}
    small = {"config": rp.SMALL_CONFIG}
    return [
        dbc.Row([dbc.Col(chooser, md="auto"), dbc.Col(_files(job_id, res), md=True)], className="g-3 mb-2"),
        html.Div(id=TROUBLE),
        html.Div(scores_table(res.samples), className="table-responsive mb-3"),
        dbc.Row([
            dbc.Col([dcc.Loading(sv.viewer(VIEWER), type="circle", delay_show=150), colour, _legend(),
                     html.Div(id=VIEWER_SEL, className="d-none")], lg=6),
            dbc.Col([html.Div([dcc.Graph(id=PAE, clear_on_unhover=True, **graph),
                               html.Div(id=PAE_HOVER, className="fd-pae-hover small")], className="position-relative"),
                     html.Div(id=LINKED, className="small text-muted")], lg=6),
        ], className="g-3"),
        dbc.Row([dbc.Col(dcc.Graph(id=PLDDT, **graph), lg=6),
                 dbc.Col(dbc.Row([dbc.Col(dcc.Graph(id=IPTM, **small), sm=6),
                                  dbc.Col(dcc.Graph(id=PAEMIN, **small), sm=6)]), lg=6)], className="g-3 mt-1"),
        html.Div(id=CHAINS, className="table-responsive mt-2"),
        html.Div(id=NOTE, className="text-muted small"),
        dcc.Store(id=TOKENS),
        dcc.Store(id=PAE_FIG),  # the PAE figure and its image's address; the browser joins them (LOAD_PAE_JS)
    ]


@dataclass
class SampleView:
    """What the page shows for one sample."""

    pae: dict  # {"figure": the PAE figure without its image, "source": the image's address or None}
    plddt: go.Figure
    iptm: go.Figure
    pae_min: go.Figure
    trouble: list
    tokens: dict
    note: str
    chains: list


def _empty_figure(text: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(height=200, xaxis={"visible": False}, yaxis={"visible": False},
                      annotations=[{"text": text, "showarrow": False, "xref": "paper", "yref": "paper"}],
                      margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def trouble_alert(score: results.SampleScore | None, chain_tokens: dict[str, int] | None = None) -> list:
    """Return one plain-words warning line for the values of `score` that mean trouble (nothing if none)."""
    notes = results.trouble(score, chain_tokens) if score else []
    if not notes:
        return []
    text = "; ".join(notes)
    return [dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"), text[0].upper() + text[1:] + "."],
                      color="warning", className="py-2 small", id=f"{PREFIX}-warning")]


def sample_model(job_id: int, output_path: str, key: str, colour_by: str = "plddt") -> dict | None:
    """Return the viewer data for the sample's model (by URL) — quick: the model file alone is read."""
    files = results.find_sample(results.describe_folder(output_path), key)
    rel = results.relative_to_output(output_path, files.model) if files else None
    if not rel:
        return None
    return sv.structure_data(f"/api/jobs/{job_id}/files/{quote(rel)}", read_residues(files.model), colour_by)


def chain_tokens(conf: results.Confidences | None) -> dict[str, int]:
    """Return tokens per chain id, in input order."""
    if not conf or not conf.chain_starts:
        return {}
    ends = [s for _, s in conf.chain_starts[1:]] + [len(conf.tokens)]
    return {c: e - s for (c, s), e in zip(conf.chain_starts, ends, strict=True)}


def chain_table(score: results.SampleScore | None, conf: results.Confidences | None) -> list:
    """Return one row per chain: what it is, its tokens, chain pTM and chain ipTM (nothing without them)."""
    if not score or not (score.chain_ptm or score.chain_iptm):
        return []
    counts = chain_tokens(conf)
    ids = list(counts) if len(counts) == max(len(score.chain_ptm), len(score.chain_iptm)) else [
        str(i + 1) for i in range(max(len(score.chain_ptm), len(score.chain_iptm)))]
    first = {c: conf.tokens[s] for c, s in conf.chain_starts} if conf and conf.chain_starts else {}
    rows = []
    for i, chain in enumerate(ids):
        tok = first.get(chain)
        n = counts.get(chain)
        what = "—" if tok is None else (f"{tok.name} ({n} atoms)" if tok.atom else f"{n} residues")
        small = n is not None and n < defaults.RESULTS_SMALL_CHAIN_TOKENS
        caveat = f" · under {defaults.RESULTS_SMALL_CHAIN_TOKENS} tokens: pTM/ipTM strict" if small else ""
        rows.append(html.Tr([html.Td(chain), html.Td([what, html.Span(caveat, className="text-muted")]),
                             html.Td(_num(score.chain_ptm[i] if i < len(score.chain_ptm) else None)),
                             html.Td(_num(score.chain_iptm[i] if i < len(score.chain_iptm) else None))]))
    head = ("Chain", "What", "chain pTM", "chain ipTM")
    return [dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], size="sm",
                      className="mb-0 small", id=f"{PREFIX}-chain-table"),
            html.P("chain pTM is the diagonal of the chain-pair ipTM matrix; chain ipTM is each chain against all "
                   "others, the score AF3's docs suggest for ligands.", className="small text-muted mb-0")]


def _ranges(numbers: tuple[int, ...]) -> str:
    """Return "10–14, 20, 31–33" for sorted residue numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def interface_table(score: results.SampleScore | None, conf: results.Confidences | None) -> list:
    """Return one row per pair of chains in contact: their residues, contacts, min PAE there, and the pair's ipTM."""
    if not conf or not conf.interfaces:
        return []
    order = conf.chain_ids
    matrix = score.chain_pair_iptm if score else []
    rows = []
    for f in conf.interfaces:
        i, j = order.index(f.chain_a), order.index(f.chain_b)
        iptm = matrix[i][j] if i < len(matrix) and j < len(matrix[i]) else None
        rows.append(html.Tr([html.Td(f"{f.chain_a} – {f.chain_b}"), html.Td(_ranges(f.residues_a)),
                             html.Td(_ranges(f.residues_b)), html.Td(f"{f.contacts:,}"),
                             html.Td("—" if f.pae_min is None else f"{f.pae_min:.1f} Å"), html.Td(_num(iptm))]))
    head = ("Interface", "Residues (first chain)", "Residues (second chain)", "Contacts", "Min PAE there",
            "ipTM (pair)")
    return [html.H3(f"Interfaces (contact probability ≥ {defaults.RESULTS_CONTACT_PROB})", className="h6 mt-3"),
            dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], size="sm",
                      className="mb-0 small", id=f"{PREFIX}-interfaces")]


def open_elsewhere(job_id: int, key: str, files: results.SampleFiles | None) -> list:
    """Return the PyMOL / ChimeraX script links of a sample (saved next to its model file, they open it)."""
    if files is None or files.model is None:
        return []
    base = f"/api/jobs/{int(job_id)}/open/{quote(key)}"
    return [html.Div([html.I(className="bi bi-box-arrow-up-right me-1"), "Open in ",
                      html.A("PyMOL", href=f"{base}.pml", download="", id=f"{PREFIX}-pymol"), " or ",
                      html.A("ChimeraX", href=f"{base}.cxc", download="", id=f"{PREFIX}-chimerax"),
                      f": save the script next to {files.model.name} (coloured by pLDDT, one selection per "
                      "interface)."], className="small mt-2")]


def pae_url(job_id: int, key: str, conf: results.Confidences) -> str:
    """Return the address of the sample's PAE image (the version in the query: a new image is a new URL)."""
    return f"/api/jobs/{int(job_id)}/pae/{quote(key)}.png?v={zlib.crc32(conf.pae_png):08x}"


def sample_view(job_id: int, output_path: str, key: str, cache_dir: Path | None = None) -> SampleView:
    """Return plots and warnings of the sample `key` of a job's output folder (its PAE may take a while)."""
    contents = results.describe_folder(output_path)
    files = results.find_sample(contents, key)
    score = next((s for s in results.sample_scores(contents) if s.key == key), None)
    conf = results.sample_confidences(files, cache_dir=cache_dir) if files else None
    note = conf.note if conf else "This sample has no confidences file."
    if conf and not conf.note:
        pae = {"figure": rp.pae_figure(conf), "source": pae_url(job_id, key, conf)}
        plddt = rp.plddt_figure(conf)
        tokens, chain_ids = sv.token_map(conf.tokens, conf.pae_block), conf.chain_ids
    else:
        plddt = _empty_figure(note)
        pae = {"figure": plddt, "source": None}
        tokens, chain_ids = {}, []
    if score and score.chain_pair_iptm:
        iptm = rp.chain_pair_figure(score.chain_pair_iptm, chain_ids, "chain-pair ipTM", zmax=1, colorscale="Blues",
                                    diagonal="chain pTM")
        pae_min = rp.chain_pair_figure(score.chain_pair_pae_min, chain_ids, "chain-pair PAE min (Å)",
                                       zmax=rp.PAE_MAX, colorscale="Greens_r", unit=" Å")
    else:
        iptm = pae_min = _empty_figure("no chain-pair scores")
    good = conf if conf and not conf.note else None
    return SampleView(pae, plddt, iptm, pae_min, trouble_alert(score, chain_tokens(good)), tokens,
                      note if conf is None else "",
                      chain_table(score, good) + interface_table(score, good) + open_elsewhere(job_id, key, files))
