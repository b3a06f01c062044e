"""Security headers and charts that cannot leave the lab (issue 22, item 10): every response has a
CSP whose script hashes match the inline scripts Dash really served, no framing, nosniff; and every
dcc.Graph in every page (and the results view) has the Plotly-cloud buttons off."""
from __future__ import annotations

import base64
import hashlib
import json
import re

import dash

from dash_app.components import graph_config
from dash_app.components.results import results_view
from services import results
from tests.conftest import dash_post


def directives(policy: str) -> dict[str, list[str]]:
    return {p.split()[0]: p.split()[1:] for p in policy.split(";") if p.strip()}


def inline_scripts(page: str) -> list[str]:
    """Return the bodies of the executable inline scripts of a page (not JSON blocks, not IE comments)."""
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    found = []
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S):
        if "src=" in attrs or "application/json" in attrs:
            continue
        found.append(body)
    return found


def router(path: str) -> dict:
    """The pages router's callback for `path`, as dash-renderer sends it."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}


def test_every_kind_of_response_has_the_headers(admin_client, app):
    answers = {"page": admin_client.get("/"), "login": app.server.test_client().get("/login"),
               "asset": admin_client.get("/assets/folddeck.css"), "api": admin_client.get("/api/v1/me"),
               "callback": dash_post(admin_client, router("/"))}
    for what, r in answers.items():
        assert r.headers["X-Frame-Options"] == "DENY", what
        assert r.headers["X-Content-Type-Options"] == "nosniff", what
        csp = directives(r.headers["Content-Security-Policy"])
        assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"], what
        assert "'unsafe-inline'" not in csp["script-src"], what


def test_script_hashes_cover_every_inline_script_dash_serves(admin_client):
    r = admin_client.get("/")
    scripts = inline_scripts(r.get_data(as_text=True))
    assert len(scripts) >= 2  # the clientside callbacks and `new DashRenderer()`
    allowed = directives(r.headers["Content-Security-Policy"])["script-src"]
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, body[:80]
    assert allowed[0] == "'self'" and not any(s.startswith("http") or s == "*" for s in allowed)


def test_inline_handlers_of_the_import_form_are_allowed_by_hash(admin_client):
    """The import page's form lives in an iframe srcdoc (same policy): each of its on*="" handlers is hashed."""
    r = dash_post(admin_client, router("/import"))
    handlers = re.findall(r'\bon[a-z]+=\\"([^"\\]*)\\"', json.dumps(r.json))
    assert handlers, "the import form has no inline handler any more: drop headers.INLINE_HANDLERS"
    allowed = directives(admin_client.get("/").headers["Content-Security-Policy"])["script-src"]
    assert "'unsafe-hashes'" in allowed
    for body in handlers:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, body


def graphs(node) -> list[dict]:
    """Return every dcc.Graph (as plotly JSON) inside a layout."""
    found, stack = [], [json.loads(json.dumps(node, cls=_Encoder))]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "Graph" and item.get("namespace") == "dash_core_components":
                found.append(item["props"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if hasattr(o, "to_plotly_json"):
            return o.to_plotly_json()
        return super().default(o)


def assert_no_cloud(config: dict, where: str) -> None:
    assert config.get("showSendToCloud") is False and config.get("showEditInChartStudio") is False, where
    assert config.get("showLink") is False and config.get("sendData") is False, where
    assert {"sendDataToCloud", "editInChartStudio"} <= set(config.get("modeBarButtonsToRemove", [])), where


def test_no_chart_in_any_page_offers_share_chart(app, admin_client, done_job, conn, admin):
    seen = 0
    for page in dash.page_registry.values():
        path = re.sub(r"<[^>]+>", str(done_job.id), page["path_template"] or page["path"])
        r = dash_post(admin_client, router(path))
        assert r.status_code == 200, (path, r.get_data(as_text=True)[:200])
        for props in graphs(r.json):
            assert_no_cloud(props.get("config") or {}, f"{path} #{props.get('id')}")
            seen += 1
    with app.server.test_request_context():
        view = results_view.body(done_job.id, results.read_results(done_job.output_path))
    found = graphs(view)
    assert len(found) >= 4  # PAE, pLDDT, ipTM, min PAE
    for props in found:
        assert_no_cloud(props.get("config") or {}, f"results #{props.get('id')}")
    assert seen + len(found) >= 5  # the status page's metric charts count too


def test_graph_config_keeps_the_cloud_off_whatever_is_added():
    config = graph_config.graph_config(showSendToCloud=True, modeBarButtonsToRemove=["lasso2d"])
    assert_no_cloud(config, "override")
    assert "lasso2d" in config["modeBarButtonsToRemove"]
