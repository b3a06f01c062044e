"""The results card of a job another engine ran (issue 29): its samples' scores, Boltz-2's affinity, the comparison.

AlphaFold 3 jobs keep the full results view; the others are read by their engine's reader
(`services.engines`) and show the same scores table, with their models and PAE on the comparison page.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dash_app.components.results.results_view import scores_table
from services.engines import registry
from services.jobs import Job
from services.platform.settings import Settings
from services.running.engine_run import outputs_of


def engine_body(settings: Settings, job: Job) -> list:
    """Return the card body for an engine job: scores (best first), affinity, notes and where to compare."""
    engine = registry.get(job.engine)
    outputs = outputs_of(settings, job)
    if outputs is None or not outputs.samples:
        notes = outputs.notes if outputs else []
        return [html.P(f"No {engine.label} results were found in this job's folder. " + " ".join(notes))]
    out = [html.P(f"Predicted by {engine.label} ({engine.licence}); read from {outputs.folder.name}/.",
                  className="small text-muted mb-2"),
           html.Div(scores_table([s.score for s in outputs.samples]), className="table-responsive mb-2")]
    if outputs.affinity:
        a = outputs.affinity
        out.append(dbc.Alert(f"{engine.label} binding affinity: log10(IC50 / µM) "
                             f"{a.get('affinity_pred_value', float('nan')):.2f}, probability of binding "
                             f"{a.get('affinity_probability_binary', float('nan')):.2f}", color="info"))
    out += [html.P(n, className="small text-muted") for n in outputs.notes]
    out.append(html.A("Models, PAE and the other engines side by side: compare engines",
                      href=f"/jobs/{job.id}/compare"))
    return out
