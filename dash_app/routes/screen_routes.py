"""Screens in the REST API (issue 26): submit one, follow it, cancel or retry it, fetch its table and zip.

The routes join the /api/v1 blueprint (`add_routes`, called by dash_app.routes.api_v1), so the one gate,
the rate limit, CSRF for sessions, read-only tokens and the JSON errors are the same as for jobs. A screen
of someone else is a 404 exactly like a missing one (services.screens.ScreenNotFound is a JobNotFound).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context
from flask_login import current_user

from services import screens
from services.af3 import load_json_text
from services.af3.names import safe_filename
from services.people import ratelimit
from services.platform import db, defaults
from services.platform.errors import InvalidInput
from services.screens import ranking
from services.screens.archive import iter_screen_zip

_TEXT_FIELDS = ("smiles", "ccd", "sdf", "mutations")


def _settings():
    return current_app.config["FOLDDECK_SETTINGS"]


def _conn():
    return db.connect(_settings().db_path)


def _caller():
    return current_user.account


def screen_json(screen: screens.Screen) -> dict[str, Any]:
    """Return what the API says about a screen: its counts and every member with its job's state."""
    base = _settings().public_url
    return {"id": screen.id, "name": screen.name, "kind": screen.kind, "created_at": screen.created_at,
            "counts": screen.counts, "finished": screen.finished, "gpu_seconds": round(screen.gpu_seconds, 1),
            "members": [{"position": m.position, "label": m.label, "value": m.value, "chain_id": m.chain_id,
                         "job_id": m.job.id, "state": m.job.state.value, "stage": m.job.stage,
                         "progress": m.job.progress, "approval": m.job.approval, "error": m.job.error,
                         "url": f"{base}/jobs/{m.job.id}"} for m in screen.members]}


def _text(body: dict, name: str) -> str:
    """Return a member field as text: a string, or a list of strings (one per line).

    Raises:
        InvalidInput: any other type.
    """
    value = body.get(name) or ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text or a list of strings.")
    return value


def spec_from_json(body: Any) -> screens.ScreenSpec:
    """Return the screen a JSON body asks for.

    Raises:
        InvalidInput: not an object, no `shared` object, or a field of the wrong type.
    """
    if not isinstance(body, dict) or not isinstance(body.get("shared"), dict):
        raise InvalidInput("A screen is a JSON object with a `shared` AF3 input and its members "
                           "(smiles, ccd, sdf or mutations).")
    fields = {name: _text(body, name) for name in _TEXT_FIELDS}
    chains = {k: body.get(k) or "" for k in ("mutate_chain", "ligand_chain")}
    if not all(isinstance(v, str) for v in chains.values()) or not isinstance(body.get("name", ""), str):
        raise InvalidInput("name, mutate_chain and ligand_chain must be text.")
    return screens.ScreenSpec(name=body.get("name") or "", shared=body["shared"], **fields, **chains)


def submit_screen() -> tuple[Response, int]:
    """Submit a screen: one job per member, all or nothing."""
    settings, conn, token = _settings(), _conn(), g.get("api_token")
    if token is not None:  # the per-user bucket, shared with the web, is taken by jobs.submit_many
        ratelimit.check(conn, f"submit:token:{token.id}",
                        ratelimit.Limit(settings.submit_rate_per_minute, defaults.SUBMIT_RATE_BURST),
                        "submissions with this token")
    spec = spec_from_json(load_json_text(request.get_data(cache=False), max_bytes=settings.upload_max_bytes))
    accept = request.args.get("accept_terms", "").lower() in ("1", "true", "yes")
    screen = screens.create_screen(conn, settings, _caller(), spec, accept_terms=accept, via="api",
                                   idempotency_key=request.headers.get("Idempotency-Key") or None)
    return jsonify(screen_json(screen)), 201


def list_screens() -> Response:
    """List the caller's screens, newest first, with member counts by state."""
    found = screens.list_screens(_conn(), _caller(), all_users=request.args.get("all") == "true")
    return jsonify({"screens": [{"id": i, "name": n, "kind": k, "created_at": t, "counts": c}
                                for i, n, k, t, c in found]})


def get_screen(screen_id: int) -> Response:
    """Return one screen with its members."""
    return jsonify(screen_json(screens.get_screen(_conn(), _caller(), screen_id)))


