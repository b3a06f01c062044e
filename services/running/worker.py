"""The job worker: claims queued jobs for free host slots and runs them with an executor.

    python -m services.running.worker [--once] [--concurrency N] [--hosts local,gpu1]

One thread per slot claims and runs jobs; one thread renews the leases. On SIGTERM the worker
stops claiming and, by FOLDDECK_WORKER_SHUTDOWN, waits for its running jobs (`wait`) or stops
them and hands them back to the queue (`requeue`).

When a write fails because the disk is full, the worker frees its reserve (`services.platform.disk`),
stops and fails its running jobs with the reason, tells the admin once, and claims nothing until
the reserve can be made again.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import secrets
import signal
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

from services import jobs, results
from services.af3 import input_files
from services.af3.input_files import InputFileRefused
from services.af3.progress import DATA_DONE, Tracker
from services.hosts import Host, load_hosts
from services.jobs import Job, JobState, joblog, stages
from services.jobs.stages import BOTH, DATA, INFERENCE
from services.msa import msa_cache
from services.platform import applog, db, defaults, disk
from services.platform.errors import SettingsError
from services.platform.settings import Settings
from services.running.executors import Executor, ExecutorError, HostUnavailable, RunSpec, cleanup, make_executor

log = logging.getLogger("folddeck.worker")


def expected_samples(af3: dict, command: str) -> list[tuple[int, int]]:
    """Return the (seed, sample) pairs a successful run writes, from the input and the command's flags."""
    seeds = [int(s) for s in af3.get("modelSeeds") or [1]]
    m = re.search(r"--num_seeds[= ](\d+)", command)
    if m:  # AF3 expands the first seed into consecutive seeds
        seeds = list(range(seeds[0], seeds[0] + int(m.group(1))))
    m = re.search(r"--num_diffusion_samples[= ](\d+)", command)
    samples = int(m.group(1)) if m else 5
    return [(s, i) for s in seeds for i in range(samples)]


def check_outputs(output_dir: Path, af3: dict, command: str) -> str:
    """Return "" when every expected sample has its summary confidences, else what is missing."""
    if not output_dir.is_dir():
        return "no output folder was written"
    job_dirs = [d for d in output_dir.iterdir() if d.is_dir()]
    if not job_dirs:
        return "no results were written"
    expected = expected_samples(af3, command)
    best_missing: list[tuple[int, int]] = expected
    for d in job_dirs:
        missing = [(s, i) for s, i in expected
                   if not any((d / f"seed-{s}_sample-{i}").glob("*summary_confidences.json"))]
        if not missing:
            return ""
        best_missing = min(best_missing, missing, key=len)
    s, i = best_missing[0]
    more = f" (and {len(best_missing) - 1} more)" if len(best_missing) > 1 else ""
    return f"results incomplete: no summary confidences for seed {s} sample {i}{more}"


def _tracker_for(input_path: Path, phase: str = BOTH) -> Tracker:
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


