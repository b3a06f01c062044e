"""Jobs: a durable queue in SQLite with fair claiming, leases, limits and queue control.

A job's input is kept as `<data dir>/jobs/<id>/input.json`; each attempt writes its results to
`<data dir>/jobs/<id>/attempt-<n>/`. Every read takes the caller: a user sees only their own
jobs, an admin sees all; a job the caller may not see is reported exactly like a missing one.

CLI: python -m services.jobs submit FILE --accept-terms [--user U]
     | list | show ID | log ID [--follow] | cancel ID | retry ID
"""
from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from services import defaults, joblog
from services.db import transaction
from services.errors import (
    HostUnreachable,
    InvalidInput,
    JobNotFound,
    JobStateError,
    LimitExceeded,
    SettingsError,
    TermsNotAccepted,
)
from services.hosts import Host, load_hosts
from services.progress import Progress, progress  # noqa: F401  (re-exported for pages)
from services.settings import Settings
from services.users import User

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

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED

    def read_input(self) -> dict:
        """Return the job's AF3 input document."""
        return json.loads(Path(self.input_path).read_text())


_JOB_FIELDS = [f.name for f in fields(Job)]
_SELECT = "SELECT j.*, u.username AS owner FROM jobs j JOIN users u ON u.id = j.owner_id"


