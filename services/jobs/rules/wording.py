"""What FoldDeck says about a job, written once (issue 27): its stage, why it waits, the two stages, the MSA
cache, the cancel dialog.

The code that decides (services.jobs.rules.waiting, the claim, the worker) calls these for its sentences; the job page,
the jobs grid, the CLI and the job log render what they return. Plain functions of a `Job` row or plain
values: nothing here reads the database, so a page can call them on every tick.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from services.af3.runlog import failures
from services.jobs.model import Job, JobState

# -- the queue ----------------------------------------------------------------------------------------------

PAUSED = "queue paused by an admin"  # the grid's short form; PAUSED_WHY on the job page
PAUSED_WHY = f"{PAUSED}: no new jobs start until it is resumed"
AWAITING_APPROVAL = "awaiting approval"
NO_SLOT = "waiting for a free GPU"
# Issue 16, the two stages in the words the dashboard, job page and README use.
WAITING_FOR_GPU = "waiting for GPU"  # queued with a finished data pipeline: only inference is left
GPU_ONLY = f"{WAITING_FOR_GPU}: its MSA search is done"
PHASE_NOW = {"data": "MSA running", "inference": "inference"}  # what a running two-stage attempt does
PHASE_WORDS = {"": "", "data": "MSA search", "inference": "inference"}  # an attempt's phase, in log lines
CANCELLING = "cancelling…"


def clock(ts: float) -> str:
    """Return a moment as "14:05" today, else "2026-11-21 14:05"."""
    today = time.localtime(ts)[:3] == time.localtime()[:3]
    return time.strftime("%H:%M" if today else "%Y-%m-%d %H:%M", time.localtime(ts))


def waiting(*why: str) -> str:
    """Return "waiting: A; B", the form of every reason that blocks a queued job."""
    return "waiting: " + "; ".join(why)


def awaiting_approval() -> str:
    """Say that a job waits for an admin's approval (issue 18)."""
    return waiting(f"{AWAITING_APPROVAL} by an admin")


def not_before(ts: float) -> str:
    """Say that a job waits for the start time its owner asked for."""
    return waiting(f"not before {clock(ts)} (asked at submission)")


def per_user_limit(running: int, limit: int) -> str:
    """Say that a job waits because its owner already runs `limit` jobs."""
    return waiting(f"per-user limit, {running} of {limit} jobs running")


NO_HOST = waiting("no host runs jobs (FOLDDECK_LOCAL_SLOTS is 0 and no SSH host has slots)")


def maintenance_before_end(host: str, start: float) -> str:
    """Say that a host's next maintenance window starts before the job would finish (one blocked host)."""
    return f"{host} has maintenance at {clock(start)}, before this job would finish"


def not_ready(host: str) -> str:
    """Say that a host fails its AlphaFold 3 preflight (one blocked host)."""
    return f"{host} not ready for AlphaFold 3"


def waits_for_search(other_job_id: int) -> str:
    """Say that a job waits for another job's MSA search of the same chain."""
    return f"waiting for job #{other_job_id}'s MSA search of the same chain (it is reused, not searched twice)"


NO_CPU_SLOT = "waiting for a free CPU slot for its MSA search"
STARTING = "starting: a worker takes it at its next look"  # the claim would place it now
NO_WORKER = waiting("no worker is running to start it (an admin starts one: `make run`, or the folddeck-worker unit)")


def host_resting(host: str, until: float, reason: str) -> str:
    """Say that workers keep off a host that could not be reached, until when (one blocked host)."""
    return f"{host} cannot be reached ({reason}); tried again at {clock(until)}"


def queue_text(job: Job, position: int | None, paused: bool = False) -> str:
    """Return a queued job's short line for the grid: the reason first (the column cuts the end), then its place."""
    where = f"#{position} in queue" if position else "queued"
    if job.approval == "pending":  # issue 18: the reason a worker will not take it
        return f"{AWAITING_APPROVAL} · {where}"
    if job.waiting_for_gpu:  # issue 16: its MSA search is done, only inference is left
        where = f"{WAITING_FOR_GPU} · {where}"
    return f"{PAUSED} · {where}" if paused else where


