"""A browser's view of a Dash app over plain HTTP, for the benches: a logged-in session, the layout the
pages router sends, and callback bodies built the way dash-renderer builds them (from
`/_dash-dependencies` and the layout's values), following the cursors each answer sends back.
"""
from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlencode

PASSWORD = "bench-password-1"
ME = "u000"


# -- a browser's view: session, layout, callback bodies -------------------------------------------


class Client:
    """One logged-in browser session over plain HTTP."""

    def __init__(self, port: int, login: bool = True):
        self.port = port
        self.cookies: dict[str, str] = {}
        if login:
            page = self.request("GET", "/login")[2].decode()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            status, _, _ = self.request("POST", "/login", urlencode({"username": ME, "password": PASSWORD,
                                                                    "csrf_token": token}).encode(),
                                        {"Content-Type": "application/x-www-form-urlencoded"})
            assert status == 302, f"login failed: {status}"
            self.request("GET", "/")  # the page load sets the CSRF cookie

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "_csrf_token" in self.cookies:
            h["X-CSRFToken"] = self.cookies["_csrf_token"]
        return h

    def request(self, method: str, path: str, body: bytes | None = None, extra: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = self.headers() if self.cookies else {}
        h.update(extra or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        for value in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return r.status, r.headers, data

    def post_json(self, body: dict):
        status, headers, data = self.request("POST", "/_dash-update-component", json.dumps(body).encode())
        return status, (json.loads(data) if status == 200 and data else None)


def _key(cid) -> str:
    return json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid


def _parse_id(text: str):
    return json.loads(text) if text.startswith("{") else text


def _walk(node, found: dict) -> None:
    """Index every component of a layout by id."""
    if isinstance(node, list):
        for n in node:
            _walk(n, found)
    elif isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict):
            if "id" in props:
                found[_key(props["id"])] = props
            for v in props.values():
                _walk(v, found)


def _outputs(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for p in parts:
        cid, _, prop = p.rpartition(".")
        out.append({"id": _parse_id(cid), "property": prop})
    return out


class Poll:
    """The body dash-renderer sends when `interval` fires on a page, kept current from the responses."""

    def __init__(self, deps: list[dict], layout: dict, interval: str):
        cands = [d for d in deps if any(i["id"] == interval and i["property"] == "n_intervals" for i in d["inputs"])]
        self.dep = max(cands, key=lambda d: len(_outputs(d["output"])))
        comps: dict = {}
        _walk(layout, comps)
        self.values = {}
        for spec in self.dep["inputs"] + self.dep.get("state", []):
            self.values[(spec["id"], spec["property"])] = comps.get(spec["id"], {}).get(spec["property"])
        self.values[(interval, "n_intervals")] = 1
        self.interval = interval

    def body(self) -> dict:
        outs = _outputs(self.dep["output"])
        spec = lambda s: {"id": _parse_id(s["id"]), "property": s["property"],  # noqa: E731
                          "value": self.values[(s["id"], s["property"])]}
        return {"output": self.dep["output"], "outputs": outs if len(outs) > 1 else outs[0],
                "inputs": [spec(s) for s in self.dep["inputs"]], "state": [spec(s) for s in self.dep.get("state", [])],
                "changedPropIds": [f"{self.interval}.n_intervals"]}

    def follow(self, response: dict | None) -> None:
        """Take the new values the server sent for this callback's own state (cursors), as the browser does."""
        states = {(x["id"], x["property"]) for x in self.dep.get("state", [])}
        for cid, props in (response or {}).get("response", {}).items():
            for prop, value in props.items():
                if (cid, prop) in states and not (isinstance(value, dict) and "__dash_patch_update" in value):
                    self.values[(cid, prop)] = value


def open_page(client: Client, deps: list[dict], path: str) -> dict:
    """Return the layout the pages router sends for `path`."""
    router = next(d for d in deps if "_pages_content.children" in d["output"])
    values = {"pathname": path, "search": ""}
    body = {"output": router["output"], "outputs": _outputs(router["output"]),
            "inputs": [{**i, "value": values.get(i["property"])} for i in router["inputs"]],
            "state": [{**s, "value": None} for s in router.get("state", [])],
            "changedPropIds": ["_pages_location.pathname"]}
    status, data = client.post_json(body)
    assert status == 200, f"{path}: {status}"
    return data["response"]["_pages_content"]["children"]


def run_initial(client: Client, deps: list[dict], layout: dict, output_prefix: str) -> dict:
    """Run the page's initial callback whose output starts with `output_prefix`; return its response."""
    dep = next(d for d in deps if d["output"].lstrip(".").startswith(output_prefix))
    comps: dict = {}
    _walk(layout, comps)
    spec = lambda s: {"id": s["id"], "property": s["property"],  # noqa: E731
                      "value": comps.get(s["id"], {}).get(s["property"])}
    status, data = client.post_json({"output": dep["output"], "outputs": _outputs(dep["output"]),
                                     "inputs": [spec(s) for s in dep["inputs"]],
                                     "state": [spec(s) for s in dep.get("state", [])],
                                     "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"]})
    assert status == 200, status
    return data