def _to_job(row: sqlite3.Row) -> Job:
    data = {k: row[k] for k in _JOB_FIELDS}
    data["state"] = JobState(data["state"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Job(**data)


def _to_jobs(cur: sqlite3.Cursor) -> list[Job]:
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


def _event(level: int, msg: str, job: Job, *args: Any) -> None:
    log.log(level, msg, *args, extra={"source": "jobs", "username": job.owner, "job_id": job.id})


def _load(conn: sqlite3.Connection, job_id: int) -> Job:
    row = conn.execute(_SELECT + " WHERE j.id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(f"Job {job_id} was not found.")
    return _to_job(row)


# -- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserLimits:
    max_running: int | None = None  # None = unlimited
    max_queued: int | None = None  # None = the default (SubmitLimits.queued_per_user)
    max_tokens: int | None = None  # None = the default (SubmitLimits.tokens_per_job)


@dataclass(frozen=True)
class SubmitLimits:
    """What one submission may hold. Global defaults live in the database (admins change them)."""

    jobs_per_submit: int = defaults.MAX_JOBS_PER_SUBMIT
    tokens_per_job: int = defaults.MAX_TOKENS_PER_JOB
    queued_per_user: int = defaults.MAX_QUEUED_PER_USER


LIMIT_RANGE = (1, 10_000_000)  # a limit of 0 would refuse everything; use pause for that


def get_limits(conn: sqlite3.Connection, user_id: int) -> UserLimits:
    """Return a user's own limits (all None when none are set)."""
    row = conn.execute("SELECT max_running, max_queued, max_tokens FROM user_limits WHERE user_id = ?",
                       (user_id,)).fetchone()
    return UserLimits(*row) if row else UserLimits()


def set_limits(conn: sqlite3.Connection, user_id: int, limits: UserLimits) -> UserLimits:
    """Replace a user's limits; None means unlimited running jobs, and the default for the others.

    Raises:
        InvalidInput: a limit is negative.
    """
    for name in ("max_running", "max_queued", "max_tokens"):
        value = getattr(limits, name)
        if value is not None and value < 0:
            raise InvalidInput(f"{name.replace('_', ' ')} must be 0 or more (leave it empty for the default).")
    conn.execute("INSERT INTO user_limits (user_id, max_running, max_queued, max_tokens) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (user_id) DO UPDATE SET max_running = excluded.max_running, "
                 "max_queued = excluded.max_queued, max_tokens = excluded.max_tokens",
                 (user_id, limits.max_running, limits.max_queued, limits.max_tokens))
    return get_limits(conn, user_id)


def default_limits(conn: sqlite3.Connection) -> SubmitLimits:
    """Return the limits every user has unless an admin set their own (NULL columns: defaults.py)."""
    row = conn.execute("SELECT jobs_per_submit, tokens_per_job, queued_per_user FROM submit_limits "
                       "WHERE id = 1").fetchone()
    base = SubmitLimits()
    if row is None:
        return base
    return SubmitLimits(*(v if v is not None else d for v, d in zip(row, (base.jobs_per_submit, base.tokens_per_job,
                                                                         base.queued_per_user), strict=True)))


def set_default_limits(conn: sqlite3.Connection, limits: SubmitLimits, by: str) -> SubmitLimits:
    """Store new default limits (services.admin checks the caller is an admin and logs it).

    Raises:
        InvalidInput: a limit is not a whole number from 1 to 10,000,000.
    """
    lo, hi = LIMIT_RANGE
    for label, value in (("Jobs per submission", limits.jobs_per_submit), ("Tokens per job", limits.tokens_per_job),
                         ("Queued jobs per user", limits.queued_per_user)):
        if not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidInput(f"{label} must be a whole number from {lo:,} to {hi:,}.")
    conn.execute("INSERT INTO submit_limits (id, jobs_per_submit, tokens_per_job, queued_per_user, changed_by, "
                 "changed_at) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                 "jobs_per_submit = excluded.jobs_per_submit, tokens_per_job = excluded.tokens_per_job, "
                 "queued_per_user = excluded.queued_per_user, changed_by = excluded.changed_by, "
                 "changed_at = excluded.changed_at",
                 (limits.jobs_per_submit, limits.tokens_per_job, limits.queued_per_user, by, time.time()))
    return default_limits(conn)


def effective_limits(conn: sqlite3.Connection, user_id: int) -> SubmitLimits:
    """Return the limits that apply to one user: their own where set, else the defaults."""
    base, own = default_limits(conn), get_limits(conn, user_id)
    return SubmitLimits(base.jobs_per_submit,
                        base.tokens_per_job if own.max_tokens is None else own.max_tokens,
                        base.queued_per_user if own.max_queued is None else own.max_queued)


_ASK = "ask an admin if you need more"


def _queued_count(conn: sqlite3.Connection, owner_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM jobs WHERE owner_id = ? AND state = 'queued'", (owner_id,)).fetchone()[0]


def check_job_count(count: int, limits: SubmitLimits, what: str = "This submission") -> None:
    """Refuse more jobs in one submission than the limit allows (before validating them one by one).

    Raises:
        LimitExceeded: naming the count, the limit and what to do.
    """
    if count > limits.jobs_per_submit:
        raise LimitExceeded(too_many_jobs(count, limits.jobs_per_submit, what))


def too_many_jobs(count: int, limit: int, what: str = "This submission") -> str:
    """Say that `what` holds more jobs than one submission may, and what to do."""
    return (f"{what} has {count:,} jobs; the limit is {limit:,} per submission. Nothing was submitted: split it "
            f"into smaller files, or {_ASK}.")


def too_many_tokens(tokens: int, limit: int) -> str:
    """Say that a job is over the tokens-per-job limit, and what to do."""
    return _tokens_refusal(tokens, limit)


def _tokens_refusal(tokens: int, limit: int) -> str:
    return (f"This job has {tokens:,} tokens; your limit is {limit:,} tokens per job (AlphaFold 3 fits about "
            f"5,000 on one 80 GB GPU); {_ASK}.")


def _queued_refusal(queued: int, limit: int) -> str:
    noun = "job" if queued == 1 else "jobs"
    return f"You already have {queued:,} queued {noun}; the limit is {limit:,}. Wait for some to run, or {_ASK}."


def _check_limits(conn: sqlite3.Connection, owner_id: int, tokens: int, extra_queued: int = 1) -> None:
    limits = effective_limits(conn, owner_id)
    if tokens > limits.tokens_per_job:
        raise LimitExceeded(_tokens_refusal(tokens, limits.tokens_per_job))
    queued = _queued_count(conn, owner_id)
    if queued + extra_queued > limits.queued_per_user:
        raise LimitExceeded(_queued_refusal(queued, limits.queued_per_user))


# -- submit -----------------------------------------------------------------------------------


def count_tokens(af3: dict) -> int:
    """Return the token count of a valid AF3-dialect input."""
    from services.af3 import estimate_size

    return int(estimate_size(af3).tokens)


def _input_text(af3: dict) -> str:
    return json.dumps(af3, indent=2)


@dataclass(frozen=True)
class NewJob:
    """One validated AF3-dialect job to queue, and how an error message names it."""

    af3: dict
    name: str | None = None
    idempotency_key: str | None = None
    label: str = ""  # "Entry 3 (apo)", "model.json, job 2": the start of a refusal naming this job
    cloned_from: int | None = None


def submit(conn: sqlite3.Connection, settings: Settings, owner: User, af3: dict, *,
           idempotency_key: str | None = None, name: str | None = None, cloned_from: int | None = None,
           accept_terms: bool | None = None, via: str = "") -> Job:
    """Queue one job from an AF3-dialect input that is already validated (see `submit_many`).

    A second submit with the same `idempotency_key` by the same owner returns the first job.
    """
    return submit_many(conn, settings, owner, [NewJob(af3, name, idempotency_key, "", cloned_from)],
                       accept_terms=accept_terms, via=via)[0]


def submit_many(conn: sqlite3.Connection, settings: Settings, owner: User, items: list[NewJob], *,
                accept_terms: bool | None = None, via: str = "") -> list[Job]:
    """Queue validated AF3-dialect jobs all or nothing, in one transaction; return them in order.

    Items whose idempotency key the owner already used return the job made then. The AlphaFold 3
    terms must be accepted: `accept_terms=True` accepts them now (and remembers it); None relies
    on the owner's earlier acceptance; False refuses. The job row records when and through what
    (`via`: "builder", "upload", "cli", ...).

    Raises:
        LimitExceeded: too many jobs, too many tokens in one, or too many queued (the message names the
            limit and the job); nothing was submitted.
        TermsNotAccepted: the terms were not accepted; nothing was submitted.
    """
    if not items:
        return []
    limits = effective_limits(conn, owner.id)
    check_job_count(len(items), limits)
    # Counted and serialised before taking the write lock: other submitters wait only for the inserts.
    entries = [_Entry(i, item, count_tokens(item.af3), _job_name(item.af3, item.name), _input_text(item.af3))
               for i, item in enumerate(items)]
    with transaction(conn):
        terms_at = _terms_accepted_at(conn, owner, accept_terms)
        existing = _existing_keys(conn, owner.id, [e.item.idempotency_key for e in entries])
        new = [e for e in entries if e.item.idempotency_key not in existing]
        _check_batch(conn, owner.id, [(e.item.label, e.tokens) for e in new], limits)
        with _undo_inputs(settings) as written:
            made = _insert_many(conn, settings, owner, new, terms_at, via, written)
        ids = [made[e.index] if e.index in made else existing[e.item.idempotency_key] for e in entries]
        jobs = _load_many(conn, ids)
    for job in jobs:
        if job.id in written:
            _event(logging.INFO, "job %s (%s) submitted by %s, %s tokens", job, job.id, job.name, owner.username,
                   job.tokens)
    return jobs


def _terms_accepted_at(conn: sqlite3.Connection, owner: User, accept: bool | None) -> float:
    """Return when the owner accepted the AlphaFold 3 terms, recording it now when `accept` is True.

    Raises:
        TermsNotAccepted: `accept` is False, or None and the owner never accepted them.
    """
    if accept:
        now = time.time()
        conn.execute("UPDATE users SET accepted_terms_at = ? WHERE id = ? AND accepted_terms_at IS NULL",
                     (now, owner.id))
        return now
    row = conn.execute("SELECT accepted_terms_at FROM users WHERE id = ?", (owner.id,)).fetchone()
    if accept is None and row is not None and row[0] is not None:
        return row[0]
    raise TermsNotAccepted(TERMS_REFUSAL)


TERMS_URL = "https://github.com/google-deepmind/alphafold3/blob/main/WEIGHTS_TERMS_OF_USE.md"
TERMS_TEXT = ("Predictions use the AlphaFold 3 model parameters, which Google DeepMind provides for non-commercial "
              "use only, under its terms of use. Submitting confirms that your use follows those terms (for example: "
              "no commercial use, and no training of other models on the outputs).")
TERMS_REFUSAL = ("Nothing was submitted: accept the AlphaFold 3 model-parameter terms of use first "
                 f"({TERMS_URL}).")


@dataclass(frozen=True)
class _Entry:
    index: int  # place in the submitted list
    item: NewJob
    tokens: int
    name: str
    text: str  # the input file's content


def _insert_many(conn: sqlite3.Connection, settings: Settings, owner: User, new: list[_Entry], terms_at: float,
                 via: str, written: list[int]) -> dict[int, int]:
    """Write the inputs and insert the rows with one executemany (inside the caller's transaction).

    Returns entry index -> job id. Ids are taken after the largest one under the write lock, as
    SQLite itself would, so each input file is written to its final place before the insert.
    """
    now = time.time()
    base = conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]
    rows, made = [], {}
    for i, e in enumerate(new):
        job_id = base + 1 + i
        written.append(job_id)
        folder = settings.jobs_dir / str(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        path, tmp = folder / "input.json", folder / ".input.json.tmp"
        tmp.write_text(e.text)
        os.replace(tmp, path)
        made[e.index] = job_id
        rows.append((job_id, owner.id, e.name, e.item.idempotency_key, str(path), e.tokens, e.item.cloned_from, now,
                     now, now, terms_at, via or None))
    conn.executemany("INSERT INTO jobs (id, owner_id, name, state, idempotency_key, input_path, tokens, cloned_from, "
                     "submitted_at, queued_at, updated_at, terms_accepted_at, terms_via) "
                     "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return made


def _load_many(conn: sqlite3.Connection, ids: list[int]) -> list[Job]:
    """Return the jobs with these ids, in this order."""
    rows = conn.execute(_SELECT + " WHERE j.id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
    by_id = {job.id: job for job in map(_to_job, rows)}
    return [by_id[i] for i in ids]


def input_file(settings: Settings, job: Job) -> Path:
    """Return the absolute path of a job's input file.

    Rows written before paths were made absolute hold `data/jobs/<id>/input.json`, relative to
    whatever folder the submitter ran in; the input always lives in this data dir's job folder.
    """
    path = Path(job.input_path)
    return path if path.is_absolute() else settings.jobs_dir / str(job.id) / "input.json"


def fix_relative_paths(conn: sqlite3.Connection, settings: Settings) -> int:
    """Rewrite relative input/output paths of existing jobs against the data dir; return the rows changed."""
    with transaction(conn):
        rows = conn.execute("SELECT id, input_path, output_path FROM jobs WHERE input_path NOT LIKE '/%' "
                            "OR (output_path IS NOT NULL AND output_path NOT LIKE '/%')").fetchall()
        for job_id, input_path, output_path in rows:
            folder = settings.jobs_dir / str(job_id)
            new_output = output_path
            if output_path and not Path(output_path).is_absolute():
                new_output = str(folder / Path(output_path).name)  # attempt-<n>
            new_input = input_path if Path(input_path).is_absolute() else str(folder / "input.json")
            conn.execute("UPDATE jobs SET input_path = ?, output_path = ? WHERE id = ?",
                         (new_input, new_output, job_id))
    return len(rows)


class _undo_inputs:  # noqa: N801  (used like a function: `with _undo_inputs(settings) as written`)
    """Remove the input folders of jobs whose insert is being rolled back.

    Used inside the transaction, so the folders go while we still hold the write lock: the ids
    are free again after the rollback and another submit may take them at once.
    """

    def __init__(self, settings: Settings):
        self.settings, self.written = settings, []

    def __enter__(self) -> list[int]:
        return self.written

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            for job_id in self.written:
                shutil.rmtree(self.settings.jobs_dir / str(job_id), ignore_errors=True)
        return False


def submit_document(conn: sqlite3.Connection, settings: Settings, owner: User, doc: Any,
                    idempotency_key: str | None = None, *, accept_terms: bool | None = None,
                    via: str = "") -> list[Job]:
    """Validate a parsed input document (either dialect) and queue one job per fold job in it.

    All or nothing (see `submit_many`): a refused entry leaves none of the others queued. The
    number of entries is checked before any is validated. With an `idempotency_key`, entries
    already submitted under it are returned, not queued twice.

    Raises:
        InvalidInput: any job in the document is invalid (`problems` lists them all).
        LimitExceeded: the owner's limits refuse an entry (the message names it); nothing was submitted.
        TermsNotAccepted: see `submit_many`.
    """
    from services.af3 import load_jobs

    if isinstance(doc, list):
        check_job_count(len(doc), effective_limits(conn, owner.id), "This file")
    docs = load_jobs(doc)
    problems = [p for d in docs for p in d.problems] if any(not d.valid for d in docs) else []
    if problems or not docs:
        raise InvalidInput("The input has problems; nothing was submitted.", problems or ["no jobs in the input"])
    many = len(docs) > 1
    items = [NewJob(d.af3, d.name, f"{idempotency_key}#{d.index}" if idempotency_key else None,
                    (f"Entry {d.index + 1}" + (f" ({d.name})" if d.name else "")) if many else "") for d in docs]
    return submit_many(conn, settings, owner, items, accept_terms=accept_terms, via=via)


def _job_name(af3: dict, name: str | None) -> str:
    """Return the name a job is listed under: the given one, else the input's, else "job"."""
    return (name or af3.get("name") or "job").strip() or "job"


def _existing_keys(conn: sqlite3.Connection, owner_id: int, keys: list[str | None]) -> dict[str, int]:
    """Return idempotency key -> job id for the keys this owner already submitted."""
    wanted = [k for k in keys if k]
    if not wanted:
        return {}
    rows = conn.execute("SELECT idempotency_key, id FROM jobs WHERE owner_id = ? AND idempotency_key IN "
                        "(SELECT value FROM json_each(?))", (owner_id, json.dumps(wanted)))
    return {key: job_id for key, job_id in rows}


def _check_batch(conn: sqlite3.Connection, owner_id: int, entries: list[tuple[str, int]],
                 limits: SubmitLimits) -> None:
    """Check the limits for every new entry, as if all were queued together.

    Raises:
        LimitExceeded: naming the first refused entry by its label, and why; nothing is submitted.
    """
    def refuse(label: str, why: str) -> LimitExceeded:
        return LimitExceeded(f"{label}: {why} Nothing was submitted." if label else why)

    for label, tokens in entries:
        if tokens > limits.tokens_per_job:
            raise refuse(label, _tokens_refusal(tokens, limits.tokens_per_job))
    queued = _queued_count(conn, owner_id)
    if entries and queued + len(entries) > limits.queued_per_user:
        if len(entries) == 1:
            raise refuse(entries[0][0], _queued_refusal(queued, limits.queued_per_user))
        first = entries[max(0, limits.queued_per_user - queued)][0]  # the first entry that does not fit
        raise refuse(first, f"you already have {queued:,} queued and this adds {len(entries):,}; the limit is "
                            f"{limits.queued_per_user:,} queued jobs. Wait for some to run, or {_ASK}.")


# -- reads ------------------------------------------------------------------------------------


def _scope(caller: User, all_users: bool) -> tuple[str, list]:
    if caller.is_admin and all_users:
        return "1 = 1", []
    return "j.owner_id = ?", [caller.id]


def get_job(conn: sqlite3.Connection, caller: User, job_id: int) -> Job:
    """Return a job the caller may see.

    Raises:
        JobNotFound: no such job, or it belongs to someone else and the caller is not an admin.
    """
    job = _load(conn, int(job_id))
    if job.owner_id != caller.id and not caller.is_admin:
        raise JobNotFound(f"Job {job_id} was not found.")
    return job


def list_jobs(conn: sqlite3.Connection, caller: User, *, state: str | Iterable[str] | None = None,
              search: str | None = None, all_users: bool = False, offset: int = 0, limit: int = 50,
              sort: str = "submitted_desc") -> tuple[list[Job], int]:
    """Return one page of the caller's jobs (all users' for an admin with all_users) and the total.

    Raises:
        InvalidInput: unknown sort or state.
    """
    where, args = _scope(caller, all_users)
    if state:
        states = [JobState(state).value] if isinstance(state, (str, JobState)) else [JobState(s).value for s in state]
        where += f" AND j.state IN ({','.join('?' * len(states))})"
        args += states
    if search and search.strip():
        term = search.strip()
        where += " AND (j.name LIKE ? ESCAPE '\\' OR u.username LIKE ? ESCAPE '\\' OR j.id = ?)"
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [like, like, int(term.lstrip("#")) if term.lstrip("#").isdigit() else -1]
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}; use one of: {', '.join(SORTS)}.")
    join = " JOIN users u ON u.id = j.owner_id" if "u.username" in where else ""  # only a search needs names
    total = conn.execute(f"SELECT COUNT(*) FROM jobs j{join} WHERE {where}", args).fetchone()[0]
    page = _to_jobs(conn.execute(f"{_SELECT} WHERE {where} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?",
                                 args + [max(0, int(limit)), max(0, int(offset))]))
    return page, total


def state_counts(conn: sqlite3.Connection, caller: User, all_users: bool = False) -> dict[str, int]:
    """Return the number of jobs in each state (every state present)."""
    where, args = _scope(caller, all_users)
    counts = {s.value: 0 for s in JobState}
    for state, n in conn.execute(f"SELECT j.state, COUNT(*) FROM jobs j WHERE {where} GROUP BY j.state", args):
        counts[state] = n
    return counts


def last_change(conn: sqlite3.Connection, caller: User, all_users: bool = False) -> float:
    """Return the latest updated_at among the visible jobs (0.0 when there are none)."""
    where, args = _scope(caller, all_users)
    row = conn.execute(f"SELECT MAX(j.updated_at) FROM jobs j WHERE {where}", args).fetchone()
    return row[0] or 0.0


def _running_by_owner(conn: sqlite3.Connection) -> dict[int, int]:
    return dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY owner_id"))


def change_marks(conn: sqlite3.Connection, caller: User, all_users: bool = False) -> tuple[int, int]:
    """Return (jobs counter, queue-order counter): equal marks mean the visible jobs did not change.

    The database keeps both (triggers of migration 0010), so this is one indexed read of two rows,
    whatever the number of jobs.
    """
    scope = 0 if caller.is_admin and all_users else caller.id
    marks = dict(conn.execute("SELECT scope, n FROM change_counters WHERE scope IN (?, -1)", (scope,)))
    return marks.get(scope, 0), marks.get(-1, 0)


def _full_order(conn: sqlite3.Connection) -> dict[int, int]:
    """Return the fair order of every queued job (heap merge, as claim_job takes them)."""
    per_user: dict[int, deque] = defaultdict(deque)
    for job_id, owner_id, queued_at in conn.execute(
            "SELECT id, owner_id, queued_at FROM jobs WHERE state = 'queued' ORDER BY queued_at, id"):
        per_user[owner_id].append((queued_at, job_id))
    running = _running_by_owner(conn)
    # Same rule as claim_job: fewest running first, then oldest; each pick counts as running.
    heap = [(running.get(o, 0), q[0][0], q[0][1], o) for o, q in per_user.items()]
    heapq.heapify(heap)
    positions: dict[int, int] = {}
    while heap:
        count, _, job_id, owner = heapq.heappop(heap)
        per_user[owner].popleft()
        positions[job_id] = len(positions) + 1
        if per_user[owner]:
            nxt = per_user[owner][0]
            heapq.heappush(heap, (count + 1, nxt[0], nxt[1], owner))
    return positions


def queue_positions(conn: sqlite3.Connection, job_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Return job id -> 1-based place in the fair order in which workers will claim queued jobs.

    With `job_ids` (a page's jobs) only those are placed, without building the whole order: in
    the fair order an owner's i-th queued job has the key (running + i, queued_at, id), so a job's
    place is 1 + the jobs with a smaller key, counted per owner from indexed counts.
    """
    if job_ids is None:
        return _full_order(conn)
    ids = [int(i) for i in job_ids]
    if not ids:
        return {}
    mine = conn.execute(f"SELECT id, owner_id, queued_at FROM jobs WHERE state = 'queued' "
                        f"AND id IN ({','.join('?' * len(ids))})", ids).fetchall()
    if not mine:
        return {}
    queued, running = {}, {}
    for owner, state, n in conn.execute("SELECT owner_id, state, COUNT(*) FROM jobs WHERE state IN "
                                        "('queued', 'running') GROUP BY state, owner_id"):
        (queued if state == "queued" else running)[owner] = n
    positions = {}
    for job_id, owner, queued_at in mine:
        # per owner: queued jobs strictly before this one in (queued_at, id)
        ahead = dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE state = 'queued' AND "
                                  "(queued_at < ? OR (queued_at = ? AND id < ?)) GROUP BY owner_id",
                                  (queued_at, queued_at, job_id)))
        key = running.get(owner, 0) + ahead.get(owner, 0)
        before = 0
        for other, n in queued.items():
            if other == owner:
                before += ahead.get(owner, 0)
                continue
            k = key - running.get(other, 0)  # the other owner's jobs with index < k come first
            if k > 0:
                before += min(k, n)
            if 0 <= k < ahead.get(other, 0):  # its k-th job ties on the count and is older
                before += 1
        positions[job_id] = before + 1
    return positions


def job_board(conn: sqlite3.Connection) -> dict:
    """Return what every status viewer sees of the jobs: the queue length and each host's running jobs.

    The sampler writes this into the snapshot store once per tick, so a status poll reads no job
    rows. Returns {"queued": n, "running": {host: [[job id, owner, pid or remote pid], ...]}}.
    """
    queued = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
    running: dict[str, list] = {}
    for job_id, owner, host, target in conn.execute(
            "SELECT j.id, u.username, COALESCE(j.host, 'local'), COALESCE(j.remote_pid, j.pid) FROM jobs j "
            "JOIN users u ON u.id = j.owner_id WHERE j.state = 'running' ORDER BY j.started_at, j.id"):
        running.setdefault(host, []).append([job_id, owner, target])
    return {"queued": queued, "running": running}


def running_jobs(conn: sqlite3.Connection) -> list[Job]:
    """Return every running job (for the GPU-usage sampler)."""
    return _to_jobs(conn.execute(_SELECT + " WHERE j.state = 'running' ORDER BY j.started_at"))


def record_gpu_usage(conn: sqlite3.Connection, job_id: int, peak_mem_mib: float, mean_util: float) -> None:
    """Store a job's GPU usage (the sampler calls this while and after it runs)."""
    conn.execute("UPDATE jobs SET peak_mem_mib = ?, mean_util = ? WHERE id = ?", (peak_mem_mib, mean_util, job_id))


@dataclass(frozen=True)
class Attempt:
    attempt: int
    worker_id: str | None
    host: str | None
    executor: str | None
    started_at: float
    finished_at: float | None
    outcome: str | None
    exit_code: int | None
    error: str | None


def attempts(conn: sqlite3.Connection, caller: User, job_id: int) -> list[Attempt]:
    """Return the attempt history of a visible job, first attempt first."""
    get_job(conn, caller, job_id)
    return [Attempt(*r) for r in conn.execute(
        "SELECT attempt, worker_id, host, executor, started_at, finished_at, outcome, exit_code, error "
        "FROM job_attempts WHERE job_id = ? ORDER BY attempt", (job_id,))]


# -- user actions -----------------------------------------------------------------------------


def cancel_job(conn: sqlite3.Connection, caller: User, job_id: int) -> Job:
    """Cancel a job: a queued one at once, a running one once its worker has stopped it.

    Raises:
        JobNotFound: not visible to the caller.
        JobStateError: the job already finished.
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        now = time.time()
        if job.state is JobState.QUEUED:
            conn.execute("UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ?, stage = 'cancelled' "
                         "WHERE id = ?", (now, now, job.id))
        elif job.state is JobState.RUNNING:
            conn.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", (now, job.id))
        else:
            raise JobStateError(f"Job {job.id} already {job.state.value}; there is nothing to cancel.")
    joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Cancel requested by {caller.username}.")])
    _event(logging.INFO, "job %s cancel requested by %s (was %s)", job, job.id, caller.username, job.state.value)
    return _load(conn, job.id)


def retry_job(conn: sqlite3.Connection, caller: User, job_id: int) -> Job:
    """Queue a failed or cancelled job again as a new attempt; earlier attempts stay in its history.

    Raises:
        JobNotFound: not visible to the caller.
        JobStateError: the job is not failed or cancelled.
        LimitExceeded: the owner's queued-jobs limit refuses it.
    """
    with transaction(conn):
        job = get_job(conn, caller, job_id)
        if job.state not in (JobState.FAILED, JobState.CANCELLED):
            raise JobStateError(f"Job {job.id} is {job.state.value}; only failed or cancelled jobs can be retried.")
        _check_limits(conn, job.owner_id, job.tokens)
        now = time.time()
        conn.execute("UPDATE jobs SET state = 'queued', queued_at = ?, updated_at = ?, started_at = NULL, "
                     "finished_at = NULL, cancel_requested = 0, exit_code = NULL, error = NULL, worker_id = NULL, "
                     "lease_expires = NULL, pid = NULL, remote_pid = NULL, stage = '', progress = 0, "
                     "progress_detail = '', progress_state = '{}', attempts_base = attempts WHERE id = ?",
                     (now, now, job.id))
    joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Retry requested by {caller.username}.")])
    _event(logging.INFO, "job %s retried by %s", job, job.id, caller.username)
    return _load(conn, job.id)


def clone_job(conn: sqlite3.Connection, settings: Settings, caller: User, job_id: int,
              idempotency_key: str | None = None) -> Job:
    """Submit a new job, owned by the caller, from the same input as a visible job.

    Raises:
        JobNotFound: not visible to the caller.
        LimitExceeded: the caller's limits refuse it.
    """
    job = get_job(conn, caller, job_id)
    return submit(conn, settings, caller, json.loads(input_file(settings, job).read_text()), name=job.name,
                  cloned_from=job.id, idempotency_key=idempotency_key, via="clone")


# -- queue control and workers ----------------------------------------------------------------


def pause_queue(conn: sqlite3.Connection, by_user: User) -> None:
    """Stop workers from starting new jobs (running ones continue)."""
    conn.execute("UPDATE queue_control SET paused = 1, changed_by = ?, changed_at = ? WHERE id = 1",
                 (by_user.username, time.time()))
    # DEBUG: services/admin.py writes the one audit line (with the acting admin) for this action.
    log.debug("queue paused by %s", by_user.username, extra={"source": "jobs", "username": by_user.username})


def resume_queue(conn: sqlite3.Connection, by_user: User) -> None:
    """Let workers start queued jobs again."""
    conn.execute("UPDATE queue_control SET paused = 0, changed_by = ?, changed_at = ? WHERE id = 1",
                 (by_user.username, time.time()))
    log.debug("queue resumed by %s", by_user.username, extra={"source": "jobs", "username": by_user.username})


def queue_paused(conn: sqlite3.Connection) -> bool:
    """Return True while the queue is paused."""
    return bool(conn.execute("SELECT paused FROM queue_control WHERE id = 1").fetchone()[0])


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host_name: str
    pid: int
    started_at: float
    heartbeat_at: float
    current_job: int | None
    stopped_at: float | None
    running_jobs: tuple[int, ...]


def list_workers(conn: sqlite3.Connection, include_stopped: bool = False) -> list[WorkerInfo]:
    """Return the workers (live ones unless include_stopped), newest first."""
    running: dict[str, list[int]] = defaultdict(list)
    for wid, jid in conn.execute("SELECT worker_id, id FROM jobs WHERE state = 'running' ORDER BY id"):
        running[wid].append(jid)
    where = "" if include_stopped else " WHERE stopped_at IS NULL"
    rows = conn.execute("SELECT id, host_name, pid, started_at, heartbeat_at, current_job, stopped_at FROM workers"
                        + where + " ORDER BY started_at DESC").fetchall()
    return [WorkerInfo(*r, running_jobs=tuple(running.get(r[0], ()))) for r in rows]


@dataclass(frozen=True)
class HostSlots:
    name: str
    slots: int
    running: int

    @property
    def free(self) -> int:
        return max(0, self.slots - self.running)


def slots_per_host(settings: Settings, conn: sqlite3.Connection) -> dict[str, HostSlots]:
    """Return, per host that runs jobs, its slots and how many jobs run there now."""
    running = dict(conn.execute("SELECT host, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY host"))
    return {h.name: HostSlots(h.name, h.slots, running.get(h.name, 0)) for h in load_hosts(settings) if h.run_jobs}


# -- worker side ------------------------------------------------------------------------------


def register_worker(conn: sqlite3.Connection, worker_id: str, host_name: str, pid: int) -> None:
    """Record a worker as started."""
    now = time.time()
    conn.execute("INSERT OR REPLACE INTO workers (id, host_name, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
                 (worker_id, host_name, pid, now, now))


def stop_worker(conn: sqlite3.Connection, worker_id: str) -> None:
    """Record a worker as stopped."""
    conn.execute("UPDATE workers SET stopped_at = ?, current_job = NULL WHERE id = ?", (time.time(), worker_id))


def heartbeat(conn: sqlite3.Connection, worker_id: str, lease_seconds: float,
              job_ids: Iterable[int] | None = None) -> None:
    """Renew the leases of this worker's running jobs (only `job_ids`, when given) and its own heartbeat.

    A worker passes the jobs its slots are running: a job it lost track of (a slot that died, a
    failed final write) then expires and is reaped instead of being renewed forever.
    """
    now = time.time()
    with transaction(conn):
        if job_ids is None:
            conn.execute("UPDATE jobs SET lease_expires = ? WHERE worker_id = ? AND state = 'running'",
                         (now + lease_seconds, worker_id))
        else:
            ids = list(job_ids)
            conn.execute(f"UPDATE jobs SET lease_expires = ? WHERE worker_id = ? AND state = 'running' "
                         f"AND id IN ({','.join('?' * len(ids))})", (now + lease_seconds, worker_id, *ids))
        conn.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (now, worker_id))


def _pick_host(conn: sqlite3.Connection, hosts: list[Host]) -> Host | None:
    """Return the host with the most free slots (first listed on a tie), skipping hosts in backoff."""
    running = dict(conn.execute("SELECT host, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY host"))
    resting = {r[0] for r in conn.execute("SELECT host FROM host_backoff WHERE until > ?", (time.time(),))}
    free = [(h.slots - running.get(h.name, 0), -i, h) for i, h in enumerate(hosts)
            if h.run_jobs and h.name not in resting]
    free = [f for f in free if f[0] > 0]
    return max(free, key=lambda f: f[:2])[2] if free else None


_FAIR_NEXT = """
WITH r AS (SELECT owner_id, COUNT(*) AS n FROM jobs WHERE state = 'running' GROUP BY owner_id)
SELECT j.id FROM jobs j
LEFT JOIN r ON r.owner_id = j.owner_id
LEFT JOIN user_limits l ON l.user_id = j.owner_id
WHERE j.state = 'queued' AND (l.max_running IS NULL OR COALESCE(r.n, 0) < l.max_running)
ORDER BY COALESCE(r.n, 0), j.queued_at, j.id
LIMIT 1
"""


def claim_job(conn: sqlite3.Connection, settings: Settings, worker_id: str, hosts: list[Host]) -> Job | None:
    """Atomically take the next job in fair order for a host with a free slot; None if nothing to do."""
    with transaction(conn):
        if queue_paused(conn):
            return None
        host = _pick_host(conn, hosts)
        if host is None:
            return None
        row = conn.execute(_FAIR_NEXT).fetchone()
        if row is None:
            return None
        now = time.time()
        executor = "local" if host.is_local else "ssh"
        conn.execute("UPDATE jobs SET state = 'running', worker_id = ?, host = ?, executor = ?, "
                     "attempts = attempts + 1, started_at = ?, lease_expires = ?, updated_at = ?, stage = 'starting', "
                     "pid = NULL, remote_pid = NULL WHERE id = ?",
                     (worker_id, host.name, executor, now, now + settings.lease_seconds, now, row[0]))
        job = _load(conn, row[0])
        conn.execute("INSERT INTO job_attempts (job_id, attempt, worker_id, host, executor, started_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (job.id, job.attempts, worker_id, host.name, executor, now))
        conn.execute("UPDATE workers SET current_job = ? WHERE id = ?", (job.id, worker_id))
    _event(logging.INFO, "job %s started on %s by worker %s (attempt %s)", job, job.id, host.name, worker_id,
           job.attempts)
    return job


# -- unreachable hosts -------------------------------------------------------------------------

HOST_UNREACHABLE = "host unreachable"  # prefix of an attempt's outcome when its host could not be reached


@dataclass(frozen=True)
class HostBackoff:
    host: str
    failures: int  # consecutive failed connects
    until: float  # no claims onto the host before this (epoch seconds)
    reason: str


def mark_host_down(conn: sqlite3.Connection, host: str, reason: str, now: float | None = None) -> HostBackoff:
    """Keep workers off `host` for a backoff that doubles with each failure; return the new state.

    A failure reported while the host is already resting (another slot or worker claimed onto it
    just before) does not double the backoff again: it is the same outage.
    """
    now = time.time() if now is None else now
    with transaction(conn):
        row = conn.execute("SELECT failures, until FROM host_backoff WHERE host = ?", (host,)).fetchone()
        if row is not None and row[1] > now:
            conn.execute("UPDATE host_backoff SET reason = ?, updated_at = ? WHERE host = ?", (reason, now, host))
        else:
            failures = (row[0] if row else 0) + 1
            conn.execute("INSERT OR REPLACE INTO host_backoff (host, failures, until, reason, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", (host, failures, now + backoff_seconds(failures), reason, now))
        return HostBackoff(host, *conn.execute("SELECT failures, until, reason FROM host_backoff WHERE host = ?",
                                               (host,)).fetchone())


def backoff_seconds(failures: int) -> float:
    """Return how long a host rests after its `failures`-th consecutive failed connect."""
    return min(defaults.HOST_BACKOFF_MAX_S, defaults.HOST_BACKOFF_MIN_S * 2 ** max(0, failures - 1))


def mark_host_up(conn: sqlite3.Connection, host: str) -> None:
    """Forget a host's failures once a worker connected to it."""
    conn.execute("DELETE FROM host_backoff WHERE host = ?", (host,))


def host_backoffs(conn: sqlite3.Connection, now: float | None = None) -> dict[str, HostBackoff]:
    """Return host name -> backoff for the hosts workers stay off now (for pages and tests)."""
    now = time.time() if now is None else now
    return {r[0]: HostBackoff(*r) for r in conn.execute(
        "SELECT host, failures, until, reason FROM host_backoff WHERE until > ?", (now,))}


def hand_back(conn: sqlite3.Connection, job: Job, reason: str, log_line: str) -> bool:
    """Queue a claimed job again because its host could not be reached; False if this worker lost it.

    The attempt is recorded as "host unreachable: <reason>" and does not count against
    max_attempts; the job keeps its place in the queue (its queued_at is unchanged).
    """
    now, outcome = time.time(), f"{HOST_UNREACHABLE}: {reason}"
    with transaction(conn):
        if _owns(conn, job.id, job.worker_id, job.attempts) is None:
            return False
        joblog.write_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, log_line, joblog.Level.WARNING.value)])
        conn.execute("UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires = NULL, pid = NULL, "
                     "remote_pid = NULL, started_at = NULL, attempts_base = attempts_base + 1, updated_at = ?, "
                     "stage = '' WHERE id = ?", (now, job.id))
        conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = ?, error = ? WHERE job_id = ? AND attempt = ?",
                     (now, outcome, outcome, job.id, job.attempts))
        conn.execute("UPDATE workers SET current_job = NULL WHERE id = ? AND current_job = ?", (job.worker_id, job.id))
    _event(logging.WARNING, "job %s handed back to the queue: %s cannot be reached (%s)", job, job.id, job.host,
           reason)
    return True


def _owns(conn: sqlite3.Connection, job_id: int, worker_id: str, attempt: int) -> sqlite3.Row | None:
    return conn.execute("SELECT cancel_requested FROM jobs WHERE id = ? AND state = 'running' AND worker_id = ? "
                        "AND attempts = ?", (job_id, worker_id, attempt)).fetchone()


def check_running(conn: sqlite3.Connection, job: Job) -> str:
    """Return "" to go on, "cancel" when cancelled by a user, "lost" when the lease went to someone else."""
    row = _owns(conn, job.id, job.worker_id, job.attempts)
    if row is None:
        return "lost"
    return "cancel" if row[0] else ""


def record_process(conn: sqlite3.Connection, job: Job, *, pid: int | None = None, remote_pid: int | None = None,
                   output_path: str | None = None, remote_output: str | None = None) -> None:
    """Store where an attempt runs (process group ids, output folders) on the job row."""
    conn.execute("UPDATE jobs SET pid = ?, remote_pid = ?, output_path = ?, remote_output = ?, updated_at = ? "
                 "WHERE id = ? AND worker_id = ? AND attempts = ?",
                 (pid, remote_pid, output_path, remote_output, time.time(), job.id, job.worker_id, job.attempts))


def start_attempt(conn: sqlite3.Connection, job: Job, tracker_json: str) -> bool:
    """Reset the job's progress for a new attempt; False if this worker no longer holds it."""
    cur = conn.execute("UPDATE jobs SET progress_state = ?, progress = 0, progress_detail = '', log_in_traceback = 0 "
                       "WHERE id = ? AND state = 'running' AND worker_id = ? AND attempts = ?",
                       (tracker_json, job.id, job.worker_id, job.attempts))
    if cur.rowcount:
        joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value,
                                            f"Attempt {job.attempts} started on {job.host} by worker {job.worker_id}.",
                                            joblog.Level.INFO.value)])
    return bool(cur.rowcount)


