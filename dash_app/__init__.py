"""The app factory: `create_app(settings=None)` builds Flask + Dash and wires every part.

Order (as flaskr does it): settings (defaults < .env < environment < the argument), logging,
database migrations, Flask config, auth (gate, login, CSRF), Dash pages, extra routes.
Nothing does work at import time.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from flask import Flask, Response, current_app, got_request_exception, jsonify, request

from dash_app import ids
from dash_app.auth import init_auth
from dash_app.components.navbar import navbar
from dash_app.components.toasts import init_toasts
from dash_app.compression import init_compression
from dash_app.context import account
from dash_app.disk_full import init_disk_full, on_callback_error
from dash_app.headers import init_headers
from dash_app.routes.api_v1 import init_api
from dash_app.routes.job_routes import init_job_routes
from dash_app.routes.metrics_endpoint import init_metrics_endpoint
from dash_app.session_cache import CachedCookieSessions
from services.af3.chem import ccd
from services.platform import applog, boot
from services.platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("folddeck.web")


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Return a configured FoldDeck Dash app (its Flask server is `app.server`)."""
    settings = boot.boot("web", settings=settings)  # settings, migrations, logging: as every entry point
    ccd.configure(settings.data_dir, settings.af3_ccd_path)  # tests build apps on several data dirs in one process
    # Load (on a first start: build, ~10 s) the CCD index now rather than in the first request that needs it.
    threading.Thread(target=ccd.try_ccd, name="ccd-warm-up", daemon=True).start()
    got_request_exception.connect(_log_request_exception, weak=False)  # deduplicated by blinker

    server = Flask("folddeck")
    server.config.update(
        SECRET_KEY=settings.secret_key,
        FOLDDECK_SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.cookie_secure,
        MAX_CONTENT_LENGTH=settings.upload_max_bytes * 2 + 1024 * 1024,  # uploads arrive base64-encoded
    )
    server.session_interface = CachedCookieSessions()  # polls skip re-verifying a known cookie
    init_auth(server)
    server.register_error_handler(413, _too_large)
    init_disk_full(server)  # a full disk or database: one clear message instead of a raw 500

    app = dash.Dash(
        "folddeck",
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "dash_app" / "pages"),
        assets_folder=str(ROOT / "assets"),
        title="FoldDeck",
        update_title=None,
        suppress_callback_exceptions=True,
        external_stylesheets=[],  # everything is vendored under assets/: no CDN
        serve_locally=True,
        on_error=on_callback_error,  # the callbacks' side of init_disk_full; anything else raises as before
    )
    server.extensions["folddeck_dash"] = app  # the gate resolves callbacks and pages through it (auth.py)
    app.layout = shell_layout
    app.clientside_callback(
        "function(n, open) { return n ? !open : open; }",
        Output("nav-collapse", "is_open"), Input("nav-toggler", "n_clicks"), State("nav-collapse", "is_open"),
        prevent_initial_call=True,
    )
    init_toasts(app)  # the navbar's toast poll
    _init_extras(server, settings)
    init_headers(server, app)  # CSP (with the hashes of Dash's inline scripts), no framing, nosniff
    init_compression(server)  # last: its hooks see every route's response
    app._setup_server()  # take this app's page callbacks now, so several apps can coexist (tests)
    return app


def _init_extras(server: Flask, settings: Settings) -> None:
    """Register the plain Flask routes that live beside the Dash pages."""
    init_metrics_endpoint(server, settings)  # /metrics (OpenMetrics)
    init_job_routes(server)  # /api/jobs/<id>/log, /input and /files/<path> downloads
    init_api(server)  # /api/v1: the REST API for scripts (tokens) and /api/v1/openapi.json


def _too_large(_exc) -> tuple[Response, int]:
    """Answer an over-sized request (a huge upload) with a message instead of a bare 413 page."""
    limit_mb = current_app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
    return jsonify({"error": f"The request is larger than the {limit_mb:.1f} MB this server accepts; "
                             "upload fewer or smaller files at once. Nothing was queued."}), 413


def shell_layout() -> html.Div:
    """Return the page frame: navbar, alerts area and the current page."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh="callback-nav"),
        navbar(account()),
        dbc.Container(html.Div(id=ids.ALERTS), fluid=True),
        dbc.Container(dash.page_container, fluid=True, className="fd-page pb-4"),
    ])


def _log_request_exception(sender: Flask, exception: BaseException, **_extra) -> None:
    """Record an unhandled error (a callback that raised) in the application log."""
    user = account()
    applog.log_unhandled(exception, path=request.path, username=user.username if user else None,
                         address=request.remote_addr)
