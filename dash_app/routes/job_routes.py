"""Plain Flask downloads beside the job page: the full log, the input, the output files, the Slurm script.

The gate already requires a session for /api/*; each route checks the caller may see the job
(services.jobs.get_job) and answers a JSON 404 otherwise, exactly as for a job that does not exist.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, current_app, jsonify, redirect, request, send_file, stream_with_context
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException, NotFound
from wtforms import ValidationError

from dash_app.auth import csrf
from services import jobs, results
from services.af3.names import safe_filename
from services.jobs import joblog
from services.operations import result_import
from services.platform import db, defaults
from services.platform.errors import InvalidInput, JobNotFound, LimitExceeded
from services.results import result_archive, session_scripts

IMPORT_ERROR_SALT = "folddeck-import-error"  # signs only /import's own refusals, nothing else
IMPORT_ERROR_MAX_AGE_S = 600  # the reason is read right after the redirect; an old link shows nothing


def _visible_job(job_id: int) -> jobs.Job:
    """Return the job if the logged-in user may see it, else answer 404 (the same for a missing job)."""
    conn = db.connect(current_app.config["FOLDDECK_SETTINGS"].db_path)
    try:
        return jobs.get_job(conn, current_user.account, job_id)
    except JobNotFound:
        abort(404, description=f"Job {job_id} was not found.")


def _stem(job: jobs.Job) -> str:
    return f"job-{job.id}-{safe_filename(job.name)}"


def download_log(job_id: int) -> Response:
    """Stream the whole log as text, in bounded chunks (a million lines never sit in memory)."""
    job = _visible_job(job_id)
    db_path = current_app.config["FOLDDECK_SETTINGS"].db_path

    def generate():
        yield from joblog.iter_log_text(db.connect(db_path), job.id)

    response = Response(stream_with_context(generate()), mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{_stem(job)}.log"'
    response.headers["Cache-Control"] = "no-store"
    return response


def download_input(job_id: int) -> Response:
    """Send the job's AF3 input JSON."""
    job = _visible_job(job_id)
    try:
        open(job.input_path, "rb").close()
    except OSError:
        abort(404, description=f"The input file of job {job.id} is missing.")
    return send_file(job.input_path, mimetype="application/json", as_attachment=True,
                     download_name=f"{_stem(job)}-input.json", max_age=0)


def download_output(job_id: int, relative: str) -> Response:
    """Send one file of the job's output folder (nothing outside it)."""
    job = _visible_job(job_id)
    path = results.resolve_file(job.output_path, relative) if job.output_path else None
    if path is None:
        abort(404, description=f"Job {job.id} has no output file {relative!r}.")
    return send_file(path, as_attachment=True, download_name=path.name, max_age=0)


