"""Failure summaries from what the AF3 simulator really prints (AF3's tracebacks), read back from the job log."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services import jobs
from services.af3.runlog import failures
from services.jobs import joblog
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "samples" / "protein_only.json"


def simulate(tmp_path, fail_at: str | None = None, json_path=SAMPLE) -> list[str]:
    """Run the simulator (no waiting) and return every line it printed, as the worker reads them."""
    cmd = [sys.executable, "-m", "services.af3sim", f"--json_path={json_path}", f"--output_dir={tmp_path / 'out'}",
           "--speed=0"] + ([f"--fail-at={fail_at}"] if fail_at else [])
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    return (run.stdout + run.stderr).splitlines()


def failed_job(conn, settings, alice, lines: list[str]) -> tuple[str, list[str]]:
    """Store the lines as a job's log and return (the error field the worker keeps, the log's error lines)."""
    job = jobs.submit(conn, settings, alice, json.loads(SAMPLE.read_text()))
    joblog.append_lines(conn, job.id, lines)
    error = joblog.error_summary(conn, job.id)
    return error, [x.text for x in joblog.error_tail(conn, job.id, 40)]


@pytest.mark.parametrize(("stage", "headline", "detail"), [
    ("inference", "Out of GPU memory during inference.", "XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory"),
    ("featurisation", "Out of host memory (RAM) while preparing the features.",
     "Host memory exhausted while building MSA features."),
    ("msa", "The MSA search (Jackhmmer) failed in the data pipeline.", "Jackhmmer failed: Memory allocation failed."),
    ("templates", "The template search (Hmmsearch) failed in the data pipeline.",
     "Error: Failed to open sequence file"),
    ("data_pipeline", "A genetic database AlphaFold 3 needs is missing.",
     "FileNotFoundError: ${DB_DIR}/uniref90_2022_05.fa with ${DB_DIR} not found"),
    ("startup", "AlphaFold 3 found no model parameters.", "FileNotFoundError: No models matched in"),
    ("writing", "The disk is full: AlphaFold 3 could not write its output.", "OSError: [Errno 28] No space left"),
])
def test_simulated_failures_lead_with_a_plain_sentence(tmp_path, conn, settings, alice, stage, headline, detail):
    error, tail = failed_job(conn, settings, alice, simulate(tmp_path, stage))
    assert tail[0] == "Traceback (most recent call last):" or "Traceback (most recent call last):" in tail
    for summary in (failures.summarise(error, tail), failures.summarise(error)):  # with the log, and the grid's way
        assert "Traceback" not in summary.headline and "File \"" not in summary.detail and summary.headline
    full = failures.summarise(error, tail)
    assert full.headline == headline
    assert detail in full.detail and "\n" not in full.detail and full.hint


def test_grid_summary_from_the_error_field_alone(tmp_path, conn, settings, alice):
    error, _ = failed_job(conn, settings, alice, simulate(tmp_path, "inference"))
    assert error.startswith("jaxlib.xla_extension.XlaRuntimeError")  # what the dashboard used to show
    assert failures.summarise(error).headline == "Out of GPU memory during inference."


def test_input_rejected_by_af3_names_the_reason(tmp_path, conn, settings, alice):
    bad = tmp_path / "bad.json"
    doc = json.loads(SAMPLE.read_text())
    doc["sequences"][0]["protein"]["sequence"] = "MK1"
    bad.write_text(json.dumps(doc))
    error, tail = failed_job(conn, settings, alice, simulate(tmp_path, json_path=bad))
    summary = failures.summarise(error, tail)
    assert summary.headline == 'Input rejected by AlphaFold 3: Protein must contain only letters, got "MK1"'
    assert summary.detail.startswith("ValueError: Failed to load input from")


def test_other_failures_and_the_fallback():
    assert failures.summarise(jobs.WORKER_LOST).headline.startswith("The worker running this job stopped answering")
    assert "killed (signal 9)" in failures.summarise("AlphaFold killed by signal 9").headline
    assert failures.summarise("FATAL Flags parsing error: Unknown command line flag 'bogus'").detail == \
        "Unknown command line flag 'bogus'"
    odd = failures.summarise("some.module.WeirdError: it broke", stage="inference")
    assert odd == failures.FailureSummary("AlphaFold 3 stopped with an error during inference.",
                                          "WeirdError: it broke", "The log below has the traceback.")
    assert failures.summarise(None).headline == "AlphaFold 3 failed."
    assert failures.summarise("results incomplete: no summary confidences for seed 1 sample 0").headline == \
        "Results incomplete: no summary confidences for seed 1 sample 0."
    assert len(failures.summarise("ValueError: " + "x" * 5000).detail) == failures.MAX_DETAIL