def finish_attempt(conn: sqlite3.Connection, job: Job, state: JobState, *, exit_code: int | None = None,
                   error: str | None = None, log_lines: list[tuple[str, ...]] | None = None) -> bool:
    """Record the end of the attempt `job` describes; False if this worker no longer held the job.

    `log_lines` (the worker's closing line) are written in the same transaction: the log never says
    "Job succeeded." for a job whose state did not change, and never misses the line for one that did.
    """
    now = time.time()
    stage = {"succeeded": "done", "failed": "failed", "cancelled": "cancelled"}.get(state.value, "")
    with transaction(conn):
        if _owns(conn, job.id, job.worker_id, job.attempts) is None:
            return False
        if log_lines:
            joblog.write_lines(conn, job.id, log_lines)
        if state is JobState.QUEUED:  # handed back at shutdown: does not count against max_attempts
            conn.execute("UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires = NULL, pid = NULL, "
                         "remote_pid = NULL, attempts_base = attempts_base + 1, updated_at = ?, stage = '' "
                         "WHERE id = ?", (now, job.id))
        else:
            conn.execute("UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, exit_code = ?, error = ?, "
                         "lease_expires = NULL, pid = NULL, remote_pid = NULL, stage = ?, "
                         "progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE progress END WHERE id = ?",
                         (state.value, now, now, exit_code, error, stage, state.value, job.id))
        conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = ?, exit_code = ?, error = ? "
                     "WHERE job_id = ? AND attempt = ?",
                     (now, "requeued" if state is JobState.QUEUED else state.value, exit_code, error, job.id,
                      job.attempts))
        conn.execute("UPDATE workers SET current_job = NULL WHERE id = ? AND current_job = ?", (job.worker_id, job.id))
    _event(logging.WARNING if state is JobState.FAILED else logging.INFO, "job %s %s%s", job, job.id, state.value,
           f": {error}" if error else "")
    return True


