"""The job model: states, the Job row, loading jobs (SELECT_JOB, to_job, load_job) and logging job events."""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from services.platform.errors import JobNotFound

log = logging.getLogger("folddeck.jobs")


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
WORKER_LOST = "worker lost"
SORTS = {
    "submitted_desc": "j.submitted_at DESC, j.id DESC",
    "submitted_asc": "j.submitted_at ASC, j.id ASC",
    "updated_desc": "j.updated_at DESC, j.id DESC",
    "name_asc": "j.name COLLATE NOCASE ASC, j.id ASC",
    "name_desc": "j.name COLLATE NOCASE DESC, j.id DESC",
    "state": "j.state ASC, j.submitted_at DESC",
    "state_desc": "j.state DESC, j.submitted_at DESC",
    "tokens_desc": "j.tokens DESC, j.id DESC",
    "tokens_asc": "j.tokens ASC, j.id ASC",
    # jobs that have not started yet go last either way
    "started_desc": "j.started_at IS NULL, j.started_at DESC, j.id DESC",
    "started_asc": "j.started_at IS NULL, j.started_at ASC, j.id ASC",
}


@dataclass(frozen=True)
class Job:
    id: int
    owner_id: int
    owner: str
    name: str
    state: JobState
    input_path: str
    tokens: int
    cloned_from: int | None
    submitted_at: float
    queued_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    attempts: int
    attempts_base: int
    cancel_requested: bool
    worker_id: str | None
    lease_expires: float | None
    executor: str | None
    host: str | None
    pid: int | None
    remote_pid: int | None
    exit_code: int | None
    error: str | None
    output_path: str | None
    remote_output: str | None
    stage: str
    progress: float
    progress_detail: str
    peak_mem_mib: float | None
    mean_util: float | None
    idempotency_key: str | None
    terms_accepted_at: float | None = None  # when the owner accepted the AlphaFold 3 terms for this job
    terms_via: str | None = None  # how it was submitted: builder, upload, cli, clone...
    pinned: int = 0  # 1: kept past FOLDDECK_RETENTION_DAYS
    purged_at: float | None = None  # when retention removed its outputs
    approval: str | None = None  # None (not needed), "pending", "approved" or "rejected"
    approval_note: str | None = None  # the admin's note, shown to the owner
    not_before: float | None = None  # the owner asked that it not start before this
    phase: str = ""  # while running: "" both stages in one run, "data" (CPU slot) or "inference" (GPU slot)
    data_json: str | None = None  # the finished data pipeline's <name>_data.json: inference starts from it
    msa_keys: str | None = None  # JSON: the chains a data pipeline would search (services.msa.msa_cache)
    msa_reuse: int = 1  # 0: the owner asked to search again rather than reuse cached MSAs
    msa_reused: str | None = None  # JSON [{"chains": ["A"], "job_id": 12}]: one entry per entity taken from the cache
    seeds: int = 1  # modelSeeds in the input (issue 22: GPU time, not tokens alone)
    samples: int = 5  # diffusion samples per seed the AF3 command asks for
    engine: str = "af3"  # which predictor runs it (services.engines.registry, issue 29)
    engine_group: int | None = None  # the first job of the submission that ran one input on several engines

    @property
    def gpu_seconds(self) -> float:
        """Return the job's estimated GPU seconds (services.af3.size.gpu_seconds, the one estimator)."""
        from services.af3.size import gpu_seconds

        return gpu_seconds(self.tokens, self.seeds, self.samples)

    @property
    def waiting_for_gpu(self) -> bool:
        """True for a queued job whose data pipeline is done: only inference is left."""
        return self.state is JobState.QUEUED and bool(self.data_json)

    def reused_chains(self) -> list[dict]:
        """Return [{"chains": ["A"], "job_id": 12}, ...]: one per entity whose MSA came from the cache."""
        return json.loads(self.msa_reused) if self.msa_reused else []

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED

    def read_input(self) -> dict:
        """Return the job's AF3 input document."""
        return json.loads(Path(self.input_path).read_text())


_JOB_FIELDS = [f.name for f in fields(Job)]
# The one query a Job is read with: add " WHERE ..." (the job is `j`, its owner `u`) and pass the rows to
# to_job / to_jobs. Paths are kept relative to the data dir (services.platform.stored_paths); the first
# column of a name wins.
SELECT_JOB = ("SELECT fd_abs(j.input_path) AS input_path, fd_abs(j.output_path) AS output_path, "
              "fd_abs(j.data_json) AS data_json, j.*, u.username AS owner "
              "FROM jobs j JOIN users u ON u.id = j.owner_id")


def to_job(row: sqlite3.Row) -> Job:
    """Return one row of SELECT_JOB as a Job."""
    data = {k: row[k] for k in _JOB_FIELDS}
    data["state"] = JobState(data["state"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Job(**data)


def to_jobs(cur: sqlite3.Cursor) -> list[Job]:
    """Return a query's rows as Jobs, looking column names up once (a Row looks each name up by scanning)."""
    names = [d[0] for d in cur.description]
    at = [names.index(k) for k in _JOB_FIELDS]
    state_at, cancel_at = _JOB_FIELDS.index("state"), _JOB_FIELDS.index("cancel_requested")
    out = []
    for row in cur:
        values = [row[i] for i in at]
        values[state_at] = JobState(values[state_at])
        values[cancel_at] = bool(values[cancel_at])
        out.append(Job(*values))
    return out


def job_event(level: int, msg: str, job: Job, *args: Any) -> None:
    """Write a job's event to the application log, under its owner and id (`msg` % args)."""
    log.log(level, msg, *args, extra={"source": "jobs", "username": job.owner, "job_id": job.id})


def load_job(conn: sqlite3.Connection, job_id: int) -> Job:
    """Return the job with this id, whoever owns it (callers acting for a user use queries.get_job).

    Raises:
        JobNotFound: no such job.
    """
    row = conn.execute(SELECT_JOB + " WHERE j.id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(f"Job {job_id} was not found.")
    return to_job(row)
