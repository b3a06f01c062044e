"""Progress of a running AF3 job, derived line by line from its log.

AF3 prints a fixed sequence of stage lines (reference §8.2). `Tracker.feed(line)` moves the
stage and fraction forward; its counters are stored on the job row (`progress_state`) so that
ingestion continues where it stopped and a page reads `progress(conn, job_id)` without parsing.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass

from services.platform.errors import JobNotFound

# Fraction of the run at which each stage begins; inference dominates on a GPU.
_STARTING, _PIPELINE, _FEATURES, _INFERENCE, _WRITING, _END = 0.02, 0.05, 0.45, 0.50, 0.95, 0.99
DATA_DONE = _FEATURES  # where a job stands once its data pipeline (the CPU stage) is done

_ABSL = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+\s+\S+:\d+\] ")
_CHAIN_START = re.compile(r"^Running data pipeline for chain (\S+)\.\.\.$")
_CHAIN_DONE = re.compile(r"^Running data pipeline for chain (\S+) took ")
_FEATURE_SEED = re.compile(r"^Featurising data with seed (-?\d+)\.$")
_INFER_SEED = re.compile(r"^Running model inference (?:with|for) seed (-?\d+)\.\.\.$")  # "for": v3.0.0/3.0.1
_EXTRACTED = re.compile(r"^Extracting (\d+) inference samples with seed (-?\d+) took ")
_EXTRACTED_V30 = re.compile(r"^Extracting output structures \(one per sample\) for seed (-?\d+) took ")
_SEED_LIST = re.compile(r"for seed\(?s\)? \[([^\]]*)\]|for seeds \[([^\]]*)\]")  # v3.0.x: "for seed(s) [1, 2]"
_SAMPLE = re.compile(r"\bsample (\d+)(?:/(\d+)| of (\d+))?", re.IGNORECASE)
_SEED_COUNT = re.compile(r"with (\d+) seed\(s\)")
# Cheap substring gate: most log lines (MSA tool chatter) skip every regex below.
_KEYWORDS = ("fold job", "fold input", "data pipeline", "Featurising", "inference", "sample", "Writing outputs",
             "Done running", "Extracting output structures", "Predicting 3D structure")


@dataclass(frozen=True)
class Progress:
    stage: str
    fraction: float
    detail: str


@dataclass
class Tracker:
    """Incremental parser state; `feed` returns True when a line moved the progress."""

    stage: str = ""
    fraction: float = 0.0
    detail: str = ""
    n_chains: int = 0
    chains_done: int = 0
    n_seeds: int = 0
    seeds_done: int = 0
    n_samples: int = 5
    cap: float = 1.0  # a data-pipeline-only run stops where inference would begin (issue 16)
    # AF3 said "Skipping model inference": its "done" lines end the data stage, not the job. A two-job Slurm
    # run logs its data job, then its inference job, into one log (issue 25: it showed 100 % between them).
    inference_later: bool = False

    @classmethod
    def from_json(cls, raw: str | None) -> Tracker:
        """Return the tracker stored as JSON (empty -> a fresh one)."""
        data = json.loads(raw or "{}")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_json(self) -> str:
        """Return the tracker as compact JSON for the job row."""
        return json.dumps(asdict(self), separators=(",", ":"))

    def snapshot(self) -> Progress:
        """Return what a page shows."""
        return Progress(self.stage, round(self.fraction, 4), self.detail)

    def _set(self, stage: str, fraction: float, detail: str | None = None) -> bool:
        self.stage = stage
        self.fraction = max(self.fraction, min(fraction, self.cap))  # never runs backwards
        if detail is not None:
            self.detail = detail
        return True

    def feed(self, line: str) -> bool:
        """Advance on one log line; return True if it was a progress line."""
        if not any(k in line for k in _KEYWORDS):
            return False
        msg = _ABSL.sub("", line, count=1).strip()
        if msg.startswith("Running fold job "):
            return self._set("starting", _STARTING, msg[len("Running fold job "):].rstrip("."))
        if msg.startswith("Processing fold input ") and not msg.startswith("Processing fold input #"):
            return self._set("starting", _STARTING, msg[len("Processing fold input "):])  # v3.0.x
        if msg.startswith("Predicting 3D structure") and (m := _SEED_LIST.search(msg)):
            self.n_seeds = max(self.n_seeds, len([x for x in (m.group(1) or m.group(2)).split(",") if x.strip()]))
            return False
        if msg.startswith("Running data pipeline") or msg.startswith("Skipping data pipeline"):
            return self._pipeline(msg)
        if msg.startswith("Featurising data"):
            return self._features(msg)
        if ("inference" in msg or msg.startswith("Extracting output structures")) and (
                msg.startswith("Running model inference") or msg.startswith("Extracting")):
            return self._inference(msg)
        if self.stage == "inference" and (m := _SAMPLE.search(msg)):
            return self._sample(m)
        if msg.startswith("Writing outputs"):
            return self._set("writing outputs", _WRITING, "")
        if msg.startswith("Skipping model inference"):
            self.inference_later = True
            return self._set("data pipeline", DATA_DONE, "done")
        if self.inference_later and (msg.startswith("Done running") or msg.startswith("Fold job ")):
            return self._set("data pipeline", DATA_DONE, "done")
        if msg.startswith("Fold job ") and " done" in msg:
            return self._set("writing outputs", _END, "outputs written")
        if msg.startswith("Done processing fold input "):  # v3.0.x's "Fold job ... done"
            return self._set("writing outputs", _END, "outputs written")
        if msg.startswith("Done running") or re.match(r"Done processing \d+ fold inputs", msg):
            return self._set("done", 1.0, "")
        return False

    def _pipeline(self, msg: str) -> bool:
        if m := _CHAIN_DONE.match(msg):
            self.chains_done += 1
            total = max(self.n_chains, self.chains_done)
            detail = f"chain {m.group(1)} done ({self.chains_done}/{total})"
        elif m := _CHAIN_START.match(msg):
            total = max(self.n_chains, self.chains_done + 1)
            detail = f"chain {m.group(1)} ({self.chains_done + 1}/{total})"
        else:
            return self._set("data pipeline", _PIPELINE, "")
        return self._set("data pipeline", _PIPELINE + (_FEATURES - _PIPELINE) * self.chains_done / total, detail)

    def _features(self, msg: str) -> bool:
        if m := _SEED_COUNT.search(msg):
            self.n_seeds = max(self.n_seeds, int(m.group(1)))
        detail = f"seed {_FEATURE_SEED.match(msg).group(1)}" if _FEATURE_SEED.match(msg) else self.detail
        return self._set("featurisation", _FEATURES, detail)

    def _inference(self, msg: str) -> bool:
        self.inference_later = False
        if m := _SEED_COUNT.search(msg):
            self.n_seeds = max(self.n_seeds, int(m.group(1)))
        n = max(self.n_seeds, self.seeds_done + 1)
        if (m := _EXTRACTED.match(msg)) or _EXTRACTED_V30.match(msg):
            self.seeds_done += 1
            self.n_samples = int(m.group(1)) if m else self.n_samples
            return self._set("inference", self._inference_fraction(0), f"seed {self.seeds_done}/{n} done")
        if _INFER_SEED.match(msg):
            return self._set("inference", self._inference_fraction(0), f"seed {self.seeds_done + 1}/{n}")
        return self._set("inference", _INFERENCE, self.detail or "starting")

    def _sample(self, m: re.Match) -> bool:
        total = int(m.group(2) or m.group(3) or self.n_samples)
        self.n_samples = max(total, 1)
        k = int(m.group(1))
        n = max(self.n_seeds, self.seeds_done + 1)
        return self._set("inference", self._inference_fraction(k / self.n_samples),
                         f"seed {self.seeds_done + 1}/{n}, sample {k}/{self.n_samples}")

    def _inference_fraction(self, within_seed: float) -> float:
        n = max(self.n_seeds, self.seeds_done + 1, 1)
        return _INFERENCE + (_WRITING - _INFERENCE) * min((self.seeds_done + within_seed) / n, 1.0)


def progress(conn: sqlite3.Connection, job_id: int) -> Progress:
    """Return the stored progress of a job.

    Raises:
        JobNotFound: no job with this id (visibility is checked by the caller's get_job).
    """
    row = conn.execute("SELECT stage, progress, progress_detail FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(f"No job {job_id}.")
    return Progress(row["stage"], row["progress"], row["progress_detail"])
