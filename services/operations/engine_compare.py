"""One submission's engines side by side (issue 29): the group of a job, each engine's outputs, their comparison."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from services import jobs
from services.engines import registry
from services.engines.base import Engine, EngineOutputs
from services.engines.compare import Comparison, compare
from services.jobs import Job, JobState
from services.people.users import User
from services.platform.settings import Settings
from services.running import engine_run


@dataclass(frozen=True)
class EngineRun:
    """One engine's job of the group and, once it succeeded, what its reader found."""

    job: Job
    engine: Engine
    outputs: EngineOutputs | None


@dataclass(frozen=True)
class GroupView:
    runs: list[EngineRun]  # AlphaFold 3 first, then the others in submission order
    comparison: Comparison | None  # None until two engines have models
    chains: list[str] = field(default_factory=list)  # the chains one may superpose on


def group_jobs(conn: sqlite3.Connection, user: User, job_id: int) -> list[Job]:
    """Return the jobs submitted with `job_id` on other engines (itself when alone), AlphaFold 3 first.

    Raises:
        JobNotFound: the job does not exist or `user` may not see it.
    """
    job = jobs.get_job(conn, user, job_id)
    if job.engine_group is None:
        return [job]
    ids = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE engine_group = ? ORDER BY id", (job.engine_group,))]
    found = [jobs.get_job(conn, user, i) for i in ids]
    return sorted(found, key=lambda j: (j.engine != registry.AF3, j.id))


def compare_group(conn: sqlite3.Connection, settings: Settings, user: User, job_id: int,
                  chain: str | None = None) -> GroupView:
    """Return the group's engines, their outputs, and their top models compared on `chain`.

    Raises:
        JobNotFound: the job does not exist or `user` may not see it.
    """
    runs = []
    for job in group_jobs(conn, user, job_id):
        done = job.state is JobState.SUCCEEDED
        runs.append(EngineRun(job, registry.get(job.engine), engine_run.outputs_of(settings, job) if done else None))
    ready = [(r.engine.label, r.outputs) for r in runs if r.outputs and r.outputs.samples]
    if len(ready) < 2:
        return GroupView(runs, None)
    result = compare(ready, chain)
    chains = list(dict.fromkeys(c for s in result.sides for c in s.trace))
    return GroupView(runs, result, chains)
