"""The OpenAPI 3.1 document of /api/v1, written by hand to match dash_app/routes/api_v1.py.

A test validates it with openapi-spec-validator and checks that every /api/v1 route is in it.
"""
from __future__ import annotations

from copy import deepcopy


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/TooMany"},
}
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_NOT_FOUND = {"$ref": "#/components/responses/NotFound"}


def _op(summary: str, responses: dict, *, params: list | None = None, body: dict | None = None,
        write: bool = False) -> dict:
    op = {"summary": summary, "parameters": params or [], "responses": {**responses, **_ERRORS}}
    if body:
        op["requestBody"] = body
    if write:
        op["responses"]["403"] = {"$ref": "#/components/responses/Forbidden"}
        op["description"] = "Needs a read-write token (or a session with its CSRF header)."
    return op


_PATHS = {
    "/me": {"get": _op("Who the caller is and the token's scope", {"200": _json(_ref("Me"), "The caller")})},
    "/jobs": {
        "get": _op("List your jobs, newest first", {"200": _json(_ref("JobList"), "One page of jobs"),
                                                   "422": {"$ref": "#/components/responses/Invalid"}},
                   params=[{"name": "state", "in": "query", "schema": _ref("State")},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                       "maximum": 500, "default": 50}},
                           {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                           {"name": "all", "in": "query", "description": "admins: every user's jobs",
                            "schema": {"type": "string", "enum": ["true", "false"]}}]),
        "post": _op(
            "Submit an AlphaFold 3 input (either dialect); one job per fold job in it, all or nothing",
            {"201": _json({"type": "object", "required": ["jobs"],
                           "properties": {"jobs": {"type": "array", "items": _ref("Job")}}}, "The queued jobs"),
             "409": {"$ref": "#/components/responses/Conflict"},
             "422": {"$ref": "#/components/responses/Invalid"}},
            params=[{"name": "accept_terms", "in": "query", "required": True,
                     "description": "true: you accept the AlphaFold 3 model-parameter terms of use for this "
                                    "submission (required, as on the web)",
                     "schema": {"type": "string", "enum": ["true"]}},
                    {"name": "reuse_msa", "in": "query", "required": False,
                     "description": "false: search every chain's MSAs again rather than take them from the MSA "
                                    "cache (the web's \"Search MSAs again\"); true (the default) reuses cached ones",
                     "schema": {"type": "boolean", "default": True}},
                    {"name": "engines", "in": "query", "required": False,
                     "description": "comma-separated engines to run the input on (af3, boltz, chai, protenix, "
                                    "openfold3): one job per engine, grouped; an engine that cannot run the input "
                                    "refuses it with the reason (422)",
                     "schema": {"type": "string", "default": "af3"}},
                    {"name": "Idempotency-Key", "in": "header",
                     "description": "the same key again returns the jobs made the first time",
                     "schema": {"type": "string", "maxLength": 200}}],
            body={"required": True, "content": {"application/json": {"schema": {
                "description": "an AlphaFold 3 input (alphafold3 dialect) or an AlphaFold Server list of jobs",
                "type": ["object", "array"]}}}},
            write=True),
    },
    "/jobs/{job_id}": {"get": _op("One job", {"200": _json(_ref("Job"), "The job"), "404": _NOT_FOUND},
                                  params=[_JOB_ID])},
    "/jobs/{job_id}/log": {"get": _op(
        "Log lines after `since`; poll again with `since=next_since`",
        {"200": _json(_ref("Log"), "Log lines, oldest first"), "404": _NOT_FOUND,
         "422": {"$ref": "#/components/responses/Invalid"}},
        params=[_JOB_ID, {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000,
                                                            "default": 1000}}])},
    "/jobs/{job_id}/cancel": {"post": _op("Cancel a job", {"200": _json(_ref("Job"), "The job"),
                                                           "404": _NOT_FOUND,
                                                           "409": {"$ref": "#/components/responses/Conflict"}},
                                          params=[_JOB_ID], write=True)},
    "/jobs/{job_id}/retry": {"post": _op("Queue a failed or cancelled job again",
                                         {"200": _json(_ref("Job"), "The job"), "404": _NOT_FOUND,
                                          "409": {"$ref": "#/components/responses/Conflict"}},
                                         params=[_JOB_ID], write=True)},
    "/jobs/{job_id}/scores": {"get": _op("Confidence scores per sample, best first",
                                         {"200": _json(_ref("Scores"), "Scores"), "404": _NOT_FOUND},
                                         params=[_JOB_ID])},
    "/jobs/{job_id}/files": {"get": _op("Output files", {"200": _json(_ref("Files"), "Files"), "404": _NOT_FOUND},
                                        params=[_JOB_ID])},
    "/jobs/{job_id}/files/{relative}": {"get": _op(
        "Download one output file",
        {"200": {"description": "The file", "content": {"application/octet-stream": {
            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}, "404": _NOT_FOUND},
        params=[_JOB_ID, {"name": "relative", "in": "path", "required": True, "schema": {"type": "string"},
                          "description": "path inside the output folder, as /files lists it"}])},
    "/jobs/{job_id}/archive": {"get": _op(
        "Download every output file as one zip",
        {"200": {"description": "A zip", "content": {"application/zip": {
            "schema": {"type": "string", "contentMediaType": "application/zip"}}}}, "404": _NOT_FOUND},
        params=[_JOB_ID])},
    "/openapi.json": {"get": {"summary": "This document", "security": [],
                              "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
}

_NUM = {"type": ["number", "null"]}
_SCHEMAS = {
    "State": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string", "description": "what went wrong, in the web's words"},
        "problems": {"type": "array", "items": {"type": ["object", "string"]}}}},
    "Me": {"type": "object", "properties": {
        "username": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "user"]},
        "token": {"type": ["object", "null"], "properties": {"name": {"type": "string"},
                                                             "scope": {"type": "string", "enum": ["read", "write"]}}}}},
    "Job": {"type": "object", "required": ["id", "name", "state"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "owner": {"type": "string"}, "state": _ref("State"),
        "tokens": {"type": "integer"}, "submitted_at": {"type": "number"}, "started_at": _NUM,
        "finished_at": _NUM, "host": {"type": ["string", "null"]}, "stage": {"type": "string"},
        "progress": {"type": "number"}, "progress_detail": {"type": "string"}, "attempts": {"type": "integer"},
        "cancel_requested": {"type": "boolean"}, "error": {"type": ["string", "null"]},
        "queue_position": {"type": ["integer", "null"], "description": "1 = next to start; null unless queued"},
        "url": {"type": "string", "description": "the job page"},
        "phase": {"type": "string", "enum": ["", "data", "inference"],
                  "description": "while running: data = MSA search in a CPU slot, inference = in a GPU slot, "
                                 "empty = both stages in one run (or not running)"},
        "waiting_for_gpu": {"type": "boolean", "description": "queued with its MSA search done"},
        "msa_reused": {"type": "array", "description": "entities whose MSA came from the cache",
                       "items": {"type": "object", "properties": {
                           "chains": {"type": "array", "items": {"type": "string"}},
                           "job_id": {"type": ["integer", "null"]}}}},
        "slurm": {"type": ["object", "null"], "description": "Slurm's view of the latest attempt on a Slurm host "
                                                             "(null elsewhere)", "properties": {
            "job_id": {"type": ["integer", "null"], "description": "Slurm's job id (null until sbatch answers)"},
            "state": {"type": "string", "description": "PENDING, RUNNING, REQUEUED, COMPLETED, CANCELLED..."},
            "reason": {"type": "string", "description": "Slurm's pending reason (Resources, Priority...)"},
            "node": {"type": "string"}, "pending": {"type": "boolean"},
            "text": {"type": "string", "description": "the line the job page shows"}}},
        "engine": {"type": "string",
                   "description": "the predictor that runs it: af3, boltz, chai, protenix, openfold3"},
        "engine_group": {"type": ["integer", "null"],
                         "description": "the first job of the submission that ran one input on several "
                                        "engines"}}},
    "JobList": {"type": "object", "properties": {"jobs": {"type": "array", "items": _ref("Job")},
                                                 "total": {"type": "integer"}, "offset": {"type": "integer"},
                                                 "limit": {"type": "integer"}}},
    "Log": {"type": "object", "properties": {
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "seq": {"type": "integer"}, "ts": {"type": "number"}, "stream": {"type": "string"},
            "level": {"type": "string"}, "text": {"type": "string"}}}},
        "next_since": {"type": "integer"}, "more": {"type": "boolean", "description": "more lines are waiting"},
        "state": _ref("State"), "finished": {"type": "boolean"}}},
    "Scores": {"type": "object", "properties": {"job_id": {"type": "integer"}, "samples": {"type": "array", "items": {
        "type": "object", "properties": {"seed": {"type": ["integer", "null"]}, "sample": {"type": ["integer", "null"]},
                                         "ranking_score": _NUM, "ptm": _NUM, "iptm": _NUM}}}}},
    "Files": {"type": "object", "properties": {"job_id": {"type": "integer"}, "files": {"type": "array", "items": {
        "type": "object", "properties": {"path": {"type": "string"}, "size": {"type": "integer"}}}},
        "more_files": {"type": "integer"}}},
}


def _error(description: str, headers: dict | None = None) -> dict:
    out = _json(_ref("Error"), description)
    if headers:
        out["headers"] = headers
    return out


def openapi_document(server_url: str) -> dict:
    """Return the OpenAPI 3.1 document, with `server_url` as the server."""
    return deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "FoldDeck API", "version": "1.0.0",
                 "description": "Submit AlphaFold 3 jobs and follow them. Authenticate with "
                                "`Authorization: Bearer <token>` (create tokens on your account page)."},
        "servers": [{"url": f"{server_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API token from /account (fdk_...)"}},
            "schemas": _SCHEMAS,
            "responses": {
                "Unauthorized": _error("No valid token or session"),
                "Forbidden": _error("The token is read-only"),
                "NotFound": _error("No such job, or not yours"),
                "Conflict": _error("The job's state or your limits refuse this"),
                "Invalid": _error("The input or a parameter is not valid; `problems` says where"),
                "TooMany": _error("Rate limit reached", {"Retry-After": {
                    "description": "seconds to wait", "schema": {"type": "integer"}}}),
            },
        },
    })
