"""Submitting jobs: inputs on disk, terms of use, idempotency keys, batches."""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from services.af3 import input_files
from services.jobs.model import SELECT_JOB, Job, job_event, to_job
from services.jobs.rules import approval, quota
from services.jobs.rules.limits import (
    _ASK,
    SubmitLimits,
    _queued_count,
    _queued_refusal,
    check_job_count,
    effective_limits,
    job_refusal,
)
from services.msa import msa_cache
from services.people import ratelimit
from services.people.users import User
from services.platform import defaults
from services.platform.db import transaction
from services.platform.errors import InvalidInput, LimitExceeded, TermsNotAccepted
from services.platform.settings import Settings

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
    files: Mapping[str, bytes] = field(default_factory=dict)  # sent with it: safe relative name -> bytes
    engine: str = "af3"  # the predictor that runs it (services.engines; refusals checked by the caller)
    group: int | None = None  # items of one batch with the same group share an engine_group (issue 29)


def submit(conn: sqlite3.Connection, settings: Settings, owner: User, af3: dict, *,
           idempotency_key: str | None = None, name: str | None = None, cloned_from: int | None = None,
           accept_terms: bool | None = None, via: str = "", not_before: float | None = None,
           reuse_msa: bool = True, files: Mapping[str, bytes] | None = None) -> Job:
    """Queue one job from an AF3-dialect input that is already validated (see `submit_many`).

    A second submit with the same `idempotency_key` by the same owner returns the first job. `files`:
    the MSA, template and user-CCD files sent with it (safe relative name -> bytes).
    """
    return submit_many(conn, settings, owner, [NewJob(af3, name, idempotency_key, "", cloned_from, files or {})],
                       accept_terms=accept_terms, via=via, not_before=not_before, reuse_msa=reuse_msa)[0]


RATE_LIMITED_VIA = ("builder", "upload", "api")  # where people and scripts submit; shared gunicorn-wide in SQLite


def submit_many(conn: sqlite3.Connection, settings: Settings, owner: User, items: list[NewJob], *,
                accept_terms: bool | None = None, via: str = "", not_before: float | None = None,
                reuse_msa: bool = True, group: bool = False) -> list[Job]:
    """Queue validated AF3-dialect jobs all or nothing, in one transaction; return them in order.

    Items whose idempotency key the owner already used return the job made then. The AlphaFold 3
    terms must be accepted: `accept_terms=True` accepts them now (and remembers it); None relies
    on the owner's earlier acceptance; False refuses. The job row records when and through what
    (`via`: "builder", "upload", "cli", ...). `not_before`: no job starts before this time.
    `reuse_msa=False`: search every chain again rather than take cached MSAs ("search again").
    `group=True` (a screen, services.screens): the approval rule weighs the GPU time of all the jobs
    together, so a screen of many small members waits for an admin as one large job would.

    Raises:
        LimitExceeded: too many jobs, too many tokens, seeds or GPU hours in one, too many queued, or the
            owner's disk quota is used up (the message names the limit and the job); nothing was submitted.
        TermsNotAccepted: the terms were not accepted; nothing was submitted.
        RateLimited: more submissions than FOLDDECK_SUBMIT_RATE_PER_MINUTE through builder, upload or API.
    """
    if not items:
        return []
    if via in RATE_LIMITED_VIA:  # one bucket per person over web and API (issue 17); the CLI is the admin's
        ratelimit.check(conn, f"submit:user:{owner.id}", ratelimit.Limit(
            settings.submit_rate_per_minute, defaults.SUBMIT_RATE_BURST), "submissions")
    limits = effective_limits(conn, owner.id)
    check_job_count(len(items), limits)
    quota.check_submit(conn, settings, owner.id)
    items = _bind_files(settings, items)
    # Counted and serialised before taking the write lock: other submitters wait only for the inserts.
    from services.af3.size import samples_in, seeds_in

    samples = samples_in(settings.af3_command)
    entries = [_Entry(i, item, count_tokens(item.af3), _job_name(item.af3, item.name), _input_text(item.af3),
                      _msa_keys(item), seeds_in(item.af3), samples) for i, item in enumerate(items)]
    with transaction(conn):
        # The AlphaFold 3 terms bind jobs AlphaFold 3 runs; a submission to other engines only needs none.
        needs_terms = any(item.engine == "af3" for item in items)
        terms_at = _terms_accepted_at(conn, owner, accept_terms) if needs_terms else None
        existing = _existing_keys(conn, owner.id, [e.item.idempotency_key for e in entries])
        new = [e for e in entries if e.item.idempotency_key not in existing]
        _check_batch(conn, owner.id, [(e.item.label, e.tokens, e.seeds, e.samples) for e in new], limits)
        with _undo_inputs(settings) as written:
            made = _insert_many(conn, settings, owner, new, terms_at, via, written, reuse_msa, group)
            if not_before:  # in the same transaction: no worker sees the jobs without it
                conn.executemany("UPDATE jobs SET not_before = ? WHERE id = ?",
                                 [(not_before, i) for i in made.values()])
        ids = [made[e.index] if e.index in made else existing[e.item.idempotency_key] for e in entries]
        jobs = _load_many(conn, ids)
    for job in jobs:
        if job.id in written:
            job_event(logging.INFO, "job %s (%s) submitted by %s, %s tokens", job, job.id, job.name, owner.username,
                      job.tokens)
    return jobs


