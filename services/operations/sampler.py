"""The metrics sampler: one process (`python -m services.operations.sampler`, started by `make run`).

Every `sample_interval` seconds it collects the local host and, in parallel, every SSH host,
writes the latest snapshots to the shared store, appends raw history, rolls up and prunes the
tiers once a minute, and records running jobs' GPU use. A lock file keeps it to one process per
data dir; a tick that overruns skips the ticks it missed instead of piling them up.
"""
from __future__ import annotations

import argparse
import fcntl
import logging
import math
import os
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

from services.hosts import Host, load_hosts
from services.jobs.claim.backoff import HostEvent, host_event
from services.metrics import history
from services.metrics.collect_local import LocalCollector
from services.metrics.collect_ssh import Backoff, HostPoller, SshCollector
from services.metrics.jobgpu import JobGpuTracker
from services.metrics.model import HostSnapshot, down
from services.metrics.store import SnapshotStore, cache_dir
from services.platform import boot, db, defaults
from services.platform.errors import FoldDeckError, SettingsError
from services.platform.settings import Settings

log = logging.getLogger("folddeck.sampler")
events = logging.getLogger("folddeck.metrics")  # host up/down, for the application log
MAINTENANCE_EVERY_S = 60  # rollup + prune once a minute: the finest rollup bucket


@dataclass
class TickResult:
    ts: float
    wall_ms: float
    snaps: list[HostSnapshot] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)  # hosts sampled this tick (others: last state or down)


