"""The job worker: claims queued jobs for free host slots and runs them with an executor.

    python -m services.running.worker [--once] [--concurrency N] [--hosts local,gpu1]

One thread per slot claims jobs and runs each as an `Attempt` (`services.running.attempt`); one
thread renews the leases. On SIGTERM the worker stops claiming and, by FOLDDECK_WORKER_SHUTDOWN,
waits for its running jobs (`wait`) or stops them and hands them back to the queue (`requeue`).

When a write fails because the disk is full, the worker's `DiskGuard` (`services.running.disk_guard`)
frees the reserve, the running jobs fail with the reason, and the worker claims nothing until the
reserve can be made again.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sqlite3
import sys
import threading

from services import jobs
from services.hosts import Host, load_hosts
from services.jobs import Job, JobState
from services.jobs.claim.stages import DATA
from services.platform import applog, db, defaults, disk
from services.platform.errors import SettingsError
from services.platform.settings import Settings
from services.running import batching
from services.running.attempt import Attempt, fail_for_full_disk
from services.running.disk_guard import DiskGuard
from services.running.executors import cleanup

log = logging.getLogger("folddeck.worker")


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
        self.guard = DiskGuard(settings.data_dir, self.id)
        self.disk_full = self.guard.full  # set from a write that failed for space until the reserve is back

    def _conn(self) -> sqlite3.Connection:
        return db.connect(self.settings.db_path)

    def stop(self) -> None:
        """Stop claiming; running jobs finish or are handed back, by the shutdown setting."""
        self.stopping.set()

    def run(self, once: bool = False) -> int:
        """Run until stopped (or, with once, until one job ran); return the number of jobs run."""
        conn = self._conn()
        self.guard.make_reserve()
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
                    self.guard.filled(exc)
                else:
                    log.exception("heartbeat failed")
            # Keep beating while the slot threads wind down (wait mode runs jobs to the end).
            if self.stopping.wait(every) and not any(t.is_alive() for t in self._slots):
                return

    def _slot(self, once: bool) -> None:
        conn = self._conn()
        try:
            while not self.stopping.is_set():
                if self.disk_full.is_set() and not self.guard.space_back():
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
                        self.guard.filled(exc)
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
            if disk.is_disk_full(exc) and fail_for_full_disk(conn, job, self.guard, exc):
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
        if not reattach and (members := batching.companions(conn, self.settings, host, job)):
            return self._run_batch(conn, host, [job, *members])
        attempt = Attempt(conn, job, host, self.settings, guard=self.guard, stopping=self.stopping,
                          shutdown=self.shutdown)
        try:
            return attempt.run(reattach=reattach)
        finally:
            if attempt.warming is not None:
                with self._active_lock:
                    self.warming = [t for t in self.warming if t.is_alive()] + [attempt.warming]


    def _run_batch(self, conn: sqlite3.Connection, host: Host, members: list[Job]) -> bool:
        """Fold `members` (the lead first) in one AF3 process; the heartbeat renews every member's lease."""
        with self._active_lock:
            self._active.update(j.id for j in members[1:])
        try:
            return batching.BatchRun(conn, self.settings, host, members, self.stopping).run()
        finally:
            with self._active_lock:
                self._active.difference_update(j.id for j in members[1:])


def main(argv: list[str] | None = None) -> int:
    from services.platform import boot

    parser = argparse.ArgumentParser(prog="python -m services.running.worker", description="Run FoldDeck jobs.")
    parser.add_argument("--once", action="store_true", help="run one queued job (if any) and exit")
    parser.add_argument("--concurrency", type=int, help="slot threads (default: total slots of the hosts)")
    parser.add_argument("--hosts", help="comma-separated host names to run jobs on (default: all)")
    args = parser.parse_args(argv)
    try:
        settings = boot.boot("worker")
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


if __name__ == "__main__":
    sys.exit(main())