def reap_expired(conn: sqlite3.Connection, settings: Settings, now: float | None = None,
                 hosts: list[Host] | None = None) -> list[Job]:
    """Queue again (or fail after max_attempts, or cancel) running jobs whose lease expired; return them.

    What the lost attempt left running is killed afterwards: locally by process group, on an SSH
    host over a short-timeout connection (`hosts`, else the hosts file, says how to reach it). A
    host that does not answer gets a warning in the application log and is not tried again in
    this call.
    """
    now = time.time() if now is None else now
    reaped = []
    with transaction(conn):
        rows = conn.execute(_SELECT + " WHERE j.state = 'running' AND j.lease_expires < ?", (now,)).fetchall()
        for job in map(_to_job, rows):
            if job.cancel_requested:
                new, error = JobState.CANCELLED, None
            elif job.attempts - job.attempts_base >= settings.max_attempts:
                new, error = JobState.FAILED, WORKER_LOST
            else:
                new, error = JobState.QUEUED, None
            finished = None if new is JobState.QUEUED else now
            conn.execute("UPDATE jobs SET state = ?, error = ?, finished_at = ?, updated_at = ?, worker_id = NULL, "
                         "lease_expires = NULL, pid = NULL, remote_pid = NULL, stage = ? WHERE id = ?",
                         (new.value, error, finished, now, "" if new is JobState.QUEUED else new.value, job.id))
            conn.execute("UPDATE job_attempts SET finished_at = ?, outcome = ? WHERE job_id = ? AND attempt = ?",
                         (now, WORKER_LOST, job.id, job.attempts))
            text = f"Worker {job.worker_id} stopped answering; job {new.value}" + (
                f" after {job.attempts - job.attempts_base} attempts." if new is JobState.FAILED else ".")
            joblog.write_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, text)])  # with the state change
            reaped.append((job, text))
    down: set[str] = set()
    for job, text in reaped:
        _event(logging.WARNING, "job %s: %s", job, job.id, text)
        _kill_leftovers(conn, settings, job, hosts, down)
    return [job for job, _ in reaped]