class Sampler:
    """Collects every configured host once per `tick()`."""

    def __init__(self, settings: Settings, hosts: list[Host] | None = None, store: SnapshotStore | None = None,
                 host_wait_s: float = defaults.SAMPLER_HOST_WAIT_S, backoff: Backoff | None = None):
        self.settings = settings
        self.host_wait_s = min(host_wait_s, settings.sample_interval / 2)
        self.backoff = backoff
        self.store = store or SnapshotStore(cache_dir(settings.data_dir))
        self.retention = history.Retention.from_settings(settings)
        self.jobs = JobGpuTracker()
        self.local: LocalCollector | None = None
        self.pollers: dict[str, HostPoller] = {}
        self._hosts_stamp: float | None = None
        self._last_maintenance = 0.0
        self._last_disk_measure = 0.0
        self._last_preflight = -math.inf
        self._preflight_running = threading.Event()
        self._up: dict[str, bool] = {}  # last known state per host, to log only transitions
        self._set_hosts(hosts if hosts is not None else self._load_hosts())
        self._fixed_hosts = hosts is not None

    def _load_hosts(self) -> list[Host]:
        """Return the hosts from settings, remembering the file's mtime to notice edits."""
        path = self.settings.hosts_path
        self._hosts_stamp = path.stat().st_mtime if path.exists() else None
        return load_hosts(self.settings)

    def _set_hosts(self, hosts: list[Host]) -> None:
        """Start pollers for new hosts, stop those removed or changed; keep the rest connected."""
        wanted = {h.name: h for h in hosts if not h.is_local and not h.is_slurm}  # Slurm: sinfo, not SSH
        for name, poller in list(self.pollers.items()):
            if wanted.get(name) != poller.collector.host:
                poller.stop()
                del self.pollers[name]
        for name, host in wanted.items():
            if name not in self.pollers:
                backoff = Backoff(self.backoff.min_s, self.backoff.max_s) if self.backoff else None
                self.pollers[name] = HostPoller(SshCollector(host, self.settings.known_hosts,
                                                             self.settings.disk_mounts, backoff=backoff))
        self.slurm_hosts = [h for h in hosts if h.is_slurm]
        local = next((h for h in hosts if h.is_local), None)
        if local and self.local is None:
            self.local = LocalCollector(local.name, self.settings.disk_mounts)
        elif not local:
            self.local = None

    def _reload_hosts_if_changed(self) -> None:
        """Pick up an edited hosts file without a restart; a broken file keeps the old list."""
        if self._fixed_hosts:
            return
        path = self.settings.hosts_path
        stamp = path.stat().st_mtime if path.exists() else None
        if stamp == self._hosts_stamp:
            return
        try:
            self._set_hosts(self._load_hosts())
        except SettingsError as exc:
            log.error("hosts file not reloaded: %s", exc)

    def tick(self, now: float | None = None) -> TickResult:
        """Collect every host, publish the snapshots and store history; return what was done."""
        t0 = time.perf_counter()
        self._reload_hosts_if_changed()
        since = {name: p.request() for name, p in self.pollers.items()}
        snaps = [self.local.collect()] if self.local else []
        deadline = time.monotonic() + self.host_wait_s
        ts = time.time() if now is None else now
        fresh = [s.host for s in snaps]
        for name, poller in self.pollers.items():
            got = poller.wait(since[name], max(0.0, deadline - time.monotonic()))
            snaps.append(poller.latest if got else self._laggard(poller, ts))
            if got:
                fresh.append(name)
        for snap in snaps:
            if snap.host in fresh:
                snap.ts = ts  # one timestamp per tick keeps every host's rows aligned
        conn = db.connect(self.settings.db_path)
        board = self._job_board(conn)
        if board is not None and self.slurm_hosts:
            board["clusters"] = self._clusters(conn)
        self.store.put(snaps, ts, board)
        self._log_transitions(conn, snaps)
        history.append(conn, [s for s in snaps if s.host in fresh])
        if ts - self._last_maintenance >= MAINTENANCE_EVERY_S:
            self._maintain(conn, ts)
        self._record_jobs(conn, snaps)
        return TickResult(ts=ts, wall_ms=(time.perf_counter() - t0) * 1000, snaps=snaps, fresh=fresh)

    def _log_transitions(self, conn: sqlite3.Connection, snaps: list[HostSnapshot]) -> None:
        """Record a host going down or coming back as a host event (the admins' toast comes from it), and say
        so in the application log."""
        for snap in snaps:
            was = self._up.get(snap.host)
            self._up[snap.host] = snap.up
            if was is None and snap.up or was == snap.up:
                continue
            event = HostEvent.UP if snap.up else HostEvent.DOWN
            host_event(conn, snap.host, event, "" if snap.up else snap.reason, source="metrics")
            if snap.up:
                events.info("host %s is up again", snap.host, extra={"source": "metrics"})
            else:
                events.warning("host %s is down: %s", snap.host, snap.reason, extra={"source": "metrics"})

    def _laggard(self, poller: HostPoller, ts: float) -> HostSnapshot:
        """Return the last state of a host that did not answer in time (down once it is too old)."""
        last = poller.latest
        if last is not None and not last.up:
            return last
        if last is not None and ts - last.ts < 2 * self.settings.sample_interval:
            return last
        return down(poller.name, ts, f"{poller.name}: no answer within {self.host_wait_s:g} s")

    def _maintain(self, conn: sqlite3.Connection, ts: float) -> None:
        """Roll up complete buckets and drop what aged out."""
        hosts = ([self.local.name] if self.local else []) + list(self.pollers)
        history.rollup(conn, hosts, ts)
        history.prune(conn, self.retention, ts)
        self._housekeep_jobs(conn, ts)
        self._last_maintenance = ts

    def _housekeep_jobs(self, conn: sqlite3.Connection, ts: float) -> None:
        """Purge outputs past FOLDDECK_RETENTION_DAYS; re-measure disk use per user now and then (issue 18)."""
        from services.operations import retention

        if ts - self._last_preflight >= defaults.PREFLIGHT_EVERY_S and not self._preflight_running.is_set():
            self._last_preflight = ts
            self._preflight_running.set()
            threading.Thread(target=self._preflight, name="preflight", daemon=True).start()
        try:
            retention.warn_expiring(conn, self.settings, ts)
            retention.purge_expired(conn, self.settings, ts)
            if ts - self._last_disk_measure >= defaults.DISK_MEASURE_EVERY_S:
                retention.measure_disk(conn, self.settings, ts)
                self._last_disk_measure = ts
        except (OSError, sqlite3.Error) as exc:  # housekeeping must never stop the metrics
            log.error("job housekeeping failed: %s", exc)

    def _preflight(self) -> None:
        """Check every job host for AF3, weights, databases and a GPU (seconds to minutes: off the tick)."""
        from services.hosts import preflight

        try:
            preflight.run_all(db.connect(self.settings.db_path), self.settings, load_hosts(self.settings))
        except (FoldDeckError, OSError, sqlite3.Error) as exc:
            log.error("preflight failed: %s", exc)
        finally:
            db.close_all()
            self._preflight_running.clear()

    def _job_board(self, conn: sqlite3.Connection) -> dict | None:
        """Return the queue length and running jobs per host, computed once here for every status viewer."""
        try:
            from services.jobs import job_board
        except ImportError:  # jobs service not installed yet: the page shows hosts only
            return None
        try:
            return job_board(conn)
        except sqlite3.Error:  # a locked database must not keep the host snapshots from the page
            log.exception("job board not computed this tick")
            return None

    def _clusters(self, conn: sqlite3.Connection) -> dict[str, dict]:
        """Return per Slurm host: partitions, node states and free GPUs (one sinfo each), and FoldDeck's jobs there."""
        from services import jobs as jobs_service
        from services.running.executors.slurm_cluster import cluster

        try:
            ours = jobs_service.slurm_counts(conn)
        except sqlite3.Error:
            ours = {}
        out = {}
        for host in self.slurm_hosts:
            try:
                info = cluster(host, self.settings).info()
            except FoldDeckError as exc:  # the clients are missing or slurmctld does not answer
                info = {"error": str(exc)}
            out[host.name] = {**info, "folddeck": ours.get(host.name, {"pending": 0, "running": 0})}
        return out

    def _record_jobs(self, conn: sqlite3.Connection, snaps: list[HostSnapshot]) -> None:
        """Record running jobs' peak GPU memory and mean utilisation on the job rows."""
        try:
            from services import jobs as jobs_service

            running, record = jobs_service.running_jobs, jobs_service.record_gpu_usage
        except (ImportError, AttributeError):  # jobs service not installed yet: nothing to attribute
            return
        for job_id, use in self.jobs.update(running(conn), snaps).items():
            record(conn, job_id, use.peak_mem_mib, use.mean_util)

    def run_forever(self, stop: threading.Event) -> None:
        """Tick every `sample_interval` seconds until `stop` is set; overruns skip, never pile up."""
        interval = self.settings.sample_interval
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                result = self.tick()
                log.debug("tick %.1f ms, %d hosts", result.wall_ms, len(result.snaps))
            except (FoldDeckError, sqlite3.Error, OSError):
                log.exception("sampler tick failed; trying again next tick")
            next_at += interval
            now = time.monotonic()
            if next_at <= now:
                missed = math.floor((now - next_at) / interval) + 1
                log.warning("sampler tick overran; skipping %d tick(s)", missed)
                next_at += missed * interval
            stop.wait(next_at - now)

    def close(self) -> None:
        """Stop the host threads and close connections and the store."""
        for poller in self.pollers.values():
            poller.stop()
        self.pollers.clear()
        self.store.close()


def acquire_lock(settings: Settings) -> IO[str] | None:
    """Return an open, locked file proving this is the only sampler for the data dir, or None."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(settings.data_dir / "sampler.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def main(argv: list[str] | None = None) -> int:
    """Run the sampler until SIGTERM / SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m services.operations.sampler", description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="take one tick, print it and exit")
    args = parser.parse_args(argv)
    try:
        settings = boot.load()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lock = acquire_lock(settings)
    if lock is None:
        print(f"error: another sampler already runs for {settings.data_dir}; exiting", file=sys.stderr)
        return 1
    boot.boot("sampler", settings=settings)
    sampler = Sampler(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.once:
            result = sampler.tick()
            for snap in result.snaps:
                print(f"{snap.host}: {snap.state.value} {snap.reason} cpu={snap.cpu_percent} gpus={len(snap.gpus)}")
        else:
            log.info("sampling %d host(s) every %g s", len(sampler.pollers) + (1 if sampler.local else 0),
                     settings.sample_interval)
            sampler.run_forever(stop)
    finally:
        sampler.close()
        lock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
