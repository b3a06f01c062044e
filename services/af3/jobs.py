"""Split an input document into jobs, each validated and (when valid) in canonical AF3 dialect."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.af3 import rules as R
from services.af3.convert import server_to_af3
from services.af3.model import FoldJob
from services.af3.problems import Problem, has_errors
from services.af3.validate import validate, validate_af3, validate_server, validate_server_job


@dataclass
class JobDoc:
    """One job of a document: its problems and, if valid, the job in AF3 dialect."""

    index: int
    name: str
    dialect: str
    af3: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Tell whether the job has no errors (warnings allowed)."""
        return not has_errors(self.problems)


def load_jobs(doc: Any, seed_rng: random.Random | None = None, json_path: Path | None = None) -> list[JobDoc]:
    """Return one JobDoc per job: one for an AF3 object, one per element of a server list.

    Problems that belong to no single job (wrong top-level type, empty list) come as one invalid JobDoc.
    `json_path` (the file read, when there is one) lets a relative `userCCDPath` be read as AF3 reads it.
    """
    if isinstance(doc, dict):
        problems = validate_af3(doc, json_path=json_path)
        af3 = None if has_errors(problems) else FoldJob.from_af3(doc).to_af3()
        if af3 is not None:
            af3["version"] = max(af3["version"], doc["version"])  # keep a deliberately higher version
        return [JobDoc(0, _name(doc), R.AF3_DIALECT, af3, problems)]
    if not isinstance(doc, list) or not doc:
        return [JobDoc(0, "", R.SERVER_DIALECT if isinstance(doc, list) else "unknown", None, validate(doc))]
    file_level = [p for p in validate_server(doc) if p.path == ""]
    jobs = []
    for i, job in enumerate(doc):
        problems = file_level + validate_server_job(job, f"[{i}]")
        af3 = None if has_errors(problems) else server_to_af3(job, seed_rng)
        jobs.append(JobDoc(i, _name(job), R.SERVER_DIALECT, af3, problems))
    return jobs


def _name(job: Any) -> str:
    """Return a job's name, or '' when there is none."""
    name = job.get("name") if isinstance(job, dict) else None
    return name if isinstance(name, str) else ""