def _bind_files(settings: Settings, items: list[NewJob]) -> list[NewJob]:
    """Point each job's file paths at the files sent with it or a shared folder (services.af3.input_files).

    Raises:
        InvalidInput: a path names any other file (each problem names the job and the field).
        LimitExceeded: the files sent with the submission are larger than FOLDDECK_INPUT_FILES_MAX_BYTES.
    """
    out, problems, total = [], [], 0
    for item in items:
        af3, used, refused = input_files.bind(item.af3, item.files, settings.shared_input_dirs)
        problems += [f"{item.label}: {p}" if item.label else p for p in refused]
        total += sum(len(b) for b in used.values())
        out.append(replace(item, af3=af3, files=used))
    if problems:
        raise InvalidInput("The input names files it may not read; nothing was submitted.", problems)
    if total > settings.input_files_max_bytes:
        raise LimitExceeded(f"The files sent with this submission hold {total / 1e6:,.1f} MB; the limit is "
                            f"{settings.input_files_max_bytes / 1e6:,.1f} MB (FOLDDECK_INPUT_FILES_MAX_BYTES). "
                            "Nothing was submitted.")
    return out


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
    msa_keys: str  # the chains a data pipeline would search (services.msa.msa_cache)
    seeds: int = 1  # modelSeeds: with tokens and samples, the GPU time (services.af3.size.gpu_seconds)
    samples: int = 5  # diffusion samples per seed (the AF3 command's --num_diffusion_samples)


def _insert_many(conn: sqlite3.Connection, settings: Settings, owner: User, new: list[_Entry], terms_at: float,
                 via: str, written: list[int], reuse_msa: bool = True, group: bool = False) -> dict[int, int]:
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
        for name, data in e.item.files.items():  # before the input that names them
            (folder / input_files.FILES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / input_files.FILES_DIR / name).write_bytes(data)
        path, tmp = folder / "input.json", folder / ".input.json.tmp"
        tmp.write_text(e.text)
        os.replace(tmp, path)
        made[e.index] = job_id
        rows.append((job_id, owner.id, e.name, e.item.idempotency_key, str(path), e.tokens, e.item.cloned_from, now,
                     now, now, terms_at, via or None, e.msa_keys, int(reuse_msa), e.seeds, e.samples, e.item.engine,
                     _group_id(new, e, base)))
    conn.executemany("INSERT INTO jobs (id, owner_id, name, state, idempotency_key, input_path, tokens, cloned_from, "
                     "submitted_at, queued_at, updated_at, terms_accepted_at, terms_via, msa_keys, msa_reuse, seeds, "
                     "samples, engine, engine_group) VALUES (?1, ?2, ?3, 'queued', ?4, fd_rel(?5, ?1), ?6, ?7, ?8, ?9, "
                     "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)", rows)
    from services.af3.size import gpu_seconds

    seconds = [gpu_seconds(r[5], r[14], r[15]) for r in rows]
    if group:  # one decision for the whole group: each member is weighed at the group's total
        seconds = [sum(seconds)] * len(rows)
    approval.gate(conn, settings, owner.id, [(r[0], r[5], s, None) for r, s in zip(rows, seconds, strict=True)])
    return made


