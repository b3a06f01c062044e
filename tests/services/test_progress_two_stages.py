"""Progress of a run whose data stage and inference stage log into one log, one after the other (a two-job
Slurm run, issue 25): the data stage's "Done running" is not the job's end; its inference still moves on.
The log lines are the AF3 simulator's own (services.af3sim), run once per stage."""
from __future__ import annotations

from services.af3.runlog.progress import DATA_DONE, Progress, Tracker
from services.running.attempt import tracker_for
from tests.services.test_af3sim import FIXTURES, fold, run_sim


def feed_all(tracker: Tracker, text: str) -> list[Progress]:
    """Feed every line; return the progress after each line that moved it."""
    return [tracker.snapshot() for line in text.splitlines() if tracker.feed(line)]


def test_the_data_stage_end_is_not_the_job_end_then_inference_reaches_done(tmp_path):
    (tmp_path / "data").mkdir()
    job, data_run = fold(tmp_path / "data", "protein_only.json", "--norun_inference")
    tracker = tracker_for(FIXTURES / "protein_only.json")  # both stages: one job, cap 1.0
    seen = feed_all(tracker, data_run.stdout)
    assert "Done running" in data_run.stdout and seen[-1] == Progress("data pipeline", DATA_DONE, "done")
    assert max(p.fraction for p in seen) == DATA_DONE
    restored = Tracker.from_json(tracker.to_json())  # the row keeps it between the two Slurm jobs
    infer = run_sim(f"--json_path={job / f'{job.name}_data.json'}", f"--output_dir={tmp_path / 'infer'}",
                    "--speed=0", "--norun_data_pipeline", "--num_diffusion_samples=2")
    assert infer.returncode == 0, infer.stderr
    after = feed_all(restored, infer.stdout)
    inference = [p.fraction for p in after if p.stage == "inference"]
    assert inference and DATA_DONE < min(inference) and max(inference) < 1.0
    assert after[-1] == Progress("done", 1.0, "")


def test_a_data_only_run_still_stops_where_inference_begins(tmp_path):
    _, data_run = fold(tmp_path, "protein_only.json", "--norun_inference")
    tracker = tracker_for(FIXTURES / "protein_only.json", "data")
    feed_all(tracker, data_run.stdout)
    assert tracker.snapshot().fraction == DATA_DONE