# -- what a job does now ------------------------------------------------------------------------------------

def stage_text(job: Job, position: int | None, paused: bool = False) -> str:
    """Return what the job is doing now, in words (a failure as its plain summary, not a traceback line)."""
    if job.state is JobState.QUEUED:
        return queue_text(job, position, paused)
    if job.state is JobState.RUNNING and job.cancel_requested:
        return CANCELLING
    if job.state is JobState.FAILED:
        return failures.summarise(job.error, stage=job.stage).headline if job.error else "failed"
    detail = f" · {job.progress_detail}" if job.progress_detail and job.state is JobState.RUNNING else ""
    if job.state is JobState.RUNNING and job.phase in PHASE_NOW:  # a two-stage run says which stage it is in
        return f"{PHASE_NOW[job.phase]}{detail}"
    return f"{job.stage or job.state.value}{detail}"


def slurm_pending(reason: str | None) -> str:
    """Say that FoldDeck claimed the job but Slurm has not started it."""
    return f"pending in Slurm ({reason or 'waiting'})"


def progress_text(job: Job, paused: bool = False, why: str = "", slurm_reason: str | None = None) -> str:
    """Return the job page's stage line.

    Args:
        job: the job row.
        paused: the queue is paused (only a queued job says so).
        why: services.jobs.rules.waiting.reason for a queued job ("" when not asked).
        slurm_reason: Slurm's pending reason ("" or a reason) while Slurm holds a claimed job; None otherwise.
    """
    if job.state is JobState.QUEUED:
        if paused:
            return PAUSED_WHY
        return why or (GPU_ONLY if job.waiting_for_gpu else NO_SLOT)
    if job.state is JobState.RUNNING and job.progress_detail:
        return f"{PHASE_NOW.get(job.phase) or job.stage} · {job.progress_detail}"
    if job.state is JobState.RUNNING and slurm_reason is not None:
        return slurm_pending(slurm_reason)
    return stage_text(job, None)


# -- the MSA cache (issue 16) -------------------------------------------------------------------------------

Group = tuple[Sequence[str], object]  # (chain ids of one entity, the job whose search it reused; None: unknown)


def source(job_id: object) -> str:
    """Return where a reused MSA came from: "job #12", or "the cache" when that job is no longer known."""
    return "the cache" if job_id is None else f"job #{job_id}"


def chains(ids: Sequence[str]) -> str:
    """Return "chain A" or "chains A, B"."""
    return f"{'chain' if len(ids) == 1 else 'chains'} {', '.join(ids)}"


def msa_reused(ids: Sequence[str], job_id: object) -> str:
    """Return "MSA for chain A reused from job #12" ("chains A, B" for several)."""
    return f"MSA for {chains(ids)} reused from {source(job_id)}"


def msa_reused_log(ids: Sequence[str], job_id: object) -> str:
    """Return the job log's line for one entity whose search is skipped."""
    return f"{msa_reused(ids, job_id)}: its search is skipped."


def reused_notes(groups: Iterable[Group], via: str = "reused from") -> str:
    """Return "chain A reused from job #12; chains B, C reused from job #5" (`via` "from": no search ran)."""
    return "; ".join(f"{chains(c)} {via} {source(n)}" for c, n in groups)


def reused_groups(job: Job) -> list[tuple[list[str], object]]:
    """Return (chain ids, source job id) per reused entity, in order."""
    return [([str(c) for c in e.get("chains") or []], e.get("job_id")) for e in job.reused_chains()
            if isinstance(e, dict) and e.get("chains")]


# -- the two stages (issue 16): MSA search in a CPU slot, inference in a GPU slot ---------------------------

_DATA_STAGES = ("", "starting", "data pipeline")  # the log's stages before inference (services.af3.runlog.progress)


