"""AlphaFold 3 as one engine among the others: its input is the job's own JSON, its reader `services.results`."""
from __future__ import annotations

from pathlib import Path

from services import results
from services.af3.model import FoldJob
from services.engines.base import EngineOutputs, EngineSample


def refusals(job: FoldJob) -> list[str]:
    """AlphaFold 3 runs every job FoldDeck accepts: the builder and validator already speak its input."""
    del job
    return []


def read_outputs(output: Path, names: dict[str, str] | None = None) -> EngineOutputs:
    """Return an AF3 run's samples best first, as `services.results` reads them (every layout it knows)."""
    del names  # AF3 keeps FoldDeck's chain ids
    contents = results.describe_folder(output)
    files = {s.key: s for s in contents.samples}
    samples = []
    for score in results.sample_scores(contents):
        sample = files[score.key]
        samples.append(EngineSample(score, sample.model, pae=sample.confidences))
    notes = [] if samples else ["AlphaFold 3 wrote no models here."]

    def confidences(sample: EngineSample) -> results.Confidences | None:
        return results.sample_confidences(files[sample.score.key])

    return EngineOutputs("af3", contents.folder, samples, notes=notes, confidences=confidences)