def _kill_leftovers(conn: sqlite3.Connection, settings: Settings, job: Job, hosts: list[Host] | None,
                    down: set[str]) -> None:
    """Kill what a dead worker's attempt left running, here or on its SSH host (marker-checked)."""
    if job.executor == "local":
        if job.pid:
            from services.executors.local import kill_leftovers

            kill_leftovers(job.pid, job.id, job.attempts)
        return
    if job.executor != "ssh" or not job.host:
        return
    host = _find_host(settings, job.host, hosts)
    if host is None or host.name in down:
        why = "it is not in the hosts file any more" if host is None else "it did not answer earlier"
        _event(logging.WARNING, "job %s: attempt %s may still run on %s: %s", job, job.id, job.attempts, job.host, why)
        return
    from services.executors.ssh import kill_remote_leftovers

    try:
        killed = kill_remote_leftovers(host, settings.known_hosts, job.id, job.attempts)
    except HostUnreachable as exc:
        down.add(host.name)
        _event(logging.WARNING, "job %s: could not stop attempt %s on %s: %s", job, job.id, job.attempts, host.name,
               exc)
        joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Could not reach {host.name} to stop "
                                            f"attempt {job.attempts}; it may still be running there.", "warning")])
        return
    if killed:
        joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, f"Stopped {killed} processes attempt "
                                            f"{job.attempts} left running on {host.name}.")])