def runs_in_stages(job: Job) -> bool:
    """True when the job runs as two stages, or took MSAs from the cache: the page then shows both steps."""
    return job.phase in PHASE_NOW or bool(job.data_json) or bool(job.msa_reused)


def all_reused(job: Job, groups: list[Group]) -> bool:
    """True when every chain came from the cache, so no MSA search ran.

    The claim sends such a job straight to inference (phase "inference" without a saved _data.json);
    a job that searched any chain holds its _data.json, or ran both stages in one slot (phase "").
    """
    return bool(groups) and job.phase == "inference" and not job.data_json


def _in_data_stage(job: Job) -> bool:
    """True while (or, once ended, if) the last attempt was in its MSA search rather than inference."""
    if job.data_json:
        return False
    return job.phase == "data" or (job.phase == "" and job.stage in _DATA_STAGES)


def step_states(job: Job, groups: list[Group]) -> tuple[str, str]:
    """Return the words for step 1 (MSA search) and step 2 (inference), from the job row alone."""
    ended = {JobState.FAILED: "failed", JobState.CANCELLED: "cancelled"}.get(job.state)
    searched = "reused" if all_reused(job, groups) else "done"
    if job.state is JobState.SUCCEEDED:
        return searched, "done"
    if job.state is JobState.QUEUED:  # every chain from the cache: no search to wait for either
        return (searched, WAITING_FOR_GPU) if job.data_json or searched == "reused" else ("waiting", "waiting")
    if _in_data_stage(job):
        return ("running", "waiting") if ended is None else (ended, "not started")
    return searched, ended or "running"


def steps_line(job: Job) -> tuple[str, list[str]] | None:
    """Return the two-step line ("① MSA search: done · ② Inference: running") and one sentence per reused entity.

    None for a job that runs both stages in one slot without the cache. Built from the row: no file read.
    """
    if not runs_in_stages(job):
        return None
    groups = reused_groups(job)
    first, second = step_states(job, groups)
    notes = reused_notes(groups, "from" if first == "reused" else "reused from")
    line = f"① MSA search: {first}{f' ({notes})' if notes else ''} · ② Inference: {second}"
    return line, [msa_reused(c, n) for c, n in groups]


# -- actions ------------------------------------------------------------------------------------------------

def cancelled(job: Job) -> str:
    """Say what a cancel did: a running job is stopping (its worker ends it), a queued one is gone."""
    return f"Job #{job.id} " + ("is stopping." if job.state is JobState.RUNNING else "was cancelled.")


SCREEN_CANCELLED = "Unfinished members cancelled."  # a screen's Cancel (services.screens)
SCREEN_RETRIED = "Failed and cancelled members queued again."  # a screen's Retry


def retried(job: Job) -> str:
    """Say that a job is queued again, and that it waits for an admin when it needs approval."""
    return f"Job #{job.id} is queued again" + (f", {AWAITING_APPROVAL} by an admin." if job.approval == "pending"
                                               else ".")


def admin_cancel_question(job: Job) -> str:
    """Return the question the admin queue's cancel dialog asks: the job and its owner, then what cancel does."""
    return f"Cancel job #{job.id} ({job.name}), owned by {job.owner}? {cancel_wording(job.state)[0]}"


def cancel_wording(state: JobState | str | None) -> tuple[str, str]:
    """Return the cancel dialog's text and its keep button for a job in `state` (unknown: a running job's)."""
    if state == JobState.QUEUED:
        return "The job leaves the queue and never starts.", "Keep it queued"
    return "The run is stopped; what it wrote so far stays in its folder.", "Keep it running"


def no_engine_host(engine: str) -> str:
    """Say that no host runs the job's engine (issue 29): an admin lists it in a host's `engines`."""
    from services.engines import registry

    label = registry.get(engine).label
    return waiting(f"no host runs {label} (an admin lists {engine} in a host's engines in hosts.toml, "
                   "or lets this machine run jobs)")