def pae_image(job_id: int, key: str) -> Response:
    """Send the PAE image of one sample (the results card's PAE map; parsed once, then from the cache)."""
    job = _visible_job(job_id)
    files = results.find_sample(results.describe_folder(job.output_path), key) if job.output_path else None
    cache = current_app.config["FOLDDECK_SETTINGS"].data_dir / defaults.RESULTS_CACHE_DIR
    conf = results.sample_confidences(files, cache_dir=cache) if files else None
    if conf is None or not conf.pae_png:
        abort(404, description=f"Job {job.id} has no PAE for sample {key!r}.")
    response = Response(conf.pae_png, mimetype="image/png")
    # the address carries the image's checksum, so a cached copy is never stale
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def session_script(job_id: int, key: str, ext: str) -> Response:
    """Send a PyMOL (.pml) or ChimeraX (.cxc) script for one sample: pLDDT colours and interface selections."""
    job = _visible_job(job_id)
    files = results.find_sample(results.describe_folder(job.output_path), key) if job.output_path else None
    if ext not in ("pml", "cxc") or files is None or files.model is None:
        abort(404, description=f"Job {job.id} has no model for sample {key!r}.")
    cache = current_app.config["FOLDDECK_SETTINGS"].data_dir / defaults.RESULTS_CACHE_DIR
    conf = results.sample_confidences(files, cache_dir=cache)
    faces = conf.interfaces if conf else ()
    write = session_scripts.pymol_script if ext == "pml" else session_scripts.chimerax_script
    response = Response(write(files.model.name, faces), mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{_stem(job)}-{safe_filename(key)}.{ext}"'
    return response


def download_slurm_script(job_id: int) -> Response:
    """Show (or, with ?download=1, send) the batch script of the job's latest attempt in Slurm."""
    job = _visible_job(job_id)
    conn = db.connect(current_app.config["FOLDDECK_SETTINGS"].db_path)
    rows = jobs.slurm_attempts(conn, current_user.account, job.id)
    if not rows:
        abort(404, description=f"Job {job.id} was not run through Slurm.")
    response = Response(rows[0].script, mimetype="text/plain")
    if request.args.get("download"):
        name = f"{_stem(job)}-attempt-{rows[0].attempt}.sbatch"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def download_archive(job_id: int) -> Response:
    """Stream the whole output folder as a zip, written while it is sent (never built in memory)."""
    job = _visible_job(job_id)
    if not job.output_path or not Path(job.output_path).is_dir():
        abort(404)
    response = Response(stream_with_context(result_archive.iter_zip(job.output_path, _stem(job))),
                        mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{_stem(job)}-results.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _import_errors() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=IMPORT_ERROR_SALT)


def _back_to_import(message: str) -> Response:
    """Go back to /import with the reason, signed for this user: the page shows no text it did not write."""
    return redirect("/import?error=" + _import_errors().dumps([current_user.account.id, message]))


def import_error(token: str | None, user_id: int | None) -> str | None:
    """Return the refusal `_back_to_import` signed for `user_id`; None for any other text, user or an old one."""
    if not token or user_id is None:
        return None
    try:
        owner, message = _import_errors().loads(token, max_age=IMPORT_ERROR_MAX_AGE_S)
    except (BadData, TypeError, ValueError):
        return None
    return message if owner == user_id and isinstance(message, str) else None


def import_results() -> Response:
    """Take an uploaded results zip (POST, form field `file`) and open the imported job, or say why not.

    The upload limit is raised for this route only; CSRF is checked here, after that limit is
    set, instead of by CSRFProtect's hook (which would read the body under the global limit).
    """
    request.max_content_length = defaults.RESULTS_IMPORT_MAX_UPLOAD_BYTES
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return _back_to_import("The form expired; reload the page and try again.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _back_to_import("Choose a .zip file to import.")
    conn = db.connect(current_app.config["FOLDDECK_SETTINGS"].db_path)
    try:
        imported = result_import.import_zip_all(conn, current_app.config["FOLDDECK_SETTINGS"], current_user.account,
                                                upload.stream, upload.filename)
    except (InvalidInput, LimitExceeded) as exc:
        return _back_to_import(str(exc))
    more = f"?imported={','.join(str(j.id) for j in imported)}" if len(imported) > 1 else ""
    return redirect(f"/jobs/{imported[0].id}{more}")


def api_error(exc: HTTPException):
    """Answer an HTTP error under /api/ as JSON ({"error": ...}); elsewhere keep Flask's page."""
    if not request.path.startswith("/api/"):
        return exc
    generic = exc.description == NotFound.description or not exc.description
    message = "There is nothing at this address." if generic and exc.code == 404 else exc.description
    response = jsonify({"error": message})
    response.status_code = exc.code or 500
    return response


def init_job_routes(server: Flask) -> None:
    """Register /api/jobs/<id>/log, /input, /files/<path>, /archive and POST /api/jobs/import,
    with JSON errors under /api/."""
    server.register_error_handler(404, api_error)
    server.register_error_handler(405, api_error)
    server.add_url_rule("/api/jobs/<int:job_id>/log", "job_log", download_log)
    server.add_url_rule("/api/jobs/<int:job_id>/input", "job_input", download_input)
    server.add_url_rule("/api/jobs/<int:job_id>/files/<path:relative>", "job_file", download_output)
    server.add_url_rule("/api/jobs/<int:job_id>/pae/<key>.png", "job_pae_image", pae_image)
    server.add_url_rule("/api/jobs/<int:job_id>/open/<key>.<ext>", "job_session_script", session_script)
    server.add_url_rule("/api/jobs/<int:job_id>/slurm-script", "job_slurm_script", download_slurm_script)
    server.add_url_rule("/api/jobs/<int:job_id>/archive", "job_archive", download_archive)
    server.add_url_rule("/api/jobs/import", "job_import", csrf.exempt(import_results), methods=["POST"])