def find_data_json(output_dir: Path) -> Path | None:
    """Return the newest `<name>_data.json` a run wrote under `output_dir` (AF3: <output>/<name>/...), or None."""
    found = [p for p in output_dir.glob("*/*_data.json") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _between_stages(conn: sqlite3.Connection, job_id: int) -> bool:
    """True when the job's data pipeline is done and its inference is still to run."""
    row = conn.execute("SELECT state, data_json FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row is not None and row[0] == JobState.QUEUED.value and bool(row[1])


class Worker:
    """Runs jobs until stopped. `run()` blocks; `stop()` (or SIGTERM) ends it."""

    def __init__(self, settings: Settings, *, hosts: list[Host] | None = None, concurrency: int | None = None,
                 worker_id: str | None = None, shutdown: str | None = None,
                 poll: float = defaults.WORKER_POLL_SECONDS):
        self.settings = settings
        # A host with CPU slots only runs data pipelines (a CPU node for jackhmmer, issue 16).
        self.hosts = [h for h in (hosts or load_hosts(settings)) if h.run_jobs and (h.slots > 0 or h.cpu_slots > 0)]
        self.concurrency = concurrency or max(1, sum(h.slots + h.cpu_slots for h in self.hosts))
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.shutdown = shutdown or settings.worker_shutdown
        self.poll = poll
        self.stopping = threading.Event()
        self.jobs_done = 0
        self._slots: list[threading.Thread] = []
        self._active: set[int] = set()  # jobs a slot is running now: the only leases the heartbeat renews
        self._active_lock = threading.Lock()
        self.warming: list[threading.Thread] = []  # results pre-parsing of finished jobs (joined at stop)
        self.reserve = disk.Reserve(settings.data_dir)
        self.disk_full = threading.Event()  # set from a write that failed for space until the reserve is back
        self._disk_error: BaseException | None = None
        self._disk_lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        return db.connect(self.settings.db_path)

    def stop(self) -> None:
        """Stop claiming; running jobs finish or are handed back, by the shutdown setting."""
        self.stopping.set()

    def run(self, once: bool = False) -> int:
        """Run until stopped (or, with once, until one job ran); return the number of jobs run."""
        conn = self._conn()
        if not self.reserve.ensure():
            log.warning("worker %s: less than %s MiB free under %s, so no disk reserve was made", self.id,
                        2 * disk.reserve_bytes() >> 20, self.settings.data_dir,
                        extra={"source": "worker", "username": None, "job_id": None})
        jobs.register_worker(conn, self.id, socket.gethostname(), os.getpid())
        log.info("worker %s started: hosts %s, %s slot threads, shutdown=%s", self.id,
                 ", ".join(f"{h.name}({h.slots})" for h in self.hosts), self.concurrency, self.shutdown,
                 extra={"source": "jobs", "username": None, "job_id": None})
        beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        beat.start()
        slots = self._slots = [threading.Thread(target=self._slot, args=(once,), name=f"{self.id}-slot-{i}")
                               for i in range(1 if once else self.concurrency)]
        for t in slots:
            t.start()
        for t in slots:
            while t.is_alive():
                t.join(0.2)  # short joins keep the main thread responsive to signals
        self.stopping.set()
        beat.join(5)
        for thread in self.warming:  # a few seconds at most; a page visit would parse the rest
            thread.join(30)
        try:
            jobs.stop_worker(conn, self.id)
        except sqlite3.Error as exc:  # a full disk: the worker row keeps its last heartbeat
            log.warning("worker %s: its stop could not be recorded: %s", self.id, exc)
        log.info("worker %s stopped after %s jobs", self.id, self.jobs_done,
                 extra={"source": "jobs", "username": None, "job_id": None})
        return self.jobs_done

    def _heartbeat(self) -> None:
        conn = self._conn()
        every = min(defaults.HEARTBEAT_SECONDS, self.settings.lease_seconds / 3)
        while True:
            with self._active_lock:
                active = list(self._active)
            try:
                jobs.heartbeat(conn, self.id, self.settings.lease_seconds, job_ids=active)
            except sqlite3.Error as exc:
                if disk.is_disk_full(exc):
                    self._disk_filled(exc)
                else:
                    log.exception("heartbeat failed")
            # Keep beating while the slot threads wind down (wait mode runs jobs to the end).
            if self.stopping.wait(every) and not any(t.is_alive() for t in self._slots):
                return

    def _slot(self, once: bool) -> None:
        conn = self._conn()
        try:
            while not self.stopping.is_set():
                if self.disk_full.is_set() and not self._space_back():
                    if once:
                        return
                    self.stopping.wait(self.poll)
                    continue
                try:
                    job = jobs.adopt_slurm_job(conn, self.settings, self.id, self.hosts)
                    if job is not None:
                        self._run_tracked(conn, job, reattach=True)
                        continue
                    cleanup.reap_lost_attempts(conn, self.settings, hosts=self.hosts)
                    job = jobs.claim_job(conn, self.settings, self.id, self.hosts)
                except sqlite3.Error as exc:
                    if disk.is_disk_full(exc):
                        self._disk_filled(exc)
                    else:  # a locked or busy database is transient: a dead slot thread would be a lost slot
                        log.exception("worker %s: claiming failed; trying again", self.id)
                    job = None
                if job is None:
                    if once:
                        return
                    self.stopping.wait(self.poll)
                    continue
                if not self._run_tracked(conn, job):
                    continue  # handed back: its host rests, so the next claim goes elsewhere or waits
                if job.phase == DATA and _between_stages(conn, job.id):
                    continue  # only its first stage ran: --once means one job run to its end
                self.jobs_done += 1
                if once:
                    return
        finally:
            db.close_all()

    def _run_tracked(self, conn: sqlite3.Connection, job: Job, reattach: bool = False) -> bool:
        """Run a job while the heartbeat renews its lease; False if it went back to the queue unstarted.

        A full disk fails the job with the reason (in the reserve's room); any other escaped error
        leaves the job to the reaper.
        """
        with self._active_lock:
            self._active.add(job.id)
        try:
            return self.run_job(conn, job, reattach=reattach)
        except Exception as exc:
            if disk.is_disk_full(exc) and self._fail_for_full_disk(conn, job, exc):
                return True
            log.exception("job %s: the worker could not record its outcome; the lease will expire", job.id,
                          extra={"source": "jobs", "username": job.owner, "job_id": job.id})
            return True
        finally:
            with self._active_lock:
                self._active.discard(job.id)

    def run_job(self, conn: sqlite3.Connection, job: Job, reattach: bool = False) -> bool:
        """Run one claimed attempt to its end and record the outcome; False if its host was unreachable.

        With `reattach`, the attempt is already in Slurm (its worker died): follow it, submit nothing.
        """
        host = next(h for h in self.hosts if h.name == job.host)
        command = host.af3_command or self.settings.af3_command
        original, phase = jobs.input_file(self.settings, job), job.phase
        if reattach:
            stage_input = Path(job.data_json) if phase == INFERENCE and job.data_json else original
        else:
            if not jobs.start_attempt(conn, job, _tracker_for(original, phase).to_json()):
                return True
            job = self._recover_lost_search(conn, job, command)
            if job is None:
                return True  # its data stage had finished already: nothing left for this CPU slot
            phase = job.phase
            try:
                stage_input, phase = self._stage_input(conn, job, original, phase, command)
            except InputFileRefused as exc:  # a path naming a file that is not the job's (issue 22)
                self._end(conn, job, JobState.FAILED, None, str(exc))
                return True
            except OSError as exc:  # the job's folder cannot take the prepared input (permissions)
                if disk.is_disk_full(exc):
                    raise
                self._end(conn, job, JobState.FAILED, None, f"cannot prepare the job's input: {exc}")
                return True
        spec = RunSpec(job.id, job.attempts, stage_input,
                       self.settings.jobs_dir / str(job.id) / f"attempt-{job.attempts}", command,
                       self.settings.af3_model_dir, self.settings.af3_db_dir, stage=phase)
        executor = make_executor(host, self.settings)
        try:
            if not reattach:
                executor.start(spec)
            elif not executor.attach(spec):
                self._end(conn, job, JobState.QUEUED, None, None, "The attempt never reached Slurm; the job goes "
                                                                "back to the queue.")
                return True
            if not host.is_local:
                jobs.mark_host_up(conn, host.name)
            remote = f"{host.name}:{executor.remote_output}" if executor.remote_output else None
            jobs.record_process(conn, job, pid=executor.pid, remote_pid=executor.remote_pid,
                                output_path=str(spec.output_dir), remote_output=remote)
            verdict, code = self._follow(conn, job, executor)
            self._conclude(conn, job, executor, spec, verdict, code)
        except HostUnavailable as exc:  # before ExecutorError: a host that is down is not the job's fault
            self._hand_back(conn, job, exc)
            return False
        except ExecutorError as exc:
            self._end(conn, job, JobState.FAILED, None, str(exc))
        except Exception as exc:  # a bug must fail the job visibly, not kill the slot thread
            if disk.is_disk_full(exc):  # its output can be neither stored nor followed: stop it, say why
                self._stop_quietly(job, executor)
                raise
            log.exception("job %s: internal error", job.id, extra={"source": "jobs", "username": job.owner,
                                                                  "job_id": job.id})
            self._end(conn, job, JobState.FAILED, None, f"internal error: {exc}")
        finally:
            executor.close()
        return True

    def _recover_lost_search(self, conn: sqlite3.Connection, job: Job, command: str) -> Job | None:
        """Use the _data.json of an earlier attempt whose search finished before its worker was lost.

        Returns the job to run (now an inference from that file, for a whole run), or None when it was
        a data stage: it is done and the job waits for a GPU.
        """
        if job.phase not in (DATA, BOTH) or job.data_json:
            return job
        data = stages.finished_data_of_lost_attempt(conn, self.settings.jobs_dir, job)
        if data is None:
            return job
        if job.phase == DATA:
            self._store_msas(conn, job, command, data)
            stages.finish_data_stage(conn, job, str(data), 0.0, recovered_from=data.parent.parent.name)
            return None
        stages.record_data_json(conn, job, str(data))
        stages.set_phase(conn, job, INFERENCE)
        return dataclasses.replace(job, data_json=str(data), phase=INFERENCE)

    def _stage_input(self, conn: sqlite3.Connection, job: Job, original: Path, phase: str,
                     command: str) -> tuple[Path, str]:
        """Return the input this attempt runs on and its phase (issue 16).

        Inference runs on the saved `_data.json`; otherwise the job's input gets the text of the files
        it names (checked: only its own or shared ones, issue 22) and the cached MSAs of its chains
        injected (written next to it), so AF3 reads no path a user wrote and skips cached searches.
        Trouble with the cache never fails the job: it runs on its own input and searches.

        Raises:
            InputFileRefused: the input names a file that is not the job's.
        """
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
                                                 msa_cache.search_context(self.settings, command),
                                                 reuse=bool(job.msa_reuse))
        except (OSError, ValueError, sqlite3.Error):
            log.exception("job %s: the MSA cache could not be read; the job searches", job.id,
                          extra={"source": "jobs", "username": job.owner, "job_id": job.id})
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

    def _hand_back(self, conn: sqlite3.Connection, job: Job, exc: HostUnavailable) -> None:
        """Queue the job again and keep every worker off its host for a backoff period."""
        # The host rests first: no slot may claim onto it between the two writes.
        rest = jobs.mark_host_down(conn, exc.host, exc.reason)
        jobs.hand_back(conn, job, exc.reason, f"Could not reach {exc.host} ({exc.reason}); the job goes back to "
                                              "the queue and will start when a slot is free.")
        extra = {"source": "worker", "username": None, "job_id": job.id}
        if exc.config:  # waiting will not help: an admin must act, so say what to change
            log.error("host %s cannot be used: %s. To fix: %s. Its jobs go back to the queue meanwhile.",
                      exc.host, exc.reason, exc.fix, extra=extra)
        else:
            log.warning("host %s unreachable (%s): no jobs start there for %.0f s", exc.host, exc.reason,
                        max(0.0, rest.until - time.time()), extra=extra)

    def _follow(self, conn: sqlite3.Connection, job: Job, executor: Executor) -> tuple[str, int | None]:
        """Stream output into the log until the process ends, a cancel arrives or the lease is lost."""
        next_check = 0.0
        pending: list[str] = []
        while True:
            if self.disk_full.is_set():
                raise disk.DiskFull(str(self._disk_error)) from self._disk_error
            pending += executor.read_lines(defaults.OUTPUT_WAIT_SECONDS)
            pending = self._store(conn, job, pending)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + defaults.CANCEL_CHECK_SECONDS
                verdict = jobs.check_running(conn, job)
                detachable = getattr(executor, "detachable", False)
                if not verdict and self.stopping.is_set() and (self.shutdown == "requeue" or detachable):
                    verdict = "requeue"
                if verdict in ("lost", "requeue") and detachable:
                    # A Slurm job runs on without its worker (whatever the shutdown mode: it may run for
                    # hours); the next worker serving the host re-attaches to it by its recorded id.
                    return "detach", None
                if verdict:
                    executor.cancel(0 if verdict == "lost" else defaults.CANCEL_GRACE_SECONDS)
                    self._drain(conn, job, executor, pending)
                    return verdict, executor.poll()
            code = executor.poll()
            if code is not None:
                self._drain(conn, job, executor, pending)
                return "", code

    def _store(self, conn: sqlite3.Connection, job: Job, lines: list[str]) -> list[str]:
        """Append lines to the job's log; on a busy database keep them and return them for the next try.

        Lines of an attempt that lost the job are dropped (see `_append`).
        """
        if not lines:
            return lines
        try:
            self._append(conn, job, lines)
        except sqlite3.OperationalError as exc:
            if disk.is_disk_full(exc):  # keeping them would only wait for the lease to run out
                raise
            log.warning("job %s: log write failed; %s lines kept for the next try", job.id, len(lines),
                        extra={"source": "jobs", "username": job.owner, "job_id": job.id})
            return lines
        return []

    def _drain(self, conn: sqlite3.Connection, job: Job, executor: Executor, pending: list[str]) -> None:
        """Write the lines still held back, then everything the process wrote until its end."""
        if pending:
            self._append(conn, job, pending)
        while lines := executor.read_lines(0):
            self._append(conn, job, lines)

    def _append(self, conn: sqlite3.Connection, job: Job, lines: list[str]) -> None:
        """Write the attempt's lines, or drop them if it no longer owns the job (checked in the same transaction)."""
        if joblog.append_attempt_lines(conn, job.id, job.worker_id, job.attempts, lines) is None:
            log.info("job %s: %s output lines of attempt %s dropped: the attempt no longer owns the job", job.id,
                     len(lines), job.attempts, extra={"source": "jobs", "username": job.owner, "job_id": job.id})

    def _conclude(self, conn: sqlite3.Connection, job: Job, executor: Executor, spec: RunSpec, verdict: str,
                  code: int | None) -> None:
        if verdict in ("lost", "detach"):
            return  # another worker owns the job now (or will re-attach to it in Slurm); record nothing
        self._record_split_data(conn, job, executor, spec)
        if verdict == "cancel":
            return self._end(conn, job, JobState.CANCELLED, code, None)
        if verdict == "requeue":
            return self._end(conn, job, JobState.QUEUED, code, None)
        outcome = getattr(executor, "outcome", None)  # Slurm end states an exit status cannot say
        if outcome is not None:
            kind, message = outcome
            if kind == "requeue":
                return self._end(conn, job, JobState.QUEUED, code, None, message)
            if kind == "cancelled":
                return self._end(conn, job, JobState.CANCELLED, code, message, f"Job cancelled: {message}.")
            return self._end(conn, job, JobState.FAILED, code, message)
        if code != 0:
            summary = joblog.error_summary(conn, job.id)
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
            return self._end(conn, job, JobState.FAILED, code, summary or f"AlphaFold {how}")
        executor.collect()
        data = find_data_json(spec.output_dir)
        if spec.stage == DATA:
            if data is None:
                return self._end(conn, job, JobState.FAILED, code, "the data pipeline wrote no _data.json")
            self._store_msas(conn, job, spec.command, data)
            if not stages.finish_data_stage(conn, job, str(data), time.time() - (job.started_at or time.time())):
                log.info("job %s: data pipeline done, but the attempt no longer owns the job", job.id)
            return None
        problem = check_outputs(spec.output_dir, json.loads(spec.input_path.read_text()), spec.command)
        if spec.stage == BOTH and data is not None:
            self._store_msas(conn, job, spec.command, data)
        self._end(conn, job, JobState.FAILED if problem else JobState.SUCCEEDED, code, problem or None)
        if not problem:
            self._warm_results(job, spec.output_dir)

    def _disk_filled(self, exc: BaseException) -> None:
        """Free the reserve, stop claiming and the running jobs, and tell the admin once: a write found no space."""
        with self._disk_lock:
            if self.disk_full.is_set():
                return
            self._disk_error = exc
            self.disk_full.set()
            freed = self.reserve.release()
        # Logged after the release: the application log lives in the same full database.
        log.error("Disk full under %s (%s): worker %s fails its running jobs and starts no new ones until %s MiB "
                  "are free there again%s.", self.settings.data_dir, exc, self.id, 2 * disk.reserve_bytes() >> 20,
                  "" if freed else " (it had no reserve to free: the failures may not be recorded)",
                  extra={"source": "worker", "username": None, "job_id": None})

    def _space_back(self) -> bool:
        """Make the reserve again if there is room; True (and claiming resumes) if there is."""
        with self._disk_lock:
            if not self.disk_full.is_set():
                return True
            if not self.reserve.ensure():
                return False
            self.disk_full.clear()
        log.info("disk space is back under %s: worker %s claims jobs again", self.settings.data_dir, self.id,
                 extra={"source": "worker", "username": None, "job_id": None})
        return True

    def _fail_for_full_disk(self, conn: sqlite3.Connection, job: Job, exc: BaseException) -> bool:
        """Fail the job because the disk is full; False if even that could not be written."""
        self._disk_filled(exc)
        cause = self._disk_error or exc
        try:
            if conn.in_transaction:  # a COMMIT that failed for space may leave its transaction open
                conn.rollback()
            self._end(conn, job, JobState.FAILED, None, f"The disk is full: the job's log and results could not "
                                                        f"be written ({cause}). Retry it once space is freed.")
        except sqlite3.Error:
            log.exception("job %s: its failure for a full disk could not be recorded", job.id,
                          extra={"source": "jobs", "username": job.owner, "job_id": job.id})
            return False
        return True

    def _stop_quietly(self, job: Job, executor: Executor) -> None:
        """Kill the attempt's process now; a failure to is logged (the full disk is what gets reported)."""
        try:
            executor.cancel(0)
        except Exception:
            log.exception("job %s: could not stop its process", job.id,
                          extra={"source": "jobs", "username": job.owner, "job_id": job.id})

    def _warm_results(self, job: Job, output_dir: Path) -> None:
        """Parse the best sample's PAE for the job page in the background (a 5,000-token one takes seconds)."""
        def warm() -> None:
            try:
                results.best_confidences(output_dir, cache_dir=self.settings.data_dir / defaults.RESULTS_CACHE_DIR)
            except Exception:  # a page visit parses it then; never let this end the worker
                log.exception("job %s: results not pre-parsed", job.id,
                              extra={"source": "jobs", "username": job.owner, "job_id": job.id})

        thread = threading.Thread(target=warm, name=f"job-{job.id}-results", daemon=True)
        thread.start()
        self.warming = [t for t in self.warming if t.is_alive()] + [thread]

    def _record_split_data(self, conn: sqlite3.Connection, job: Job, executor: Executor, spec: RunSpec) -> None:
        """Keep the _data.json of an executor that ran the two stages itself (Slurm, two linked jobs).

        A retry after an inference failure then starts from it, and its chains go into the cache.
        """
        data = getattr(executor, "data_json", None)
        if spec.stage != BOTH or not data or not Path(data).is_file():
            return
        stages.record_data_json(conn, job, str(data))
        self._store_msas(conn, job, spec.command, Path(data))

    def _store_msas(self, conn: sqlite3.Connection, job: Job, command: str, data: Path) -> None:
        """Put the chains this run searched into the MSA cache; trouble there is logged, never fails the job."""
        if not msa_cache.enabled(self.settings):
            return
        try:
            original = json.loads(jobs.input_file(self.settings, job).read_text())
            msa_cache.store(conn, self.settings, job.owner_id, job.id, original, json.loads(data.read_text()),
                            msa_cache.search_context(self.settings, command))
        except (OSError, ValueError, sqlite3.Error):
            log.exception("job %s: its MSAs could not be cached", job.id,
                          extra={"source": "jobs", "username": job.owner, "job_id": job.id})

    def _end(self, conn: sqlite3.Connection, job: Job, state: JobState, code: int | None, error: str | None,
             text: str = "") -> None:
        text = text or {JobState.SUCCEEDED: "Job succeeded.", JobState.CANCELLED: "Job cancelled.",
                JobState.QUEUED: "Worker shutting down; job handed back to the queue.",
                JobState.FAILED: f"Job failed: {error}"}[state]
        level = {JobState.SUCCEEDED: "success", JobState.FAILED: "error"}.get(state, "info")
        jobs.finish_attempt(conn, job, state, exit_code=code, error=error,
                            log_lines=[(joblog.Stream.SYSTEM.value, text, level)])


def main(argv: list[str] | None = None) -> int:
    from services.platform.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m services.running.worker", description="Run FoldDeck jobs.")
    parser.add_argument("--once", action="store_true", help="run one queued job (if any) and exit")
    parser.add_argument("--concurrency", type=int, help="slot threads (default: total slots of the hosts)")
    parser.add_argument("--hosts", help="comma-separated host names to run jobs on (default: all)")
    args = parser.parse_args(argv)
    settings = load_settings()
    db.migrate(settings.db_path)
    _configure_logging(settings)
    try:
        hosts = load_hosts(settings)  # a bad hosts file stops the worker here, naming the key
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.hosts:
        wanted = {n.strip() for n in args.hosts.split(",")}
        hosts = [h for h in hosts if h.name in wanted]
    worker = Worker(settings, hosts=hosts, concurrency=args.concurrency)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    print(f"FoldDeck worker {worker.id} started (pid {os.getpid()}; hosts: "
          f"{', '.join(f'{h.name}={h.slots}' for h in worker.hosts) or 'none'}; data dir {settings.data_dir})",
          flush=True)
    worker.run(once=args.once)
    applog.flush()
    return 0


def _configure_logging(settings: Settings) -> None:
    """Log to stderr and, like the web app, to the application log (job starts, finishes, worker stop)."""
    root = logging.getLogger("folddeck")
    root.setLevel(settings.log_level)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    applog.install(settings)


if __name__ == "__main__":
    sys.exit(main())