def _msa_keys(item: NewJob) -> str:
    """Return the chains a job's MSAs come from: AF3 searches them; an engine that reads precomputed MSAs waits
    for a search of the same chains and takes them from the cache; one that does not (Chai-1) needs none."""
    from services.engines import registry

    return msa_cache.dumps_keys(item.af3) if registry.get(item.engine).takes_msas else "[]"


def _group_id(new: list[_Entry], entry: _Entry, base: int) -> int | None:
    """Return the engine group of a new entry: the id of the first new entry of its group (None: alone)."""
    if entry.item.group is None:
        return None
    return base + 1 + next(i for i, e in enumerate(new) if e.item.group == entry.item.group)


def _load_many(conn: sqlite3.Connection, ids: list[int]) -> list[Job]:
    """Return the jobs with these ids, in this order."""
    rows = conn.execute(SELECT_JOB + " WHERE j.id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
    by_id = {job.id: job for job in map(to_job, rows)}
    return [by_id[i] for i in ids]


def input_file(settings: Settings, job: Job) -> Path:
    """Return the absolute path of a job's input file: it always lives in this data dir's job folder."""
    return settings.jobs_dir / str(job.id) / "input.json"


def job_files(settings: Settings, job: Job) -> dict[str, bytes]:
    """Return the files sent with a job (name -> bytes), so a clone carries them: plain files only."""
    folder = settings.jobs_dir / str(job.id) / input_files.FILES_DIR
    out = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        name = input_files.safe_name(str(path.relative_to(folder)))
        if name and path.is_file() and not path.is_symlink():
            out[name] = path.read_bytes()
    return out


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
                    via: str = "", reuse_msa: bool = True, files: Mapping[str, bytes] | None = None) -> list[Job]:
    """Validate a parsed input document (either dialect) and queue one job per fold job in it.

    All or nothing (see `submit_many`): a refused entry leaves none of the others queued. The
    number of entries is checked before any is validated. With an `idempotency_key`, entries
    already submitted under it are returned, not queued twice.

    Raises:
        InvalidInput: any job in the document is invalid (`problems` lists them all).
        LimitExceeded: the owner's limits refuse an entry (the message names it); nothing was submitted.
        TermsNotAccepted: see `submit_many`.
    """
    items = _document_items(conn, owner, doc, idempotency_key, files)
    return submit_many(conn, settings, owner, items, accept_terms=accept_terms, via=via, reuse_msa=reuse_msa)


def _document_items(conn: sqlite3.Connection, owner: User, doc: Any, idempotency_key: str | None,
                    files: Mapping[str, bytes] | None) -> list[NewJob]:
    """Return a document's fold jobs as NewJobs, or raise InvalidInput listing every problem (nothing queued)."""
    from services.af3 import load_jobs

    if isinstance(doc, list):
        check_job_count(len(doc), effective_limits(conn, owner.id), "This file")
    docs = load_jobs(doc)
    problems = [p for d in docs for p in d.problems] if any(not d.valid for d in docs) else []
    if problems or not docs:
        raise InvalidInput("The input has problems; nothing was submitted.", problems or ["no jobs in the input"])
    many = len(docs) > 1
    return [NewJob(d.af3, d.name, f"{idempotency_key}#{d.index}" if idempotency_key else None,
                   (f"Entry {d.index + 1}" + (f" ({d.name})" if d.name else "")) if many else "",
                   files=files or {}) for d in docs]


