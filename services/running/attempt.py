"""One attempt of a claimed job: stage its input, run it on its host, follow its output, record how it ended.

The worker (`services.running.worker`) claims the job and renews its lease; an `Attempt` does the
rest. A host that cannot be reached hands the job back to the queue; a full disk fails it with the
reason (`fail_for_full_disk`, in the room the worker's `DiskGuard` freed).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from services import jobs, results
from services.af3 import input_files
from services.af3.input_files import InputFileRefused
from services.af3.runlog.progress import DATA_DONE, Tracker
from services.engines import registry
from services.hosts import Host
from services.jobs import Job, JobState, joblog
from services.jobs.claim import stages
from services.jobs.claim.stages import BOTH, DATA, INFERENCE
from services.msa import msa_cache
from services.platform import defaults, disk
from services.platform.settings import Settings
from services.running import engine_run
from services.running.compile_cache import with_compile_cache
from services.running.disk_guard import DiskGuard
from services.running.executors import Executor, ExecutorError, HostUnavailable, RunSpec, make_executor
from services.running.outputs import check_outputs, find_data_json

log = logging.getLogger("folddeck.worker")


def _job_extra(job: Job) -> dict:
    return {"source": "jobs", "username": job.owner, "job_id": job.id}


def tracker_for(input_path: Path, phase: str = BOTH) -> Tracker:
    """Return a fresh progress tracker that knows how many chains and seeds to expect.

    A data-pipeline run stops where inference begins; an inference run starts there (issue 16).
    """
    start, cap = (DATA_DONE, 1.0) if phase == INFERENCE else (0.0, DATA_DONE if phase == DATA else 1.0)
    try:
        af3 = json.loads(input_path.read_text())
    except (OSError, ValueError):
        return Tracker(fraction=start, cap=cap)
    chains = 0
    for entity in af3.get("sequences", []):
        for body in entity.values():
            ids = body.get("id", []) if isinstance(body, dict) else []
            chains += len(ids) if isinstance(ids, list) else 1
    return Tracker(n_chains=chains, n_seeds=len(af3.get("modelSeeds") or [1]), fraction=start, cap=cap)


def end_attempt(conn: sqlite3.Connection, job: Job, state: JobState, code: int | None, error: str | None,
                text: str = "") -> None:
    """Record the attempt's end in `state`, with a closing line in the job's log (`text`, or one by state)."""
    text = text or {JobState.SUCCEEDED: "Job succeeded.", JobState.CANCELLED: "Job cancelled.",
                    JobState.QUEUED: "Worker shutting down; job handed back to the queue.",
                    JobState.FAILED: f"Job failed: {error}"}[state]
    level = {JobState.SUCCEEDED: "success", JobState.FAILED: "error"}.get(state, "info")
    jobs.finish_attempt(conn, job, state, exit_code=code, error=error,
                        log_lines=[(joblog.Stream.SYSTEM.value, text, level)])


def fail_for_full_disk(conn: sqlite3.Connection, job: Job, guard: DiskGuard, exc: BaseException) -> bool:
    """Fail the job because the disk is full; False if even that could not be written."""
    guard.filled(exc)
    cause = guard.error or exc
    try:
        if conn.in_transaction:  # a COMMIT that failed for space may leave its transaction open
            conn.rollback()
        end_attempt(conn, job, JobState.FAILED, None, f"The disk is full: the job's log and results could not "
                                                      f"be written ({cause}). Retry it once space is freed.")
    except sqlite3.Error:
        log.exception("job %s: its failure for a full disk could not be recorded", job.id, extra=_job_extra(job))
        return False
    return True


class Attempt:
    """One claimed attempt of `job` on `host`; `run()` runs it to its end and records the outcome.

    `stopping` and `shutdown` are the worker's: on a stop the attempt is handed back (`requeue`) or
    runs to its end (`wait`). `warming` is the results pre-parsing thread a success started, if any.
    """

    def __init__(self, conn: sqlite3.Connection, job: Job, host: Host, settings: Settings, *, guard: DiskGuard,
                 stopping: threading.Event, shutdown: str):
        self.conn = conn
        self.job = job
        self.host = host
        self.settings = settings
        self.guard = guard
        self.stopping = stopping
        self.shutdown = shutdown
        # AF3's, or the job's engine's (issue 29); a local AF3 line gets the compilation cache (issue 26)
        self.command = with_compile_cache(engine_run.command(settings, host, job), host, settings)
        self.warming: threading.Thread | None = None

    def run(self, reattach: bool = False) -> bool:
        """Run the attempt to its end and record the outcome; False if its host was unreachable.

        With `reattach`, the attempt is already in Slurm (its worker died): follow it, submit nothing.
        """
        conn, job = self.conn, self.job
        original, phase = jobs.input_file(self.settings, job), job.phase
        if reattach:
            stage_input = Path(job.data_json) if phase == INFERENCE and job.data_json else original
        else:
            if not jobs.start_attempt(conn, job, tracker_for(original, phase).to_json()):
                return True
            job = self.job = self._recover_lost_search()
            if job is None:
                return True  # its data stage had finished already: nothing left for this CPU slot
            phase = job.phase
            try:
                if engine_run.is_engine_job(job):
                    (stage_input, side_files), phase = engine_run.stage_input(conn, self.settings, job, original), BOTH
                else:
                    stage_input, phase = self._stage_input(original, phase)
            except InputFileRefused as exc:  # a path naming a file that is not the job's (issue 22)
                end_attempt(conn, job, JobState.FAILED, None, str(exc))
                return True
            except OSError as exc:  # the job's folder cannot take the prepared input (permissions)
                if disk.is_disk_full(exc):
                    raise
                end_attempt(conn, job, JobState.FAILED, None, f"cannot prepare the job's input: {exc}")
                return True
        spec = RunSpec(job.id, job.attempts, stage_input,
                       self.settings.jobs_dir / str(job.id) / f"attempt-{job.attempts}", self.command,
                       self.settings.af3_model_dir, self.settings.af3_db_dir, stage=phase)
        if engine_run.is_engine_job(job) and not reattach:  # issue 29: its own input, run beside its side files
            spec = dataclasses.replace(spec, engine=job.engine, side_files=side_files, workdir=stage_input.parent)
        return self._execute(spec, reattach)

    def _execute(self, spec: RunSpec, reattach: bool) -> bool:
        """Start (or re-attach to) the run on the host, follow it and conclude; False if the host was unreachable."""
        conn, job, host = self.conn, self.job, self.host
        executor = make_executor(host, self.settings)
        try:
            if not reattach:
                executor.start(spec)
            elif not executor.attach(spec):
                end_attempt(conn, job, JobState.QUEUED, None, None, "The attempt never reached Slurm; the job goes "
                                                                  "back to the queue.")
                return True
            if not host.is_local:
                jobs.mark_host_up(conn, host.name)
            remote = f"{host.name}:{executor.remote_output}" if executor.remote_output else None
            jobs.record_process(conn, job, pid=executor.pid, remote_pid=executor.remote_pid,
                                output_path=str(spec.output_dir), remote_output=remote)
            verdict, code = self._follow(executor)
            self._conclude(executor, spec, verdict, code)
        except HostUnavailable as exc:  # before ExecutorError: a host that is down is not the job's fault
            self._hand_back(exc)
            return False
        except ExecutorError as exc:
            end_attempt(conn, job, JobState.FAILED, None, str(exc))
        except Exception as exc:  # a bug must fail the job visibly, not kill the slot thread
            if disk.is_disk_full(exc):  # its output can be neither stored nor followed: stop it, say why
                self._stop_quietly(executor)
                raise
            log.exception("job %s: internal error", job.id, extra=_job_extra(job))
            end_attempt(conn, job, JobState.FAILED, None, f"internal error: {exc}")
        finally:
            executor.close()
        return True

    def _recover_lost_search(self) -> Job | None:
        """Use the _data.json of an earlier attempt whose search finished before its worker was lost.

        Returns the job to run (now an inference from that file, for a whole run), or None when it was
        a data stage: it is done and the job waits for a GPU.
        """
        conn, job = self.conn, self.job
        if job.phase not in (DATA, BOTH) or job.data_json:
            return job
        data = stages.finished_data_of_lost_attempt(conn, self.settings.jobs_dir, job)
        if data is None:
            return job
        if job.phase == DATA:
            self._store_msas(data)
            stages.finish_data_stage(conn, job, str(data), 0.0, recovered_from=data.parent.parent.name)
            return None
        stages.record_data_json(conn, job, str(data))
        stages.set_phase(conn, job, INFERENCE)
        return dataclasses.replace(job, data_json=str(data), phase=INFERENCE)

    def _stage_input(self, original: Path, phase: str) -> tuple[Path, str]:
        """Return the input this attempt runs on and its phase (issue 16).

        Inference runs on the saved `_data.json`; otherwise the job's input gets the text of the files
        it names (checked: only its own or shared ones, issue 22) and the cached MSAs of its chains
        injected (written next to it), so AF3 reads no path a user wrote and skips cached searches.
        Trouble with the cache never fails the job: it runs on its own input and searches.

        Raises:
            InputFileRefused: the input names a file that is not the job's.
        """
        conn, job = self.conn, self.job
        if phase == INFERENCE and job.data_json:
            if Path(job.data_json).is_file():
                joblog.append_lines(conn, job.id, [(joblog.Stream.SYSTEM.value, "Inference starts from the saved data "
                                                    f"pipeline output ({Path(job.data_json).name}): the MSA search is "
                                                    "not repeated.")])
                return Path(job.data_json), phase
            stages.forget_data_json(conn, job, "its file is gone")
        submitted = json.loads(original.read_text())
        af3 = input_files.inline(submitted, original.parent, self.settings.shared_input_dirs)
        try:
            prepared, reused = msa_cache.prepare(conn, self.settings, job.owner_id, af3,
                                                 msa_cache.search_context(self.settings, self.command),
                                                 reuse=bool(job.msa_reuse))
        except (OSError, ValueError, sqlite3.Error):
            log.exception("job %s: the MSA cache could not be read; the job searches", job.id, extra=_job_extra(job))
            prepared, reused = None, []
        if phase == INFERENCE and (prepared is None or msa_cache.search_keys(prepared)):
            # Routed to a GPU slot with nothing to search, but a cache entry went meanwhile (evicted,
            # cleared) or the saved _data.json is gone: this run does both stages.
            phase = BOTH
            stages.set_phase(conn, job, phase)
        stages.record_reuse(conn, job, reused)
        if not reused and af3 == submitted:
            return original, phase
        path = original.with_name(f"input-attempt-{job.attempts}.json")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(prepared if reused else af3, indent=1))
        os.replace(tmp, path)
        return path, phase

    def _hand_back(self, exc: HostUnavailable) -> None:
        """Queue the job again and keep every worker off its host for a backoff period."""
        # The host rests first: no slot may claim onto it between the two writes.
        rest = jobs.mark_host_down(self.conn, exc.host, exc.reason)
        jobs.hand_back(self.conn, self.job, exc.reason, f"Could not reach {exc.host} ({exc.reason}); the job goes "
                                                        "back to the queue and will start when a slot is free.")
        extra = {"source": "worker", "username": None, "job_id": self.job.id}
        if exc.config:  # waiting will not help: an admin must act, so say what to change
            log.error("host %s cannot be used: %s. To fix: %s. Its jobs go back to the queue meanwhile.",
                      exc.host, exc.reason, exc.fix, extra=extra)
        else:
            log.warning("host %s unreachable (%s): no jobs start there for %.0f s", exc.host, exc.reason,
                        max(0.0, rest.until - time.time()), extra=extra)

    def _follow(self, executor: Executor) -> tuple[str, int | None]:
        """Stream output into the log until the process ends, a cancel arrives or the lease is lost."""
        next_check = 0.0
        pending: list[str] = []
        while True:
            self.guard.raise_if_full()
            pending += executor.read_lines(defaults.OUTPUT_WAIT_SECONDS)
            pending = self._store(pending)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + defaults.CANCEL_CHECK_SECONDS
                verdict = jobs.check_running(self.conn, self.job)
                detachable = getattr(executor, "detachable", False)
                if not verdict and self.stopping.is_set() and (self.shutdown == "requeue" or detachable):
                    verdict = "requeue"
                if verdict in ("lost", "requeue") and detachable:
                    # A Slurm job runs on without its worker (whatever the shutdown mode: it may run for
                    # hours); the next worker serving the host re-attaches to it by its recorded id.
                    return "detach", None
                if verdict:
                    executor.cancel(0 if verdict == "lost" else defaults.CANCEL_GRACE_SECONDS)
                    self._drain(executor, pending)
                    return verdict, executor.poll()
            code = executor.poll()
            if code is not None:
                self._drain(executor, pending)
                return "", code

    def _store(self, lines: list[str]) -> list[str]:
        """Append lines to the job's log; on a busy database keep them and return them for the next try.

        Lines of an attempt that lost the job are dropped (see `_append`).
        """
        if not lines:
            return lines
        try:
            self._append(lines)
            if engine_run.is_engine_job(self.job):  # the engine's own stage words (issue 29)
                engine_run.note_stage(self.conn, self.job, lines)
        except sqlite3.OperationalError as exc:
            if disk.is_disk_full(exc):  # keeping them would only wait for the lease to run out
                raise
            log.warning("job %s: log write failed; %s lines kept for the next try", self.job.id, len(lines),
                        extra=_job_extra(self.job))
            return lines
        return []

    def _drain(self, executor: Executor, pending: list[str]) -> None:
        """Write the lines still held back, then everything the process wrote until its end."""
        if pending:
            self._append(pending)
        while lines := executor.read_lines(0):
            self._append(lines)

    def _append(self, lines: list[str]) -> None:
        """Write the attempt's lines, or drop them if it no longer owns the job (checked in the same transaction)."""
        job = self.job
        if joblog.append_attempt_lines(self.conn, job.id, job.worker_id, job.attempts, lines) is None:
            log.info("job %s: %s output lines of attempt %s dropped: the attempt no longer owns the job", job.id,
                     len(lines), job.attempts, extra=_job_extra(job))

    def _conclude(self, executor: Executor, spec: RunSpec, verdict: str, code: int | None) -> None:
        """Record how the run ended: by its verdict, the executor's own outcome, its exit status, its outputs."""
        conn, job = self.conn, self.job
        if verdict in ("lost", "detach"):
            return  # another worker owns the job now (or will re-attach to it in Slurm); record nothing
        self._record_split_data(executor, spec)
        if verdict == "cancel":
            return end_attempt(conn, job, JobState.CANCELLED, code, None)
        if verdict == "requeue":
            return end_attempt(conn, job, JobState.QUEUED, code, None)
        outcome = getattr(executor, "outcome", None)  # Slurm end states an exit status cannot say
        if outcome is not None:
            kind, message = outcome
            if kind == "requeue":
                return end_attempt(conn, job, JobState.QUEUED, code, None, message)
            if kind == "cancelled":
                return end_attempt(conn, job, JobState.CANCELLED, code, message, f"Job cancelled: {message}.")
            return end_attempt(conn, job, JobState.FAILED, code, message)
        if code != 0 and engine_run.is_engine_job(job):
            return end_attempt(conn, job, JobState.FAILED, code, engine_run.failure(conn, job, code))
        if code != 0:
            summary = joblog.error_summary(conn, job.id)
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
            return end_attempt(conn, job, JobState.FAILED, code, summary or f"AlphaFold {how}")
        executor.collect()
        if engine_run.is_engine_job(job):
            problem = engine_run.output_problem(registry.get(job.engine), spec.output_dir, spec.input_path)
            return end_attempt(conn, job, JobState.FAILED if problem else JobState.SUCCEEDED, code, problem or None)
        data = find_data_json(spec.output_dir)
        if spec.stage == DATA:
            if data is None:
                return end_attempt(conn, job, JobState.FAILED, code, "the data pipeline wrote no _data.json")
            self._store_msas(data)
            if not stages.finish_data_stage(conn, job, str(data), time.time() - (job.started_at or time.time())):
                log.info("job %s: data pipeline done, but the attempt no longer owns the job", job.id)
            return None
        problem = check_outputs(spec.output_dir, json.loads(spec.input_path.read_text()), spec.command)
        if spec.stage == BOTH and data is not None:
            self._store_msas(data)
        end_attempt(conn, job, JobState.FAILED if problem else JobState.SUCCEEDED, code, problem or None)
        if not problem:
            self._warm_results(spec.output_dir)

    def _stop_quietly(self, executor: Executor) -> None:
        """Kill the attempt's process now; a failure to is logged (the full disk is what gets reported)."""
        try:
            executor.cancel(0)
        except Exception:
            log.exception("job %s: could not stop its process", self.job.id, extra=_job_extra(self.job))

    def _warm_results(self, output_dir: Path) -> None:
        """Parse the best sample's PAE for the job page in the background (a 5,000-token one takes seconds)."""
        job, cache_dir = self.job, self.settings.data_dir / defaults.RESULTS_CACHE_DIR

        def warm() -> None:
            try:
                results.best_confidences(output_dir, cache_dir=cache_dir)
            except Exception:  # a page visit parses it then; never let this end the worker
                log.exception("job %s: results not pre-parsed", job.id, extra=_job_extra(job))

        self.warming = threading.Thread(target=warm, name=f"job-{job.id}-results", daemon=True)
        self.warming.start()

    def _record_split_data(self, executor: Executor, spec: RunSpec) -> None:
        """Keep the _data.json of an executor that ran the two stages itself (Slurm, two linked jobs).

        A retry after an inference failure then starts from it, and its chains go into the cache.
        """
        data = getattr(executor, "data_json", None)
        if spec.stage != BOTH or not data or not Path(data).is_file():
            return
        stages.record_data_json(self.conn, self.job, str(data))
        self._store_msas(Path(data))

    def _store_msas(self, data: Path) -> None:
        """Put the chains this run searched into the MSA cache; trouble there is logged, never fails the job."""
        conn, job, settings = self.conn, self.job, self.settings
        if not msa_cache.enabled(settings):
            return
        try:
            original = json.loads(jobs.input_file(settings, job).read_text())
            msa_cache.store(conn, settings, job.owner_id, job.id, original, json.loads(data.read_text()),
                            msa_cache.search_context(settings, self.command))
        except (OSError, ValueError, sqlite3.Error):
            log.exception("job %s: its MSAs could not be cached", job.id, extra=_job_extra(job))
