"""An attempt of a job another engine runs (issue 29): its command, its input files, how its run ended.

AlphaFold 3 jobs never come here: `Attempt` runs them as before. For the others the job's AF3 input
(with the files it names inlined, as for AF3) goes through the engine's writer into the attempt's
own input folder, the engine's command template runs on the same executors, and the engine's own
reader decides whether the run left results.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from services.af3 import input_files
from services.af3.model import FoldJob
from services.engines import registry
from services.engines.base import Engine, EngineOutputs
from services.hosts import Host
from services.jobs import Job, joblog
from services.msa import msa_cache
from services.platform.settings import Settings

_TAIL = 40  # last log lines read for an engine's failure words: a traceback and the lines before it
CHAINS_FILE = "engine_chains.json"  # the engine's chain id -> FoldDeck's, kept beside the engine's input


def is_engine_job(job: Job) -> bool:
    """True for a job an engine other than AlphaFold 3 runs."""
    return job.engine != registry.AF3


def command(settings: Settings, host: Host, job: Job) -> str:
    """Return the command template this attempt runs: AF3's as before, else the engine's setting."""
    if not is_engine_job(job):
        return host.af3_command or settings.af3_command
    return registry.command(settings, job.engine, host.engine_command(job.engine))


def stage_input(conn: sqlite3.Connection, settings: Settings, job: Job,
                original: Path) -> tuple[Path, tuple[str, ...]]:
    """Write the engine's own input for this attempt; return the file {input} names and the files beside it.

    An engine that reads precomputed MSAs gets the ones AlphaFold 3 searched for the same chains (the MSA
    cache: in a group, the AF3 job's search runs first and this job waited for it), so it does not search.

    Raises:
        InputFileRefused: the job's input names a file that is not its own.
        OSError: the job's folder cannot take the files.
    """
    engine = registry.get(job.engine)
    af3 = input_files.inline(json.loads(original.read_text()), original.parent, settings.shared_input_dirs)
    if engine.takes_msas:
        af3 = _searched_msas(conn, settings, job, engine, af3)
    written = engine.write_input(FoldJob.from_af3(af3))
    folder = original.parent / f"{engine.name}-input-{job.attempts}"
    for name, data in {**written.files, CHAINS_FILE: json.dumps(written.chains).encode()}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return folder / written.main, tuple(sorted(n for n in written.files if n != written.main))


def _searched_msas(conn: sqlite3.Connection, settings: Settings, job: Job, engine: Engine, af3: dict) -> dict:
    """Return the input with the cached MSAs of its chains in place, saying so in the job's log."""
    try:
        prepared, reused = msa_cache.prepare(conn, settings, job.owner_id, af3,
                                             msa_cache.search_context(settings, settings.af3_command),
                                             reuse=bool(job.msa_reuse))
    except (OSError, ValueError, sqlite3.Error):
        return af3  # trouble with the cache never fails the job: the engine searches
    lines = [(joblog.Stream.SYSTEM.value, f"MSA for chain {', '.join(r.chains)} taken from job #{r.job_id}'s "
                                          f"search: {engine.label} does not search it again.") for r in reused]
    if lines:
        joblog.append_lines(conn, job.id, lines)
    return prepared if reused else af3


def chain_names(input_path: Path) -> dict[str, str]:
    """Return the engine's chain id -> FoldDeck's recorded beside an engine input ({} when none)."""
    try:
        return json.loads((input_path.parent / CHAINS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def output_problem(engine: Engine, output_dir: Path, input_path: Path) -> str:
    """Return "" when the engine's reader finds samples in the run's output, else what is missing."""
    outputs = engine.read_outputs(output_dir, chain_names(input_path))
    if outputs.samples:
        return ""
    return f"{engine.label} exited without results: " + ("; ".join(outputs.notes) or "no models were written")


def failure(conn: sqlite3.Connection, job: Job, code: int | None) -> str:
    """Return why the engine's run failed, in words, from its last error lines (its own failure words first)."""
    engine = registry.get(job.engine)
    lines = [line.text for line in joblog.read_log_before(conn, job.id, 2**62, _TAIL)]  # any level: engines differ
    for text in reversed(lines):
        words = engine.log.failure_of(text)
        if words:
            return f"{engine.label}: {words} ({text.strip()[:200]})"
    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
    said = [t.strip() for t in lines if t.strip() and not t.startswith("FoldDeck")]
    last = joblog.error_summary(conn, job.id) or (said[-1][:300] if said else "")
    return f"{engine.label} {how}" + (f": {last}" if last else "")


def outputs_of(settings: Settings, job: Job) -> EngineOutputs | None:
    """Return what the job's last attempt left, read by its engine's reader (None before any output)."""
    if not job.output_path:
        return None
    engine = registry.get(job.engine)
    inputs = settings.jobs_dir / str(job.id) / f"{engine.name}-input-{job.attempts}"
    return engine.read_outputs(Path(job.output_path), chain_names(inputs / "x"))


def note_stage(conn: sqlite3.Connection, job: Job, lines: list[str]) -> str | None:
    """Move the job's stage and progress to the last stage these lines start (the engine's own words).

    AlphaFold 3's tracker reads AF3's lines as they are stored; an engine's lines carry its own stage
    names (`services.engines.logwords`), so the page shows where Boltz or Chai-1 stands. Returns the stage set.
    """
    words = registry.get(job.engine).log
    found = [s for s in (words.stage_of(line) for line in lines) if s]
    if not found:
        return None
    order = [name for _pattern, name in words.stages]
    fraction = round((order.index(found[-1]) + 1) / (len(order) + 1), 3)
    conn.execute("UPDATE jobs SET stage = ?, progress = MAX(progress, ?), progress_detail = ?, updated_at = ? "
                 "WHERE id = ? AND worker_id = ? AND attempts = ? AND state = 'running'",
                 (found[-1], fraction, registry.get(job.engine).label, time.time(), job.id, job.worker_id,
                  job.attempts))
    return found[-1]
