"""Stage, progress and failure headlines on run_alphafold.py transcripts in AF3's own wording, current
and v3.0.x (tests/fixtures/af3_logs; SOURCE.md there names the threads and source each comes from),
not on the simulator's lines that the same hands wrote."""
from __future__ import annotations

import pytest

from services.af3.runlog import failures
from services.af3.runlog.progress import DATA_DONE, Tracker
from tests.conftest import ROOT
from tests.services.test_failures import failed_job

LOGS = ROOT / "tests" / "fixtures" / "af3_logs"


def lines(name: str) -> list[str]:
    return (LOGS / name).read_text().splitlines()


def trace(name: str, tracker: Tracker) -> list[tuple[str, str, float, str]]:
    """Return (line, stage, fraction, detail) after every line that moved the tracker."""
    out = []
    for line in lines(name):
        if tracker.feed(line):
            out.append((line, tracker.stage, tracker.fraction, tracker.detail))
    return out


def at(steps, startswith: str) -> tuple[str, float, str]:
    return next((s, f, d) for line, s, f, d in steps if line.startswith(startswith))


def test_every_fixture_is_covered():
    assert sorted(p.name for p in LOGS.glob("*.log")) == sorted(
        ["current_two_seeds_complete.log", "v301_complete.log", "data_pipeline_only.log", "inference_only.log",
         "oom_inference.log", "gpu_launch_failed.log", "input_rejected.log"])


def test_current_wording_two_chains_two_seeds():
    steps = trace("current_two_seeds_complete.log", Tracker(n_chains=2, n_seeds=2))
    fractions = [f for *_, f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert at(steps, "Running data pipeline for chain A took")[2] == "chain A done (1/2)"
    assert at(steps, "Featurising data with seed 2.")[0] == "featurisation"
    assert at(steps, "Running model inference with seed 2...")[2] == "seed 2/2"
    assert at(steps, "Extracting 5 inference samples with seed 2")[2] == "seed 2/2 done"
    assert steps[-1][1] == "done"


def test_v301_wording_reaches_each_stage_and_the_end():
    steps = trace("v301_complete.log", Tracker(n_chains=1, n_seeds=1))
    assert at(steps, "Processing fold input 2PV7")[0] == "starting"
    assert at(steps, "Featurising data for seeds [1]...")[0] == "featurisation"
    step = at(steps, "Running model inference for seed 1...")
    assert (step[0], step[2]) == ("inference", "seed 1/1")
    assert at(steps, "Extracting output structures (one per sample) for seed 1 took")[2] == "seed 1/1 done"
    assert at(steps, "Done processing fold input 2PV7.")[2] == "outputs written"
    assert steps[-1][1:3] == ("done", 1.0)


def test_two_stage_runs_stop_and_start_where_the_worker_splits_them():
    data = trace("data_pipeline_only.log", Tracker(n_chains=2, n_seeds=1, cap=DATA_DONE))
    assert max(f for *_, f, _ in data) == DATA_DONE  # "Skipping model inference...": never past the CPU stage
    assert at(data, "Running data pipeline for chain B took")[2] == "chain B done (2/2)"
    infer = trace("inference_only.log", Tracker(n_seeds=1, fraction=DATA_DONE))
    assert at(infer, "Running model inference with seed 1...")[0] == "inference"
    assert infer[-1][1:3] == ("done", 1.0)


@pytest.mark.parametrize(("name", "stage", "headline", "detail"), [
    ("oom_inference.log", "inference", "Out of GPU memory during inference.",
     "XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 50677266816 bytes."),
    ("gpu_launch_failed.log", "inference", "The GPU could not run AlphaFold 3's compiled model during inference.",
     "XlaRuntimeError: INTERNAL: the function failed to launch on the GPU"),
    ("input_rejected.log", "", "Input rejected by AlphaFold 3: IDs must be upper case letters, got: ['a', 'B']",
     "IDs must be upper case letters"),
])
def test_failure_headlines_through_the_job_log(conn, settings, alice, name, stage, headline, detail):
    """The worker's path: the lines go into the job log, the page reads its error lines back."""
    tracker = Tracker(n_seeds=1)
    for line in lines(name):
        tracker.feed(line)
    assert tracker.stage == stage
    error, tail = failed_job(conn, settings, alice, lines(name))
    summary = failures.summarise(error, tail, tracker.stage)
    assert summary.headline == headline and detail in summary.detail


@pytest.mark.parametrize(("status", "words"), [
    (137, "was killed (signal 9)"), (143, "was stopped (signal 15"), (139, "crashed (signal 11"),
    (1, "stopped with an error (exit status 1)")])
def test_a_bare_exit_status_gets_plain_words(status, words):
    summary = failures.summarise(f"AlphaFold exited with status {status}", [], "inference")
    assert words in summary.headline and summary.detail == f"AlphaFold exited with status {status}"
    if status == 137:
        assert "memory" in summary.hint


def test_log_levels_of_the_real_lines(conn, settings, alice):
    """absl I/W/E lines, XLA's C++ W/E lines, tracebacks, progress and the final success line."""
    from services.jobs import joblog

    levels = {}
    for name in ("oom_inference.log", "current_two_seeds_complete.log"):
        tracker, in_tb = Tracker(n_seeds=2), False
        for line in lines(name):
            level, in_tb = joblog.classify(line, in_tb, tracker)
            levels[line] = level.value
    oom = lines("oom_inference.log")
    assert levels[next(x for x in oom if "bfc_allocator" in x)] == "warning"  # XLA's "2024-12-14 ...: W ..."
    assert levels[next(x for x in oom if x.startswith("E1214"))] == "error"
    assert levels[oom[-1]] == "error" and levels[next(x for x in oom if x.startswith("  File"))] == "error"
    ok = lines("current_two_seeds_complete.log")
    assert levels[next(x for x in ok if x.startswith("I0930") and "Launching" in x)] == "info"
    assert levels["Running model inference with seed 2..."] == "progress"
    assert levels["Done running 1 fold jobs."] == "success"
