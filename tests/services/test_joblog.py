"""Log store: classification, cursor reads, counts, truncation, download; progress from AF3's lines."""
from __future__ import annotations

import pytest

from services import jobs
from services.af3.runlog import progress
from services.jobs import joblog
from services.people.users import get_by_name

PROTEIN = {"name": "log test", "modelSeeds": [1, 2, 3], "dialect": "alphafold3", "version": 1,
           "sequences": [{"protein": {"id": ["A", "B"], "sequence": "MKVLAAGIVALLLA"}}]}

AF3_RUN = """Running fold job log test...
Running data pipeline...
Running data pipeline for chain A...
I1121 10:00:01.000100 140001 pipeline.py:92] Getting protein MSAs for sequence MKVLAAGIVALLLA
Running data pipeline for chain A took 1.00 seconds
Running data pipeline for chain B...
Running data pipeline for chain B took 0.00 seconds
W1121 10:00:02.000100 140001 pipeline.py:92] Template date is later than max date
Featurising data with 3 seed(s)...
Featurising data with seed 1.
Running model inference and extracting output structure samples with 3 seed(s)...
Running model inference with seed 1...
Running model inference with seed 1 took 3.00 seconds.
Extracting 5 inference samples with seed 1 took 0.35 seconds.
Running model inference with seed 2...""".splitlines()


@pytest.fixture
def job(conn, settings):
    return jobs.submit(conn, settings, get_by_name(conn, "alice"), PROTEIN)


def test_levels_of_af3_lines(conn, job):
    joblog.append_lines(conn, job.id, AF3_RUN)
    lines = joblog.read_log(conn, job.id)
    by_text = {line.text: line.level for line in lines}
    msa_line = "I1121 10:00:01.000100 140001 pipeline.py:92] Getting protein MSAs for sequence MKVLAAGIVALLLA"
    assert by_text[msa_line] == "info"
    assert by_text["W1121 10:00:02.000100 140001 pipeline.py:92] Template date is later than max date"] == "warning"
    assert by_text["Running model inference with seed 1..."] == "progress"
    assert [line.seq for line in lines] == list(range(1, len(AF3_RUN) + 1))


def test_traceback_lines_are_errors_and_end_at_the_exception(conn, job):
    text = ["Featurising data with seed 1.", "Traceback (most recent call last):",
            '  File "run_alphafold.py", line 10, in <module>', "    main()", "",
            "The above exception was the direct cause of the following exception:", "",
            "Traceback (most recent call last):", '  File "x.py", line 2, in f',
            "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1 bytes.",
            "I1121 10:00:01.000100 1 x.py:1] next run"]
    # Split over two batches: the traceback state must survive between appends.
    joblog.append_lines(conn, job.id, text[:4])
    joblog.append_lines(conn, job.id, text[4:])
    levels = [line.level for line in joblog.read_log(conn, job.id)]
    assert levels == ["progress"] + ["error"] * 9 + ["info"]
    assert joblog.error_summary(conn, job.id).startswith("jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED")
    assert [line.seq for line in joblog.error_tail(conn, job.id, 2)] == [9, 10]


def test_cursor_reads_and_counts(conn, job):
    joblog.append_lines(conn, job.id, [f"line {i}" for i in range(1, 2501)])
    assert joblog.last_seq(conn, job.id) == 2500
    page = joblog.read_log(conn, job.id, since_seq=1000, limit=10)
    assert [line.text for line in page] == [f"line {i}" for i in range(1001, 1011)]
    back = joblog.read_log_before(conn, job.id, before_seq=1001, limit=3)
    assert [line.seq for line in back] == [998, 999, 1000]
    assert joblog.read_log(conn, job.id, since_seq=2500) == []
    joblog.append_lines(conn, job.id, ["E1121 10:00:01.000100 1 x.py:1] boom", ("system", "Job failed: boom", "error")])
    counts = joblog.level_counts(conn, job.id)
    assert counts == {"info": 2500, "warning": 0, "error": 2, "progress": 0, "success": 0}
    text = "".join(joblog.iter_log_text(conn, job.id, chunk=700))
    assert text.count("\n") == 2502 and text.startswith("line 1\n") and text.endswith("Job failed: boom\n")


def test_long_lines_are_truncated_with_a_marker(conn, job):
    joblog.append_lines(conn, job.id, ["x" * 100_000])
    (line,) = joblog.read_log(conn, job.id)
    assert len(line.text) < 9000 and line.text.endswith("[truncated 91808 chars]")


def test_progress_follows_the_stages(conn, job):
    fractions = []
    for text in AF3_RUN:
        joblog.append_lines(conn, job.id, [text])
        fractions.append(progress.progress(conn, job.id).fraction)
    assert fractions == sorted(fractions) and 0.5 < fractions[-1] < 0.95
    p = progress.progress(conn, job.id)
    assert p.stage == "inference" and p.detail == "seed 2/3"
    joblog.append_lines(conn, job.id, ["Running seed 2 inference sample 4/5"])
    assert progress.progress(conn, job.id).detail == "seed 2/3, sample 4/5"
    joblog.append_lines(conn, job.id, ["Writing outputs with 3 seed(s)...",
                                       "Fold job log test done, output written to /x",
                                       "Done running 1 fold jobs."])
    assert progress.progress(conn, job.id) == progress.Progress("done", 1.0, "")
    assert joblog.read_log(conn, job.id)[-1].level == "success"


def test_progress_of_data_pipeline_counts_chains():
    t = progress.Tracker(n_chains=4)
    t.feed("Running data pipeline...")
    t.feed("Running data pipeline for chain A...")
    assert t.detail == "chain A (1/4)"
    t.feed("Running data pipeline for chain A took 2.00 seconds")
    t.feed("Running data pipeline for chain B...")
    assert t.detail == "chain B (2/4)" and t.stage == "data pipeline" and 0.05 < t.fraction < 0.45