def submit_with_engines(conn: sqlite3.Connection, settings: Settings, owner: User, doc: Any, engines: list[str],
                        idempotency_key: str | None = None, *, accept_terms: bool | None = None, via: str = "",
                        reuse_msa: bool = True, files: Mapping[str, bytes] | None = None,
                        not_before: float | None = None) -> list[Job]:
    """Validate a document and queue each fold job once per engine, each fold job's jobs grouped (issue 29).

    Every engine must be offered here and able to run every fold job as written (`engine_items`):
    otherwise nothing is queued and each problem names the engine and the reason. All or nothing,
    like `submit_document`; the jobs then run, retry and fail on their own.

    Raises:
        InvalidInput: an invalid fold job, or an engine that cannot run one (problems name them).
        LimitExceeded, TermsNotAccepted: see `submit_many` (the terms only when AlphaFold 3 is picked).
    """
    if list(dict.fromkeys(e.strip().lower() for e in engines)) in ([], ["af3"]) and not_before is None:
        return submit_document(conn, settings, owner, doc, idempotency_key, accept_terms=accept_terms, via=via,
                               reuse_msa=reuse_msa, files=files)
    items = _document_items(conn, owner, doc, idempotency_key, files)
    return submit_many(conn, settings, owner, engine_items(settings, items, engines), accept_terms=accept_terms,
                       via=via, reuse_msa=reuse_msa, not_before=not_before)


def engine_items(settings: Settings, items: list[NewJob], engines: list[str]) -> list[NewJob]:
    """Return one item per validated job and engine, each job's items grouped when there are several engines.

    The one place the submit paths (API, builder, upload) ask `services.engines.registry.refuse`.

    Raises:
        InvalidInput: an engine is unknown, not offered here, or cannot run a job as written; every
            problem names the job (when there are several) and the engine.
    """
    from services.af3.model import FoldJob
    from services.engines import registry

    names = list(dict.fromkeys(registry.get(n).name for n in engines)) if engines else []
    refused = []
    for item in items:
        try:
            registry.refuse(FoldJob.from_af3(item.af3), names, settings)
        except InvalidInput as exc:
            refused += [f"{item.label}: {p}" if item.label else p for p in exc.problems]
    if refused:
        raise InvalidInput("An engine you picked cannot run this job as written; nothing was submitted.", refused)
    return [replace(item, engine=name, group=n if len(names) > 1 else None,
                    idempotency_key=f"{item.idempotency_key}#{name}" if item.idempotency_key and name != "af3"
                    else item.idempotency_key,
                    label=", ".join(x for x in (item.label, registry.get(name).label if len(names) > 1 else "")
                                    if x))
            for n, item in enumerate(items) for name in names]


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


def _check_batch(conn: sqlite3.Connection, owner_id: int, entries: list[tuple[str, int, int, int]],
                 limits: SubmitLimits) -> None:
    """Check the limits for every new entry (label, tokens, seeds, samples), as if all were queued together.

    Raises:
        LimitExceeded: naming the first refused entry by its label, and why; nothing is submitted.
    """
    def refuse(label: str, why: str) -> LimitExceeded:
        return LimitExceeded(f"{label}: {why} Nothing was submitted." if label else why)

    for label, tokens, seeds, samples in entries:
        why = job_refusal(limits, tokens, seeds, samples)
        if why:
            raise refuse(label, why)
    queued = _queued_count(conn, owner_id)
    if entries and queued + len(entries) > limits.queued_per_user:
        if len(entries) == 1:
            raise refuse(entries[0][0], _queued_refusal(queued, limits.queued_per_user))
        first = entries[max(0, limits.queued_per_user - queued)][0]  # the first entry that does not fit
        raise refuse(first, f"you already have {queued:,} queued and this adds {len(entries):,}; the limit is "
                            f"{limits.queued_per_user:,} queued jobs. Wait for some to run, or {_ASK}.")