def _find_host(settings: Settings, name: str, hosts: list[Host] | None) -> Host | None:
    """Return the host called `name` from `hosts`, else from the hosts file (None if neither has it)."""
    for host in hosts or ():
        if host.name == name:
            return host
    try:
        return next((h for h in load_hosts(settings) if h.name == name), None)
    except SettingsError:
        return None


# -- CLI --------------------------------------------------------------------------------------


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _print_job(job: Job) -> None:
    for key in ("id", "name", "owner", "state", "tokens", "attempts", "host", "executor", "exit_code", "error",
                "output_path", "remote_output", "stage", "progress", "progress_detail"):
        value = getattr(job, key)
        value = value.value if isinstance(value, Enum) else value
        print(f"{key:<16} {'-' if value in (None, '') else value}")
    for key in ("submitted_at", "started_at", "finished_at"):
        print(f"{key:<16} {_fmt_time(getattr(job, key))}")


def _follow(conn: sqlite3.Connection, caller: User, job_id: int, follow: bool) -> None:
    since = 0
    while True:
        lines = joblog.read_log(conn, job_id, since, 5000)
        for line in lines:
            print(line.text, flush=False)
        sys.stdout.flush()
        since = lines[-1].seq if lines else since
        if lines:
            continue
        if not follow or get_job(conn, caller, job_id).is_finished:
            if not joblog.read_log(conn, job_id, since, 1):
                return
        time.sleep(0.3)