def screen_results(screen_id: int) -> Response:
    """Return the ranked table (JSON, or CSV with format=csv)."""
    screen = screens.get_screen(_conn(), _caller(), screen_id)
    rows = ranking.ranked_rows(screen)
    if request.args.get("format") == "csv":
        response = Response(ranking.rows_csv(rows), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{safe_filename(screen.name)}.csv"'
        return response
    return jsonify({"screen_id": screen.id, "rows": [dataclasses.asdict(r) for r in rows]})


def cancel_screen(screen_id: int) -> Response:
    """Cancel every member still queued or running."""
    return jsonify(screen_json(screens.cancel_screen(_conn(), _caller(), screen_id)))


def retry_screen(screen_id: int) -> Response:
    """Queue every failed or cancelled member again."""
    return jsonify(screen_json(screens.retry_screen(_conn(), _settings(), _caller(), screen_id)))


def screen_archive(screen_id: int) -> Response:
    """Download the ranked table and every finished member's outputs as one zip, streamed."""
    screen = screens.get_screen(_conn(), _caller(), screen_id)
    stem = f"screen-{screen.id}-{safe_filename(screen.name)}"
    response = Response(stream_with_context(iter_screen_zip(screen)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(bp: Blueprint) -> None:
    """Add the screen routes to the /api/v1 blueprint (before it is registered)."""
    bp.add_url_rule("/screens", "list_screens", list_screens, methods=["GET"])
    bp.add_url_rule("/screens", "submit_screen", submit_screen, methods=["POST"])
    bp.add_url_rule("/screens/<int:screen_id>", "get_screen", get_screen, methods=["GET"])
    bp.add_url_rule("/screens/<int:screen_id>/results", "screen_results", screen_results, methods=["GET"])
    bp.add_url_rule("/screens/<int:screen_id>/cancel", "cancel_screen", cancel_screen, methods=["POST"])
    bp.add_url_rule("/screens/<int:screen_id>/retry", "retry_screen", retry_screen, methods=["POST"])
    bp.add_url_rule("/screens/<int:screen_id>/archive", "screen_archive", screen_archive, methods=["GET"])


# -- the OpenAPI paths of these routes (merged into /api/v1/openapi.json) -----------------------------

_ID = {"name": "screen_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ERR = {"401": {"$ref": "#/components/responses/Unauthorized"}, "429": {"$ref": "#/components/responses/TooMany"}}
_404 = {"404": {"$ref": "#/components/responses/NotFound"}}
_409 = {"409": {"$ref": "#/components/responses/Conflict"}}
_422 = {"422": {"$ref": "#/components/responses/Invalid"}}
_SCREEN = {"type": "object", "required": ["id", "name", "members"], "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"}, "kind": {"type": "string", "enum": ["ligands", "mutations"]},
    "counts": {"type": "object", "description": "members by state"}, "finished": {"type": "boolean"},
    "gpu_seconds": {"type": "number", "description": "estimated GPU time of all members (what approval weighs)"},
    "members": {"type": "array", "items": {"type": "object", "properties": {
        "label": {"type": "string"}, "value": {"type": "string"}, "job_id": {"type": "integer"},
        "state": {"type": "string"}, "url": {"type": "string"}}}}}}


def _ok(schema: dict, what: str) -> dict:
    return {"description": what, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, responses: dict, params: list | None = None, write: bool = False, **extra: Any) -> dict:
    op = {"summary": summary, "parameters": params or [], "responses": {**responses, **_ERR}, **extra}
    if write:
        op["responses"]["403"] = {"$ref": "#/components/responses/Forbidden"}
    return op


def openapi_paths() -> dict[str, dict]:
    """Return the OpenAPI path items of the screen routes."""
    body = {"required": True, "content": {"application/json": {"schema": {"type": "object", "required": ["shared"],
            "properties": {"name": {"type": "string"},
                           "shared": {"type": "object", "description": "the shared AF3 input (alphafold3 dialect)"},
                           "smiles": {"description": "one `SMILES [name]` per line, or a list",
                                      "type": ["string", "array"]},
                           "ccd": {"description": "CCD codes by line or comma; NAG+NAG is one ligand",
                                   "type": ["string", "array"]},
                           "sdf": {"type": "string", "description": "an SDF file's text: one ligand per record"},
                           "mutations": {"description": "one variant per line, e.g. A123G,K45R",
                                         "type": ["string", "array"]},
                           "mutate_chain": {"type": "string"}, "ligand_chain": {"type": "string"}}}}}}
    terms = {"name": "accept_terms", "in": "query", "required": True, "schema": {"type": "string", "enum": ["true"]}}
    zip_ok = {"200": {"description": "A zip", "content": {"application/zip": {
        "schema": {"type": "string", "contentMediaType": "application/zip"}}}}}
    rows = {"type": "object", "properties": {"screen_id": {"type": "integer"}, "rows": {"type": "array", "items": {
        "type": "object", "description": "rank, label, value, job_id, state, ranking_score, iptm_pair, chain_iptm, "
                                         "pae_min, plddt, ptm, iptm"}}}}
    return {
        "/screens": {
            "get": _op("List your screens", {"200": _ok({"type": "object"}, "Screens with member counts")}),
            "post": _op("Submit a screen: one job per member, all or nothing", {"201": _ok(_SCREEN, "The screen"),
                                                                                **_409, **_422},
                        [terms], write=True, requestBody=body)},
        "/screens/{screen_id}": {"get": _op("One screen and its members", {"200": _ok(_SCREEN, "The screen"),
                                                                          **_404}, [_ID])},
        "/screens/{screen_id}/results": {"get": _op("The ranked table (format=csv for CSV)",
                                                    {"200": _ok(rows, "Rows, best first"), **_404},
                                                    [_ID, {"name": "format", "in": "query",
                                                           "schema": {"type": "string", "enum": ["json", "csv"]}}])},
        "/screens/{screen_id}/cancel": {"post": _op("Cancel every unfinished member",
                                                    {"200": _ok(_SCREEN, "The screen"), **_404, **_409}, [_ID],
                                                    write=True)},
        "/screens/{screen_id}/retry": {"post": _op("Queue every failed or cancelled member again",
                                                   {"200": _ok(_SCREEN, "The screen"), **_404, **_409}, [_ID],
                                                   write=True)},
        "/screens/{screen_id}/archive": {"get": _op("The table and every finished member's outputs as one zip",
                                                    {**zip_ok, **_404}, [_ID])},
    }
