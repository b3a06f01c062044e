"""Batched inference (issue 26): several inference-ready jobs of one bucket folded by one AF3 process.

`run_alphafold.py --input_dir` folds every input in the folder in one process: the model starts and its
weights load once, and each bucket compiles once. The worker claims the lead job as usual, the queue adds
companions (services.jobs.claim.batches), and a `BatchRun` runs them together: each job keeps its own attempt,
its own output folder (`attempt-N/<name>/`, moved there when AF3 says the job is done), its own log (the
stream is split at AF3's per-job lines "Running fold job NAME..." and "Fold job NAME done, output written
to PATH") and its own state. A failure fails the job being folded and requeues those not yet started;
cancelling one member stops the process, cancels that member and requeues the unfinished others.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from services import jobs
from services.hosts import Host
from services.jobs import Job, JobState, joblog
from services.jobs.claim import batches
from services.jobs.claim.stages import INFERENCE
from services.platform import defaults
from services.platform.settings import Settings
from services.running.attempt import Attempt, end_attempt, tracker_for
from services.running.compile_cache import with_compile_cache
from services.running.executors import ExecutorError, RunSpec, make_executor
from services.running.outputs import check_outputs

log = logging.getLogger("folddeck.worker")
_START = re.compile(r"^Running fold job (.+)\.\.\.$")
_DONE = re.compile(r"^Fold job (.+) done, output written to (.+)$")
_JSON_PATH = re.compile(r"--json_path(=|\s+)\{input\}")


def batch_command(template: str) -> str | None:
    """Return the AF3 command template that folds a folder (`--input_dir`), or None when it takes no --json_path."""
    if not _JSON_PATH.search(template):
        return None
    return _JSON_PATH.sub(lambda m: f"--input_dir{m[1]}{{input}}", template, count=1)


def companions(conn: sqlite3.Connection, settings: Settings, host: Host, lead: Job) -> list[Job]:
    """Claim the jobs that fold beside `lead` in one process on `host` (none: `lead` runs alone).

    Only on the local host for now (SSH and Slurm hosts run one job per process), with a batch size
    above 1 and an AF3 command that takes --json_path (so --input_dir can replace it).
    """
    if (host.batch_size <= 1 or not host.is_local or lead.phase != "inference"
            or batch_command(host.af3_command or settings.af3_command) is None):
        return []
    return batches.claim_companions(conn, settings, lead, host, host.batch_size, settings.batch_mixed_users)


class BatchRun:
    """One AF3 process for `members` (the lead first), all claimed by this worker on `host`."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings, host: Host, members: list[Job],
                 stopping: threading.Event):
        self.conn, self.settings, self.host, self.stopping = conn, settings, host, stopping
        template = with_compile_cache(host.af3_command or settings.af3_command, host, settings)
        self.command = batch_command(template) or ""
        self.members = members
        self.by_name: dict[str, Job] = {}
        self.done: set[int] = set()  # members whose attempt has ended
        self.current: Job | None = None
        self.inputs: dict[int, dict] = {}  # job id -> the input it was folded from

    def run(self) -> bool:
        """Run the batch to its end and record each member's outcome; always True (the slot was used)."""
        lead = self.members[0]
        folder = self.settings.jobs_dir / str(lead.id) / f"batch-{lead.attempts}"
        inputs, output = folder / "inputs", folder / "output"
        inputs.mkdir(parents=True, exist_ok=True)
        for k, job in enumerate(self.members):
            staged = self._stage(job)
            if staged is None:
                continue
            doc = json.loads(staged.read_text())
            self.by_name[doc.get("name") or ""] = job
            self.inputs[job.id] = doc
            (inputs / f"{k:03d}-job{job.id}.json").write_text(json.dumps(doc))
            self._say(job, f"Inference runs in one AlphaFold 3 process with {len(self.members) - 1} other job(s) of "
                           f"the same size (jobs {', '.join(str(m.id) for m in self.members)}): the model starts "
                           "and compiles once for all of them.")
        spec = RunSpec(lead.id, lead.attempts, inputs, output, self.command, self.settings.af3_model_dir,
                       self.settings.af3_db_dir, stage=INFERENCE)
        executor = make_executor(self.host, self.settings)
        try:
            executor.start(spec)
            for job in self._live():
                jobs.record_process(self.conn, job, pid=executor.pid, output_path=str(self._attempt_dir(job)))
            code = self._follow(executor)
        except ExecutorError as exc:
            for job in self._live():
                end_attempt(self.conn, job, JobState.FAILED, None, str(exc))
            return True
        finally:
            executor.close()
        self._conclude_rest(code)
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def _stage(self, job: Job) -> Path | None:
        """Start the member's attempt and return its inference input: its _data.json, or its input with the
        cached MSAs injected (as a lone attempt stages it). None: it left the batch (back to the queue)."""
        original = jobs.input_file(self.settings, job)
        if not jobs.start_attempt(self.conn, job, tracker_for(original, INFERENCE).to_json()):
            self.done.add(job.id)
            return None
        attempt = Attempt(self.conn, job, self.host, self.settings, guard=None, stopping=self.stopping,  # type: ignore[arg-type]
                          shutdown="requeue")
        try:
            path, phase = attempt._stage_input(original, INFERENCE)  # noqa: SLF001 (the one staging rule)
        except (OSError, ValueError) as exc:  # a refused file path is a ValueError too (InputFileRefused)
            end_attempt(self.conn, job, JobState.FAILED, None, f"cannot prepare the job's input: {exc}")
            self.done.add(job.id)
            return None
        if phase != INFERENCE:  # a cache entry went meanwhile: it must search first, alone
            end_attempt(self.conn, job, JobState.QUEUED, None, None, "Its cached MSAs are gone; the job goes back "
                                                                      "to the queue to search them again.")
            self.done.add(job.id)
            return None
        return path

    def _live(self) -> list[Job]:
        return [j for j in self.members if j.id not in self.done]

    def _attempt_dir(self, job: Job) -> Path:
        return self.settings.jobs_dir / str(job.id) / f"attempt-{job.attempts}"

    def _say(self, job: Job, text: str) -> None:
        joblog.append_attempt_lines(self.conn, job.id, job.worker_id, job.attempts, [(joblog.Stream.SYSTEM.value,
                                                                                     text)])

    def _route(self, lines: list[str]) -> None:
        """Append each line to the log of the member it belongs to; lines outside any job go to every member."""
        for line in lines:
            start, done = _START.match(line), _DONE.match(line)
            if start:
                self.current = self.by_name.get(start[1])
            targets = [self.current] if self.current is not None else self._live()
            for job in targets:
                if job.id not in self.done:
                    joblog.append_attempt_lines(self.conn, job.id, job.worker_id, job.attempts, [line])
            if done and self.current is not None:
                self._finish_member(self.current, Path(done[2].strip()))
                self.current = None

    def _finish_member(self, job: Job, folder: Path) -> None:
        """Move the member's folder into its attempt folder and record success, or what is missing."""
        target = self._attempt_dir(job)
        target.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            shutil.move(str(folder), str(target / folder.name))
        problem = check_outputs(target, self.inputs[job.id], self.command)
        end_attempt(self.conn, job, JobState.FAILED if problem else JobState.SUCCEEDED, 0 if not problem else None,
                    problem or None)
        self.done.add(job.id)

    def _follow(self, executor) -> int | None:  # noqa: ANN001 (an Executor)
        """Route output until the process ends; on a member's cancel or a lost lease, stop the process."""
        next_check = 0.0
        while True:
            self._route(executor.read_lines(defaults.OUTPUT_WAIT_SECONDS))
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + defaults.CANCEL_CHECK_SECONDS
                verdicts = {j.id: jobs.check_running(self.conn, j) for j in self._live()}
                if any(verdicts.values()) or self.stopping.is_set():
                    executor.cancel(defaults.CANCEL_GRACE_SECONDS)
                    self._route(executor.read_lines(0))
                    for job in self._live():
                        verdict = verdicts.get(job.id) or "requeue"
                        if verdict == "cancel":
                            end_attempt(self.conn, job, JobState.CANCELLED, None, None)
                        elif verdict != "lost":
                            end_attempt(self.conn, job, JobState.QUEUED, None, None, "Another job of this batch was "
                                        "cancelled (or the worker stops); this one goes back to the queue.")
                        self.done.add(job.id)
                    return executor.poll()
            code = executor.poll()
            if code is not None:
                self._route(executor.read_lines(0))
                return code

    def _conclude_rest(self, code: int | None) -> None:
        """After the process ended: fail the member it was folding, requeue the members it never reached."""
        failing = self.current
        for job in self._live():
            if failing is not None and job.id == failing.id:
                summary = joblog.error_summary(self.conn, job.id)
                end_attempt(self.conn, job, JobState.FAILED, code, summary or f"AlphaFold exited with status {code}")
            else:
                end_attempt(self.conn, job, JobState.QUEUED, code, None, "The batch's AlphaFold process ended before "
                            "this job was folded; it goes back to the queue.")
            self.done.add(job.id)

