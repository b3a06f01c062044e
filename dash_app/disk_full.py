"""A full disk answers with one clear message, wherever the web app was writing.

SQLite reports a full disk (or a full database) as SQLITE_FULL and rolls the statement or the
transaction back, and a file write fails with ENOSPC before anything is renamed into place, so
nothing half-written is left: the request only has to say so instead of a raw 500. What counts as
a full disk is `services.platform.disk.is_disk_full`, the worker's rule too. Two hooks, one message: Flask's
error handler for routes (login, logout, /api/v1, downloads) and Dash's `on_error` for callbacks
(the message goes into the page's alerts area).
"""
from __future__ import annotations

import logging
import sqlite3

import dash_bootstrap_components as dbc
from dash import html, set_props
from flask import Flask, jsonify, render_template_string, request

from dash_app import ids
from services.platform.disk import is_disk_full

MESSAGE = "The server's disk is full: nothing was saved. Tell your admin."
STATUS = 507  # Insufficient Storage: the request was fine, the server cannot store it
ALERT_ID = "disk-full-alert"
JSON_PREFIXES = ("/_dash-", "/_reload-hash", "/api/")  # answered as JSON, as the gate does (auth.API_PREFIXES)
log = logging.getLogger("folddeck.web")


def _note(exc: BaseException) -> None:
    # stderr only: the application log lives in the same full database
    log.error("disk full while serving %s %s: %s", request.method, request.path, exc)


def handle_route_error(exc: Exception):
    """Answer a full disk with the message (JSON for API paths, a page otherwise); re-raise anything else."""
    if not is_disk_full(exc):
        raise exc
    _note(exc)
    if request.path.startswith(JSON_PREFIXES):
        return jsonify({"error": MESSAGE}), STATUS
    return render_template_string(PAGE_HTML, message=MESSAGE), STATUS


def on_callback_error(exc: Exception) -> None:
    """Dash's `on_error`: show the message in the shell's alerts area (outputs stay as they were)."""
    if not is_disk_full(exc):
        raise exc
    _note(exc)
    set_props(ids.ALERTS, {"children": dbc.Alert([html.I(className="bi bi-hdd me-2"), MESSAGE], id=ALERT_ID,
                                                 color="danger", dismissable=True, className="mt-3")})


def init_disk_full(server: Flask) -> None:
    """Register the route handler; `create_app` passes `on_callback_error` to Dash itself."""
    server.register_error_handler(sqlite3.Error, handle_route_error)
    server.register_error_handler(OSError, handle_route_error)


PAGE_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Disk full · FoldDeck</title>
<link rel="icon" href="/assets/favicon.ico">
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css"></head>
<body class="bg-light"><main class="container py-5" style="max-width:36rem">
<h1 class="h3">FoldDeck could not save that</h1>
<div class="alert alert-danger" role="alert" id="disk-full">{{ message }}</div>
<a class="btn btn-primary" href="/">Back</a></main></body></html>"""
