"""Security headers on every response: a Content-Security-Policy, no framing, no MIME sniffing.

Scripts: only this origin's files plus Dash's own inline scripts (the renderer's start-up line and
the clientside callbacks it writes into the page), each allowed by its SHA-256 hash from
`Dash.csp_hashes()`: no `'unsafe-inline'`, so injected markup cannot run a script. Dash's
`_dash-config` block is JSON (`type="application/json"`), which CSP does not treat as a script.
`'unsafe-eval'` is allowed, only because the vendored Mol* bundle (dash_molstar's rcsb-molstar.js,
its Emscripten embind glue) builds named functions with `new Function(...)` as it loads: without
it the 3D viewer stays blank (tests/browser/test_job_results.py). Dash is a single-page app, so the
first page's policy holds for every page: it cannot be narrowed to the job page alone.
Styles keep `'unsafe-inline'`: React, plotly.js and Mol* set element styles and inject `<style>`
tags at run time, and a style cannot run code. Mol* loads its bundle from /assets and draws with
WebGL and fetches its WebAssembly from a `data:` URL (connect-src `data:`: local bytes, nothing
leaves); `blob:` is allowed for workers and images (plotly's and Mol*'s snapshots).
"""
from __future__ import annotations

import base64
import hashlib

import dash
from flask import Flask, Response

STATIC_HEADERS = {
    "X-Frame-Options": "DENY",  # old browsers; CSP frame-ancestors says the same to new ones
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # job names in URLs stay inside the lab
}
# Inline event handlers the app's own markup uses, allowed one by one ('unsafe-hashes' + their hash):
# the import page's upload form (an iframe srcdoc, which inherits this policy) greys its button on submit.
INLINE_HANDLERS = ("document.getElementById('import-submit').disabled = true",)
POLICY = ("default-src 'self'; script-src 'self' 'unsafe-eval' {hashes}; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' data:; worker-src 'self' blob:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def content_security_policy(app: dash.Dash) -> str:
    """Return the policy for the app's pages (recomputed only when Dash's inline scripts change)."""
    cache = app.server.extensions.setdefault("folddeck_csp", {})
    count = len(app._inline_scripts)  # clientside callbacks add inline scripts as pages register
    if cache.get("n") != count:
        handlers = [f"'sha256-{base64.b64encode(hashlib.sha256(h.encode()).digest()).decode()}'"
                    for h in INLINE_HANDLERS]
        hashes = [*app.csp_hashes(), "'unsafe-hashes'", *handlers]
        cache.update(n=count, policy=POLICY.format(hashes=" ".join(hashes)))
    return cache["policy"]


def init_headers(server: Flask, app: dash.Dash) -> None:
    """Add the security headers to every response of `server` (pages, callbacks, API, files)."""

    def add_headers(response: Response) -> Response:
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(app))
        return response

    server.after_request(add_headers)
