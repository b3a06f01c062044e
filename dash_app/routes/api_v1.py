"""The REST API under /api/v1: what a script needs to submit, follow and fetch jobs.

Callers are authenticated by the one gate (dash_app.auth): a session cookie, or
`Authorization: Bearer <token>` (services.people.api_tokens) for /api/v1 only. A read-only token is
refused anything but GET there. Every job read goes through services.jobs with the caller, so a
job of someone else is a 404 exactly like a missing one. Errors are JSON `{"error": message}`
with the web's own messages. The OpenAPI document (dash_app/routes/openapi.py) lists every route here.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request, send_file, stream_with_context
from flask_login import current_user

from dash_app.auth import csrf
from dash_app.routes import screen_routes
from dash_app.routes.openapi import openapi_document
from services import jobs, results
from services.af3 import input_files, load_json_text
from services.af3.names import safe_filename
from services.jobs import joblog
from services.people import ratelimit
from services.platform import db, defaults
from services.platform.errors import (
    FoldDeckError,
    InvalidInput,
    JobNotFound,
    JobStateError,
    LimitExceeded,
    PermissionDenied,
    TermsNotAccepted,
)

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
screen_routes.add_routes(bp)  # the screens (issue 26): same gate, limits and errors as the job routes
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Service errors -> HTTP status; anything else a service refuses is a 400.
STATUS = {JobNotFound: 404, InvalidInput: 422, TermsNotAccepted: 422, LimitExceeded: 409, JobStateError: 409,
          PermissionDenied: 403, ratelimit.RateLimited: 429}


def _settings():
    return current_app.config["FOLDDECK_SETTINGS"]


def _conn():
    return db.connect(_settings().db_path)


def _caller():
    return current_user.account


def _token():
    """Return the API token this request came with (None with a session)."""
    return g.get("api_token")


@bp.before_request
def _limit_and_protect() -> Response | None:
    """Rate-limit every call (per token, else per user); check CSRF for session callers that change things."""
    token, settings = _token(), _settings()
    key = f"api:token:{token.id}" if token else f"api:user:{_caller().id}"
    ratelimit.check(_conn(), key, ratelimit.Limit(settings.api_rate_per_minute, defaults.API_RATE_BURST),
                    "API requests")
    if token is None and request.method not in SAFE_METHODS:
        csrf.protect()  # a browser session sends cookies by itself; a token does not
    return None


@bp.errorhandler(FoldDeckError)
def _service_error(exc: FoldDeckError) -> tuple[Response, int]:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    body: dict[str, Any] = {"error": str(exc)}
    problems = getattr(exc, "problems", None)
    if problems:
        body["problems"] = [_problem(p) for p in problems]
    response = jsonify(body)
    if isinstance(exc, ratelimit.RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


@bp.errorhandler(404)
def _not_found(_exc) -> tuple[Response, int]:
    return jsonify({"error": "Not found."}), 404


@bp.errorhandler(405)
def _bad_method(_exc) -> tuple[Response, int]:
    return jsonify({"error": f"{request.method} is not allowed here."}), 405


def _problem(problem: Any) -> dict | str:
    if dataclasses.is_dataclass(problem):
        return {k: v for k, v in dataclasses.asdict(problem).items()}
    return str(problem)


def job_json(job: jobs.Job, position: int | None = None, slurm: jobs.SlurmAttempt | None = None) -> dict:
    """Return what the API says about a job.

    `position`: its place in the queue, when queued; `slurm`: its attempt's Slurm row (jobs.current_attempts).
    """
    return {"id": job.id, "name": job.name, "owner": job.owner, "state": job.state.value, "tokens": job.tokens,
            "submitted_at": job.submitted_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "host": job.host, "stage": job.stage, "progress": job.progress, "progress_detail": job.progress_detail,
            "attempts": job.attempts, "cancel_requested": job.cancel_requested, "error": job.error,
            "queue_position": position, "url": f"{_settings().public_url}/jobs/{job.id}",
            "phase": job.phase if job.state is jobs.JobState.RUNNING else "", "waiting_for_gpu": job.waiting_for_gpu,
            "msa_reused": job.reused_chains(), "slurm": slurm.as_json() if slurm else None,
            "engine": job.engine, "engine_group": job.engine_group}


def _job(job_id: int) -> jobs.Job:
    return jobs.get_job(_conn(), _caller(), job_id)


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number.") from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be from {lo} to {hi}.")
    return value


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _bool_arg(name: str, default: bool) -> bool:
    """Return a true/false query parameter (absent or empty: `default`).

    Raises:
        InvalidInput: any other value.
    """
    raw = (request.args.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in _BOOLS:
        raise InvalidInput(f"{name} must be true or false, not {request.args.get(name)!r}.")
    return _BOOLS[raw]


@bp.get("/me")
def me() -> Response:
    """Say who the caller is and what this token may do."""
    user, token = _caller(), _token()
    return jsonify({"username": user.username, "role": user.role.value,
                    "token": {"name": token.name, "scope": token.scope.value} if token else None})


@bp.get("/jobs")
def list_jobs() -> Response:
    """List the caller's jobs, newest first (all users' with all=true for an admin)."""
    limit = _int_arg("limit", 50, 1, 500)
    offset = _int_arg("offset", 0, 0, 10**9)
    state = request.args.get("state") or None
    if state and state not in {s.value for s in jobs.JobState}:
        raise InvalidInput(f"Unknown state {state!r}; use one of: {', '.join(s.value for s in jobs.JobState)}.")
    found, total = jobs.list_jobs(_conn(), _caller(), state=state, all_users=request.args.get("all") == "true",
                                  offset=offset, limit=limit)
    positions, in_slurm = _positions(found), jobs.current_attempts(_conn(), found)
    return jsonify({"jobs": [job_json(j, positions.get(j.id), in_slurm.get(j.id)) for j in found], "total": total,
                    "offset": offset, "limit": limit})


def _positions(found: list[jobs.Job]) -> dict[int, int]:
    """Return job id -> place in the fair queue order for the queued ones (one query, none when none)."""
    queued = [j.id for j in found if j.state is jobs.JobState.QUEUED]
    return jobs.queue_positions(_conn(), queued) if queued else {}


@bp.post("/jobs")
def submit() -> tuple[Response, int]:
    """Submit an input document (either dialect): one job per fold job in it, all or nothing."""
    settings, caller, token = _settings(), _caller(), _token()
    conn = _conn()
    if token is not None:  # the per-user bucket, shared with the web, is taken by jobs.submit_many
        ratelimit.check(conn, f"submit:token:{token.id}",
                        ratelimit.Limit(settings.submit_rate_per_minute, defaults.SUBMIT_RATE_BURST),
                        "submissions with this token")
    doc, files = _submitted(settings)
    accept = request.args.get("accept_terms", "").lower() in ("1", "true", "yes")
    reuse_msa = _bool_arg("reuse_msa", True)
    # The web's own submission: same validation, limits, terms (required every time) and user rate limit.
    # ?engines=af3,boltz: one job per engine and fold job, grouped; each engine's refusals named (issue 29).
    engines = [e for e in request.args.get("engines", "af3").split(",") if e.strip()]
    key = request.headers.get("Idempotency-Key") or None
    made = jobs.submit_with_engines(conn, settings, caller, doc, engines, key, accept_terms=accept, via="api",
                                    reuse_msa=reuse_msa, files=files)
    return jsonify({"jobs": [job_json(j) for j in made]}), 201


def _submitted(settings) -> tuple[object, dict[str, bytes]]:
    """Return the input document and the files sent with it.

    A JSON body is the input alone. A multipart/form-data body has the input in the part named
    `input` and the MSA, template and user-CCD files it names as further file parts (issue 22).

    Raises:
        InvalidInput: no `input` part, or a file name that is not a plain relative name.
    """
    if request.mimetype != "multipart/form-data":
        return load_json_text(request.get_data(cache=False), max_bytes=settings.upload_max_bytes), {}
    request.max_content_length = settings.upload_max_bytes + settings.input_files_max_bytes + 1024 * 1024
    part = request.files.get("input")
    raw = part.read(settings.upload_max_bytes + 1) if part else request.form.get("input", "").encode()
    if not raw:
        raise InvalidInput("A multipart submission needs the input JSON in a part named 'input'.")
    files = {}
    for field, upload in request.files.items(multi=True):
        if field == "input":
            continue
        name = input_files.safe_name(upload.filename or field)
        if name is None:
            raise InvalidInput(f"File part {field!r}: {upload.filename!r} is not a plain file name (letters, digits, "
                               ". _ + -, folders with /); nothing was submitted.")
        files[name] = upload.read()
    return load_json_text(raw, max_bytes=settings.upload_max_bytes), files


@bp.get("/jobs/<int:job_id>")
def get_job(job_id: int) -> Response:
    """Return one job."""
    job = _job(job_id)
    return jsonify(job_json(job, _positions([job]).get(job.id), jobs.current_attempts(_conn(), [job]).get(job.id)))


@bp.get("/jobs/<int:job_id>/log")
def job_log(job_id: int) -> Response:
    """Return the log lines after `since` (a sequence number); `next_since` continues from there."""
    job = _job(job_id)
    since = _int_arg("since", 0, 0, 2**62)
    limit = _int_arg("limit", 1000, 1, defaults.API_LOG_MAX_LINES)
    lines = joblog.read_log(_conn(), job.id, since, limit)
    return jsonify({"lines": [dataclasses.asdict(line) for line in lines],
                    "next_since": lines[-1].seq if lines else since,
                    "more": len(lines) == limit, "state": job.state.value, "finished": job.is_finished})


@bp.post("/jobs/<int:job_id>/cancel")
def cancel(job_id: int) -> Response:
    """Cancel a job (a running one stops shortly after)."""
    return jsonify(job_json(jobs.cancel_job(_conn(), _caller(), job_id)))


@bp.post("/jobs/<int:job_id>/retry")
def retry(job_id: int) -> Response:
    """Queue a failed or cancelled job again."""
    return jsonify(job_json(jobs.retry_job(_conn(), _caller(), job_id, _settings())))


@bp.get("/jobs/<int:job_id>/scores")
def scores(job_id: int) -> Response:
    """Return the confidence scores of every sample, best first (empty until it succeeded)."""
    job = _job(job_id)
    samples = results.read_results(job.output_path).samples if job.state is jobs.JobState.SUCCEEDED else []
    return jsonify({"job_id": job.id, "samples": [dataclasses.asdict(s) for s in samples]})


@bp.get("/jobs/<int:job_id>/files")
def files(job_id: int) -> Response:
    """List the output files (paths relative to the output folder)."""
    job = _job(job_id)
    listed, more = results.list_files(Path(job.output_path)) if job.output_path else ([], 0)
    return jsonify({"job_id": job.id, "files": [dataclasses.asdict(f) for f in listed], "more_files": more})


@bp.get("/jobs/<int:job_id>/files/<path:relative>")
def file(job_id: int, relative: str) -> Response:
    """Download one output file."""
    job = _job(job_id)
    path = results.resolve_file(job.output_path, relative)
    if path is None:
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name, max_age=0)


@bp.get("/jobs/<int:job_id>/archive")
def archive(job_id: int) -> Response:
    """Download every output file as one zip, streamed while it is written."""
    job = _job(job_id)
    if not job.output_path or not Path(job.output_path).is_dir():
        abort(404)
    stem = f"job-{job.id}-{safe_filename(job.name)}"
    response = Response(stream_with_context(_zip_chunks(job.output_path, stem)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}-results.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _zip_chunks(folder: str, stem: str):
    """Yield the zip of the output folder (the web's streaming zip)."""
    from services.results import result_archive

    yield from result_archive.iter_zip(folder, stem)


def openapi() -> Response:
    """Serve the OpenAPI 3.1 description of this API (public: it holds no data)."""
    doc = openapi_document(_settings().public_url)
    doc["paths"].update(screen_routes.openapi_paths())  # the screens (issue 26) join the same API
    return jsonify(doc)


def init_api(server: Flask) -> None:
    """Register /api/v1 (the blueprint is CSRF-exempt: it checks session callers itself)."""
    csrf.exempt(bp)
    server.register_blueprint(bp)
    server.add_url_rule("/api/v1/openapi.json", "api_v1_openapi", openapi)
