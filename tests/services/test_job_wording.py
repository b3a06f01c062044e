"""Words about jobs are written once (issue 27 item 3): services.jobs.rules.wording says them, and the job page, the
grid, the waiting reasons, the CLI and the job log use it."""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from services import jobs
from services.jobs import JobState, joblog
from services.jobs.claim import stages
from services.jobs.rules import waiting, wording
from services.msa.msa_cache import Reused

ROOT = Path(__file__).resolve().parents[2]
AF3 = {"name": "words", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
       "sequences": [{"protein": {"id": ["A", "B"], "sequence": "MKVLAAGIV"}}]}
# Sentences that once were written in two to four places. Only wording.py may hold them now.
ONCE = ["reused from", "its search is skipped", "Keep it running", "Keep it queued", "leaves the queue and never",
        "waiting for GPU", "waiting for a free GPU", "queue paused by an admin", "MSA running",
        "per-user limit", "pending in Slurm (", "cancelling…", "is stopping.", "queued again"]


@pytest.fixture
def job(conn, settings, alice) -> jobs.Job:
    return jobs.submit(conn, settings, alice, AF3, accept_terms=True)


def _strings(path: Path) -> list[str]:
    """Return the string literals of a module (docstrings and comments say what they like)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_no_module_but_wording_writes_the_job_sentences():
    home = ROOT / "services" / "jobs" / "rules" / "wording.py"
    found = []
    for path in sorted([*(ROOT / "services").rglob("*.py"), *(ROOT / "dash_app").rglob("*.py")]):
        if path == home:
            continue
        found += [(path.relative_to(ROOT).as_posix(), s) for s in _strings(path) for phrase in ONCE if phrase in s]
    assert found == []
    assert all(any(phrase in s for s in _strings(home)) for phrase in ONCE)


def test_the_job_log_says_what_the_page_says(conn, job):
    stages.record_reuse(conn, job, [Reused(["A", "B"], 12, "protein"), Reused(["C"], None, "rna")])
    lines = [x.text for x in joblog.read_log(conn, job.id, 0, 10)]
    assert lines == ["MSA for chains A, B reused from job #12: its search is skipped.",
                     "MSA for chain C reused from the cache: its search is skipped."]
    stored = conn.execute("SELECT msa_reused FROM jobs WHERE id = ?", (job.id,)).fetchone()[0]
    row = dataclasses.replace(job, msa_reused=stored)
    page_lines = wording.steps_line(row)[1]
    assert [f"{s}: its search is skipped." for s in page_lines] == lines
    cli = wording.reused_notes(wording.reused_groups(row), "from")
    assert cli == "chains A, B from job #12; chain C from the cache"


def test_cancel_words_for_every_state_and_for_none():
    queued = ("The job leaves the queue and never starts.", "Keep it queued")
    assert wording.cancel_wording("queued") == wording.cancel_wording(JobState.QUEUED) == queued
    for state in ("running", JobState.RUNNING, None, "nonsense"):
        assert wording.cancel_wording(state)[1] == "Keep it running"


def test_progress_text_decides_in_order(job):
    assert wording.progress_text(job, paused=True, why="waiting: x") == wording.PAUSED_WHY
    assert wording.progress_text(job, why="waiting: per-user limit, 1 of 1 jobs running").startswith("waiting: per")
    assert wording.progress_text(job) == wording.NO_SLOT == waiting.NO_SLOT
    gpu = dataclasses.replace(job, data_json="/d.json")
    assert wording.progress_text(gpu) == "waiting for GPU: its MSA search is done"
    running = dataclasses.replace(job, state=JobState.RUNNING, stage="starting", executor="slurm", attempts=1)
    assert wording.progress_text(running, slurm_reason="Resources") == "pending in Slurm (Resources)"
    assert wording.progress_text(running, slurm_reason="") == "pending in Slurm (waiting)"
    assert wording.progress_text(running) == "starting"
    moving = dataclasses.replace(running, phase="data", stage="data pipeline", progress_detail="chain A (1/2)")
    assert wording.progress_text(moving, slurm_reason="Resources") == "MSA running · chain A (1/2)"


def test_waiting_reasons_and_the_grid_share_words(conn, settings, job):
    pending = dataclasses.replace(job, approval="pending")
    assert waiting.reason(conn, settings, pending) == "waiting: awaiting approval by an admin"
    assert wording.stage_text(pending, 2) == "awaiting approval · #2 in queue"
    assert wording.stage_text(job, None, paused=True) == "queue paused by an admin · queued"
    assert waiting.PAUSED.startswith(wording.PAUSED)
    failed = dataclasses.replace(job, state=JobState.FAILED, error=None)
    assert wording.stage_text(failed, None) == "failed"
    cancelling = dataclasses.replace(job, state=JobState.RUNNING, cancel_requested=True)
    assert wording.stage_text(cancelling, None) == "cancelling…"


def test_steps_line_for_a_job_whose_every_chain_was_reused(job):
    row = dataclasses.replace(job, state=JobState.SUCCEEDED, phase="inference",
                              msa_reused=json.dumps([{"chains": ["A", "B"], "job_id": 12}]))
    line, reused = wording.steps_line(row)
    assert line == "① MSA search: reused (chains A, B from job #12) · ② Inference: done"
    assert reused == ["MSA for chains A, B reused from job #12"]
    assert wording.steps_line(job) is None  # one slot, no cache: no two-step line


def test_what_cancel_and_retry_say(job):
    assert wording.cancelled(job) == f"Job #{job.id} was cancelled."
    assert wording.cancelled(dataclasses.replace(job, state=JobState.RUNNING)) == f"Job #{job.id} is stopping."
    assert wording.retried(job) == f"Job #{job.id} is queued again."
    assert wording.retried(dataclasses.replace(job, approval="pending")).endswith(", awaiting approval by an admin.")
