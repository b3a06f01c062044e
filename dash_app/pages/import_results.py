"""Import page (`/import`): upload an AlphaFold Server download or a zipped AF3 output folder.

Dash has no file <input> that posts a form, so the form is plain HTML in a same-origin iframe:
it posts the zip to /api/jobs/import (job_routes.import_results), which opens the new read-only
job in the whole window or comes back here with the reason in `?error=`: a token the route signed
for the caller, so a link cannot make this page show someone else's words as an official error.
"""
from __future__ import annotations

from html import escape

import dash
import dash_bootstrap_components as dbc
from dash import get_relative_path, html
from flask_wtf.csrf import generate_csrf

from dash_app.context import account
from dash_app.ids import page_id
from dash_app.routes.job_routes import import_error

dash.register_page(__name__, path="/import", name="Import", order=3, icon="bi-box-arrow-in-down")

FORM, ERROR = page_id(__name__, "form"), page_id(__name__, "error")

FORM_HTML = """<!doctype html><html><head><link rel="stylesheet" href="{css}"></head>
<body class="bg-transparent"><form method="post" action="{action}" enctype="multipart/form-data" target="_top"
 id="import-form" onsubmit="document.getElementById('import-submit').disabled = true">
<input type="hidden" name="csrf_token" value="{token}">
<input class="form-control mb-3" type="file" name="file" id="import-file" accept=".zip,application/zip" required>
<button class="btn btn-primary" type="submit" id="import-submit">Import</button></form></body></html>"""


def layout(error: str | None = None, **_query) -> html.Div:
    user = account()
    error = import_error(error, user.id if user else None)
    form = FORM_HTML.format(css=get_relative_path("/assets/vendor/01-bootstrap-flatly.min.css"),
                            action=get_relative_path("/api/jobs/import"), token=escape(generate_csrf()))
    return html.Div([
        html.H1("Import results", className="h3"),
        html.P(["Bring results made elsewhere next to your own runs: an ", html.B("AlphaFold Server"),
                " download (the zip with fold_<name>_model_0.cif …) or a zipped AlphaFold 3 output folder. "
                "It becomes a read-only job with the same results view."], className="text-muted"),
        dbc.Alert(error, color="danger", id=ERROR) if error else None,
        html.Iframe(srcDoc=form, id=FORM, style={"border": "0", "width": "100%", "height": "8rem"},
                    title="Choose a results zip"),
    ], style={"maxWidth": "44rem"})
