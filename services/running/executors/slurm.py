"""Run attempts through a Slurm cluster's own scheduler: sbatch, one squeue per tick, sacct, scancel.

Each attempt gets a folder on storage the compute nodes share (`<work_dir>/<install tag>/<job>/
attempt-<n>/`) holding its input, a generated batch script, Slurm's output file and, when the
command ends, an `exit_code` marker written by the script itself. The worker follows the output
file by byte offset into the log store, exactly like a local process's stdout.

Tracking scales with the cluster, not the jobs: every executor of a cluster in this process asks
one shared `Cluster` (services.running.executors.slurm_cluster), which runs ONE `squeue` per tick for all
of FoldDeck's jobs (by job-name prefix), and one `sacct` per tick for all those that left the queue.
When accounting is off (`sacct` fails), `sacct -c` (the job completion log) and then the exit
marker are used.

Two jobs per attempt (issue 16): on a host with `cpu_partition`, a whole run is the data-pipeline
job there (no GRES, `--norun_inference`, output in `data/`), then the inference job in `partition`
(`--norun_data_pipeline` on the `_data.json` the first writes, output in `output/`) that waits for
it with `--dependency=afterok` and `--kill-on-invalid-dep=yes`. Both append to the same output
file, so the log holds the stages in order. The attempt's row keeps the data job's id; the
inference job is named after it (`<name>.after<data id>`, so tracking knows it as ours) and its id
is kept in `inference.slurm_id` in the attempt folder for a worker that re-attaches.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from services import jobs
from services.hosts import Host
from services.jobs.model import load_job
from services.jobs.slurm import append_script
from services.people import cluster_identity
from services.platform import db, defaults
from services.platform.settings import Settings
from services.running.executors import remote_files
from services.running.executors.base import (
    Executor,
    ExecutorError,
    HostUnavailable,
    LineSplitter,
    RunSpec,
    render_command,
)
from services.running.executors.slurm_access import Access, ConnectionLost
from services.running.executors.slurm_cluster import (
    REQUEUE_STATES,
    UNREACHABLE_ERRORS,
    Cluster,
    Final,
    Queued,
    cluster,
    dependent_name,
    job_name,
)
from services.running.executors.slurm_script import (
    AUTO,
    DEPENDENT_ID,
    STAGE_LABELS,
    Part,
    batch_script,
    data_json_path,
    plan,
)

log = logging.getLogger("folddeck.slurm")
WAITING = ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD")  # states in which a job writes no output


class SlurmExecutor(Executor):
    """Hands one attempt to Slurm (one job, or two on a `cpu_partition` host) and follows it; survives its worker."""

    kind = "slurm"
    detachable = True  # a worker that stops or loses the lease leaves the Slurm job running for the next one

    def __init__(self, host: Host, settings: Settings, shared: Cluster | None = None):
        self.host, self.settings = host, settings
        self.cluster = shared or cluster(host, settings)
        self.slurm_id: int | None = None  # the attempt's recorded id: its first (or only) Slurm job
        self.spec: RunSpec | None = None
        self.run_dir = ""
        self.offset = 0
        self.since = 0.0
        self.splitter = LineSplitter()
        self.parts: list[Part] = []
        self.current = 0  # index in `parts` of the job followed now
        self.final: Final | None = None  # how the followed job ended
        self.outcome: tuple[str, str] | None = None  # ("failed" | "requeue" | "cancelled", message)
        # The data pipeline's <name>_data.json on the shared work dir, set as soon as a data-pipeline job (of a
        # two-job attempt, or a stage "data" one) is seen COMPLETED with exit 0 and the file exists: by `poll`,
        # before it follows the inference job, or by `attach` when that job had already ended so.
        self.data_json: str | None = None
        self.cancelled = False
        self._last_fact: tuple = ()
        self.person: cluster_identity.ClusterIdentity | None = None
        self.engine = "af3"  # the job's engine (issue 29): another one runs as one job, its files named its way
        self.access: Access = self.cluster.service  # the person's way in (their own user where the host says so)
        self.poll_s = defaults.SLURM_OUTPUT_POLL_S if self.cluster.shared else defaults.SLURM_REMOTE_OUTPUT_POLL_S

    def _conn(self):
        return db.connect(self.settings.db_path)

    @property
    def phase(self) -> str:
        """Return what the followed Slurm job runs: "data", "inference", or "" (both stages)."""
        return self.parts[self.current].stage if self.parts else ""

    # -- start or re-attach -------------------------------------------------------------------------

    def _as_person(self, spec: RunSpec) -> None:
        """Find the job's engine and who it belongs to on the cluster: their account, their own user where so set."""
        conn = self._conn()
        job = load_job(conn, spec.job_id)
        self.person, self.engine = cluster_identity.get(conn, job.owner_id), job.engine  # the row's: a re-attach too
        self.access = self.cluster.access(self.person)

    def start(self, spec: RunSpec) -> None:
        self.spec = spec
        self._as_person(spec)
        name = job_name(self.cluster.tag, spec.job_id, spec.attempt)
        self.run_dir = f"{self._work_dir()}/{self.cluster.tag}/{spec.job_id}/attempt-{spec.attempt}"
        two = bool(self.host.slurm and self.host.slurm.two_jobs) and spec.stage == "" and self.engine == "af3"
        self.parts = plan(self.host, spec.stage, self.run_dir, two)
        try:
            for folder in [part.output for part in self.parts] + remote_files.folders(self.run_dir, spec):
                self.access.makedirs(folder)
            for local, rel in remote_files.uploads(spec):  # an engine's input keeps its name, its MSAs beside it
                self.access.write(f"{self.run_dir}/{rel}", local.read_bytes())
        except ConnectionLost as exc:
            raise HostUnavailable(self.host.name, str(exc)) from None
        except OSError as exc:
            raise ExecutorError(f"cannot prepare {self.run_dir} on {self.host.name}'s work_dir: {exc}") from None
        if two:
            self._data_json_path()  # the inference job's input: an input AF3 cannot name fails before any sbatch
        first = self.parts[0]
        first.name = name
        script = self._write_script(first)
        if not jobs.record_submission(self._conn(), spec.job_id, spec.attempt, self.host.name, name, script,
                                      self.run_dir):
            raise ExecutorError(f"attempt {spec.attempt} was already handed to Slurm; not submitting it twice")
        self._sbatch(first)
        jobs.record_slurm_id(self._conn(), spec.job_id, spec.attempt, first.slurm_id)
        self.slurm_id, self.since = first.slurm_id, first.since
        self.remote_pid, self.remote_output = self.slurm_id, f"{self.run_dir}/output"
        self._log("Slurm job %s submitted on %s", self.slurm_id, self.host.name)
        if two:
            self._submit_dependent(self.parts[1], after=first.slurm_id)

    def _write_script(self, part: Part, after: int | None = None) -> str:
        """Render the part's command and batch script, save it in the run dir and return it."""
        spec = self.spec
        source = self._data_json_path() if len(self.parts) > 1 and part.stage == "inference" else \
            f"{self.run_dir}/{remote_files.input_name(spec)}"
        command = render_command(spec.command, source, part.output, spec.model_dir, spec.db_dir, part.stage)
        script = batch_script(self.host, part.name, self.run_dir, command, stage=part.stage, cpu=part.cpu,
                              marker=part.marker, after=after, af3=self._input(), person=self.person)
        try:
            self.access.write(f"{self.run_dir}/{part.script}", script.encode())
        except ConnectionLost as exc:
            raise HostUnavailable(self.host.name, str(exc)) from None
        except OSError as exc:
            raise ExecutorError(f"cannot write the batch script in {self.run_dir}: {exc}") from None
        return script

    def _work_dir(self) -> str:
        """Return the host's work_dir, per cluster user when jobs run as their people (each owns their folder)."""
        if self.access is self.cluster.service or self.person is None:
            return self.host.work_dir
        return f"{self.host.work_dir}/{self.person.cluster_user}"

    def _input(self) -> dict:
        """Return the attempt's input document ({} when unreadable: only an "auto" time limit reads it)."""
        try:
            return json.loads(Path(self.spec.input_path).read_text())
        except (OSError, ValueError):
            return {}

    def _data_json_path(self) -> str:
        return data_json_path(str(self.spec.input_path), self.parts[0].output)

    def _sbatch(self, part: Part) -> None:
        """Submit the part's script; HostUnavailable or ExecutorError (recorded on the attempt) if Slurm says no."""
        res = self.cluster.run("sbatch", "--parsable", f"{self.run_dir}/{part.script}", check=False,
                               access=self.access)
        if res.returncode != 0:
            error = (res.stderr or res.stdout).strip().removeprefix("sbatch: error: ")
            if any(s in error for s in UNREACHABLE_ERRORS):  # the controller is down: not the job's fault
                jobs.record_state(self._conn(), self.spec.job_id, self.spec.attempt, "NOT_SUBMITTED", error[:200])
                raise HostUnavailable(self.host.name, f"Slurm controller unreachable ({error[:200]})")
            jobs.record_state(self._conn(), self.spec.job_id, self.spec.attempt, "REFUSED", error[:200])
            what = f"{STAGE_LABELS[part.stage]} job" if part.stage else "job"
            raise ExecutorError(f"Slurm refused the {what}: {error[-500:]}")
        part.slurm_id = int(res.stdout.strip().split(";")[0])
        part.since = time.monotonic()

    def _submit_dependent(self, part: Part, after: int | None) -> None:
        """Submit the inference job (waiting for data job `after`); if Slurm refuses it, cancel the data job."""
        data = self.parts[0]
        part.name = dependent_name(data.name, data.slurm_id)
        try:
            script = self._write_script(part, after)
            self._sbatch(part)
        except ExecutorError:  # HostUnavailable too: half an attempt must not run
            self._scancel(str(data.slurm_id))
            raise
        try:
            self.access.write(f"{self.run_dir}/{DEPENDENT_ID}", f"{part.slurm_id}\n".encode())
        except OSError:  # a re-attaching worker finds the job by its name instead
            pass
        append_script(self._conn(), self.spec.job_id, self.spec.attempt,
                      f"\n# Then, once Slurm job {data.slurm_id} succeeded:\n{script}")
        self._log("Slurm job %s (inference) submitted on %s after job %s", part.slurm_id, self.host.name,
                  data.slurm_id)

    def _scancel(self, *args: str) -> None:
        """scancel, best effort: an unreachable controller must not hide the error being reported."""
        try:
            self.cluster.run("scancel", *args, check=False, access=self.access)
        except ExecutorError:
            pass

    def _log(self, msg: str, *args) -> None:
        log.info(f"job %s attempt %s: {msg}", self.spec.job_id, self.spec.attempt, *args,
                 extra={"source": "worker", "username": None, "job_id": self.spec.job_id})

    def attach(self, spec: RunSpec) -> bool:
        """Follow an attempt already in Slurm (a restarted worker); False if it never reached Slurm."""
        self.spec = spec
        row = jobs.slurm_attempt(self._conn(), spec.job_id, spec.attempt)
        if row is None:
            return False
        self._as_person(spec)
        self.run_dir, self.offset = row.run_dir, row.log_offset
        try:
            two = self.access.exists(f"{self.run_dir}/data.sbatch")
        except OSError:  # the login node is away: the host's config says what was submitted (never hand back)
            two = bool(self.host.slurm and self.host.slurm.two_jobs) and spec.stage == "" and self.engine == "af3"
        self.parts = plan(self.host, spec.stage, self.run_dir, two)
        first = self.parts[0]
        first.name, first.slurm_id = row.name, row.slurm_id
        if first.slurm_id is None:  # the worker died between sbatch and recording the id: find it by name
            first.slurm_id = next((sid for sid, q in self.cluster.refresh().items() if q.name == row.name), None)
            if first.slurm_id is None:
                return False
            jobs.record_slurm_id(self._conn(), spec.job_id, spec.attempt, first.slurm_id)
        self.slurm_id, self.since = first.slurm_id, float("-inf")
        self.remote_pid, self.remote_output = self.slurm_id, f"{self.run_dir}/output"
        if len(self.parts) > 1:
            self._reattach_dependent(row.submitted_at)
        return True

    def _reattach_dependent(self, submitted_at: float) -> None:
        """Find a two-job attempt's inference job again; follow it at once if the data job already succeeded."""
        data, part = self.parts
        part.name = dependent_name(data.name, data.slurm_id)
        try:
            part.slurm_id = int((self.access.read_text(f"{self.run_dir}/{DEPENDENT_ID}") or "").strip())
        except (OSError, ValueError):  # the worker died between its sbatch and writing the id down
            part.slurm_id = self.cluster.find(part.name, submitted_at)
        if self._marker_code(data) == 0 and self._data_done(data):
            self._advance()

    # -- following ----------------------------------------------------------------------------------

    def _read(self) -> list[str]:
        if not self.cluster.shared and self._last_fact and self._last_fact[0] in WAITING:
            return []  # no output before the job runs: 200 pending jobs cost no SFTP reads
        try:
            data = self.access.read_at(f"{self.run_dir}/slurm.out", self.offset, 4 * 1024 * 1024)
        except OSError:  # the login node is away (or the file unreadable for now): the next read tries again
            return []
        if not data:
            return []
        self.offset += len(data)
        lines = self.splitter.feed(data)
        jobs.record_offset(self._conn(), self.spec.job_id, self.spec.attempt, self.offset)
        return lines

    def read_lines(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self._read()
            if not lines and self.final is not None and self._output_done():
                return self.splitter.flush()  # the job ended: its last line may lack a newline
            if lines or time.monotonic() >= deadline:
                return lines
            time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))

    def _output_done(self) -> bool:
        """True when every byte of the output file was read (no file: nothing to read)."""
        try:
            size = self.access.size(f"{self.run_dir}/slurm.out")
        except OSError:  # cannot tell while the login node is away: not done, so no output is lost
            return False
        return size is None or size <= self.offset

    def poll(self) -> int | None:
        part = self.parts[self.current]
        if self.final is None:
            got = self.cluster.status(part.slurm_id, part.since) if part.slurm_id is not None else None
            if isinstance(got, Queued):
                if not self.cancelled:  # squeue lags our scancel: "running" would be stale
                    self._note(got.state, got.reason, got.node, got.time_limit)
                return None
            got = got or self._marker_final(part)
            if got is None:
                return None
            self.final = got
            if part.stage == "data" and self._data_ended(part, got):
                return None  # the inference job is followed now (its state replaces this one's on the page)
            self._note(got.state, "", "")
        if not self._output_done() or self.splitter.buf or self.splitter.dropping:
            return None  # read_lines hands out the rest first
        return self._conclude(self.final, part)

    def _data_ended(self, part: Part, final: Final) -> bool:
        """Handle the data-pipeline job's end; True when the attempt goes on with its inference job."""
        ok = final.state == "COMPLETED" and not final.exit_code
        if ok and not self._data_done(part):
            self.final, ok = Final("FAILED", 1), False
        if self.current + 1 >= len(self.parts):
            return False
        if not ok:  # the data job's failure is the attempt's; Slurm drops the dependent too, this makes sure
            nxt = self.parts[self.current + 1]
            if nxt.slurm_id is not None:
                self._scancel(str(nxt.slurm_id))
            return False
        self._advance()
        return True

    def _data_done(self, part: Part) -> bool:
        """Set `data_json` to the data pipeline's output; False (with the failure as outcome) when it is missing."""
        try:
            path = data_json_path(str(self.spec.input_path), part.output)
        except ExecutorError as exc:
            self.outcome = ("failed", f"the data pipeline finished but {exc}")
            return False
        try:
            there = self.access.exists(path)
        except OSError:
            there = False
        if not there:
            self.outcome = ("failed", f"the data pipeline (Slurm job {part.slurm_id}) finished without writing {path}")
            return False
        self.data_json = path
        return True

    def _advance(self) -> None:
        """Follow the inference job from now on (submitting it if the attempt's first worker died before it could)."""
        self.current += 1
        self.final, self._last_fact = None, ()
        part = self.parts[self.current]
        if part.slurm_id is None and self._marker_code(part) is None:
            self._submit_dependent(part, after=None)  # the data job succeeded: nothing left to wait for

    def _marker_code(self, part: Part) -> int | None:
        """Return the exit status the part's script wrote, or None if it has not (yet)."""
        try:
            return int((self.access.read_text(f"{self.run_dir}/{part.marker}") or "").strip())
        except (OSError, ValueError):
            return None

    def _marker_final(self, part: Part) -> Final | None:
        """Without an accounting record: the script's exit marker, or give up after SLURM_FINAL_WAIT_S."""
        gone = self.cluster.gone_for(part.slurm_id) if part.slurm_id is not None else defaults.SLURM_FINAL_WAIT_S
        if gone <= 0:
            return None
        code = self._marker_code(part)
        if code is not None:
            return Final("COMPLETED" if code == 0 else "FAILED", code)
        if gone >= defaults.SLURM_FINAL_WAIT_S:
            return Final("UNKNOWN", None)
        return None

    def _note(self, state: str, reason: str, node: str, time_limit: str | None = None) -> None:
        fact = (state, reason, node, time_limit)
        if fact != self._last_fact:
            self._last_fact = fact
            jobs.record_state(self._conn(), self.spec.job_id, self.spec.attempt, state, reason, node,
                              time_limit or None)

    def _conclude(self, final: Final, part: Part | None = None) -> int:
        """Turn Slurm's end state into an exit status, with `outcome` for states the status cannot say."""
        sid, state = (part.slurm_id if part else self.slurm_id), final.state
        cpu = bool(part and part.cpu)
        job = f"data-pipeline job {sid}" if cpu else f"job {sid}"
        limit_key, mem_key = ("cpu_time_limit", "cpu_mem") if cpu else ("time_limit", "mem")
        code = final.exit_code if final.exit_code is not None else 1
        row = jobs.slurm_attempt(self._conn(), self.spec.job_id, self.spec.attempt)
        cfg = self.host.slurm
        limit = (row.time_limit if row and row.time_limit else "") or (getattr(cfg, limit_key) if cfg else "")
        limit = "the one sized from the job (\"auto\")" if limit == AUTO else limit
        if state == "COMPLETED":
            return final.exit_code or 0
        if state == "TIMEOUT":
            self.outcome = ("failed", f"Slurm stopped {job}: it hit the time limit of {limit or 'the partition'}"
                                      f" — ask for more ({limit_key} of host {self.host.name})")
        elif state == "OUT_OF_MEMORY":
            mem = getattr(cfg, mem_key) if cfg and getattr(cfg, mem_key) else "the default"
            self.outcome = ("failed", f"Slurm stopped {job}: it ran out of memory ({mem} asked for) — ask for "
                                      f"more ({mem_key} of host {self.host.name})")
        elif state in REQUEUE_STATES:
            self.outcome = ("requeue", f"Slurm job {sid} ended {state}: {REQUEUE_STATES[state]}. The job goes back "
                                       "to the queue as a new attempt.")
        elif state == "CANCELLED" and not self.cancelled:
            by = f" (user id {final.by})" if final.by else ""
            self.outcome = ("cancelled", f"Slurm job {sid} was cancelled outside FoldDeck{by}")
        elif state == "UNKNOWN":
            self.outcome = ("failed", f"Slurm job {sid} left the queue and neither sacct nor its exit marker says "
                                      "how it ended")
        elif state not in ("FAILED", "CANCELLED"):
            self.outcome = ("failed", f"Slurm job {sid} ended {state}")
        return code if code else 1

    def cancel(self, grace: float = defaults.CANCEL_GRACE_SECONDS) -> None:
        """scancel the attempt's jobs (Slurm sends SIGTERM, then SIGKILL after its KillWait)."""
        self.cancelled = True
        ids = [str(p.slurm_id) for p in self.parts if p.slurm_id is not None] or \
            ([str(self.slurm_id)] if self.slurm_id is not None else [])
        if ids:
            self._scancel_retrying(*ids)
            if self.final is None:  # the page must not go on saying "running in Slurm" for a cancelled job
                self._note("CANCELLED", "cancelled from FoldDeck", "")
        if len(self.parts) > 1 and self.parts[1].slurm_id is None and self.parts[0].slurm_id is not None:
            # submitted by a worker that died before writing its id down
            self._scancel_retrying(f"--name={dependent_name(self.parts[0].name, self.parts[0].slurm_id)}")

    def _scancel_retrying(self, *args: str) -> None:
        """scancel, waiting out a short outage of the login node; ExecutorError when it stays away."""
        deadline = time.monotonic() + defaults.SLURM_COMMAND_TIMEOUT_S
        while True:
            try:
                self.cluster.run("scancel", *args, check=False, access=self.access)
                return
            except HostUnavailable as exc:
                if time.monotonic() >= deadline:
                    raise ExecutorError(f"could not cancel Slurm job {' '.join(args)} on {self.host.name} "
                                        f"({exc.reason}): cancel it there with scancel") from None
                time.sleep(defaults.SLURM_TICK_S)

    def collect(self) -> None:
        """Copy the results to the job's folder: from the shared work dir, or over SFTP from the cluster's."""
        src = f"{self.run_dir}/output"
        try:
            self.access.fetch(src, Path(self.spec.output_dir), remote_files.fetch_suffixes(self.engine))
        except OSError as exc:
            raise ExecutorError(f"cannot copy the results from {src} on {self.host.name}: {exc}") from None

    def close(self) -> None:
        """Drop the ended jobs' states from the shared tracking (a detached attempt's live job stays)."""
        for part in self.parts[:self.current + (self.final is not None)]:
            if part.slurm_id is not None:
                self.cluster.forget(part.slurm_id)