EXIT_REFUSED, EXIT_UNREADABLE = 1, 2  # as `python -m services.af3 validate`: 1 invalid or refused, 2 unreadable


def problem_lines(problems: list, limit: int = defaults.CLI_MAX_PROBLEMS_SHOWN) -> list[str]:
    """Return problems as "path: message" lines, the first `limit` and then "… and N more"."""
    lines = []
    for p in problems[:limit]:
        path, message = getattr(p, "path", None), getattr(p, "message", None)
        lines.append(f"{path or '(top level)'}: {message}" if message is not None else str(p))
    if len(problems) > limit:
        lines.append(f"… and {len(problems) - limit:,} more")
    return lines


def _cli_submit(conn: sqlite3.Connection, settings: Settings, caller: User, path: Path, accept_terms: bool) -> int:
    """Read, check and queue one file; print the jobs made, or why not (exit 2: the file cannot be read)."""
    from services.af3 import load_json_text

    try:
        size = path.stat().st_size
        if size > defaults.CLI_SUBMIT_MAX_BYTES:  # checked before reading: a 5 GB file must not fill the memory
            raise InvalidInput(f"The file is {size:,} bytes, more than the {defaults.CLI_SUBMIT_MAX_BYTES:,} allowed.")
        doc = load_json_text(path.read_bytes(), defaults.CLI_SUBMIT_MAX_BYTES)
    except OSError as exc:
        print(f"error: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except InvalidInput as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        made = submit_document(conn, settings, caller, doc, accept_terms=accept_terms, via="cli")
    except TermsNotAccepted as exc:
        print(f"error: {exc} Read them, then submit again with --accept-terms.", file=sys.stderr)
        return EXIT_REFUSED
    for job in made:
        print(f"submitted job {job.id} ({job.name}, {job.tokens} tokens)")
    return 0


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.jobs", description="Submit and inspect FoldDeck jobs.")
    parser.add_argument("--user", default="admin", help="act as this user (default: admin)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("submit", help="submit an input JSON file (either dialect)")
    p.add_argument("file", type=Path)
    p.add_argument("--user", dest="sub_user", help="owner of the new jobs")
    p.add_argument("--accept-terms", action="store_true",
                   help=f"accept the AlphaFold 3 model-parameter terms of use ({TERMS_URL}); required")
    p = sub.add_parser("list", help="list jobs")
    p.add_argument("--state", choices=[s.value for s in JobState])
    p.add_argument("--limit", type=int, default=50)
    for verb in ("show", "cancel", "retry"):
        sub.add_parser(verb, help=f"{verb} a job").add_argument("id", type=int)
    p = sub.add_parser("log", help="print a job's log")
    p.add_argument("id", type=int)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job finishes")
    return parser


def main(argv: list[str] | None = None) -> int:
    from services.db import connect, migrate
    from services.errors import FoldDeckError
    from services.settings import load_settings
    from services.users import get_by_name

    args = _cli_parser().parse_args(argv)
    settings = load_settings()
    migrate(settings.db_path)
    conn = connect(settings.db_path)
    try:
        caller = get_by_name(conn, getattr(args, "sub_user", None) or args.user)
        if args.cmd == "submit":
            return _cli_submit(conn, settings, caller, args.file, args.accept_terms)
        elif args.cmd == "list":
            jobs, total = list_jobs(conn, caller, state=args.state, all_users=True, limit=args.limit)
            print(f"{'ID':>6} {'STATE':<10} {'OWNER':<12} {'SUBMITTED':<19} NAME")
            for j in jobs:
                print(f"{j.id:>6} {j.state.value:<10} {j.owner:<12} {_fmt_time(j.submitted_at):<19} {j.name}")
            print(f"({len(jobs)} of {total})")
        elif args.cmd == "show":
            _print_job(get_job(conn, caller, args.id))
        elif args.cmd == "log":
            get_job(conn, caller, args.id)
            _follow(conn, caller, args.id, args.follow)
        elif args.cmd == "cancel":
            print(f"job {args.id} is {cancel_job(conn, caller, args.id).state.value}"
                  + (" (stopping)" if get_job(conn, caller, args.id).state is JobState.RUNNING else ""))
        elif args.cmd == "retry":
            print(f"job {args.id} is {retry_job(conn, caller, args.id).state.value}")
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        for line in problem_lines(exc.problems):
            print(f"  - {line}", file=sys.stderr)
        return 1
    except (FoldDeckError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
