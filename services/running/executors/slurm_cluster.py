"""A Slurm cluster as FoldDeck tracks it: job names, one `squeue` per tick for all of FoldDeck's jobs,
one `sacct` per tick for those that left the queue (`sacct -c` without accounting), sinfo for the sampler.

Every executor of a cluster in this process asks one shared `Cluster` (see `cluster`), so tracking
scales with the cluster, not with the jobs. The executor itself is `services.running.executors.slurm`.
"""
from __future__ import annotations

import getpass
import logging
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace

from services import jobs
from services.hosts import Host, install_tag  # noqa: F401  (tests and callers name it here)
from services.people import cluster_identity
from services.people.cluster_identity import ClusterIdentity
from services.platform import db, defaults
from services.platform.settings import Settings
from services.running.executors.base import ExecutorError
from services.running.executors.slurm_access import Access, Connection

log = logging.getLogger("folddeck.slurm")

ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "STOPPED",
          "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT")
REQUEUE_STATES = {"NODE_FAIL": "its node failed", "PREEMPTED": "it was preempted by a higher-priority job",
                  "BOOT_FAIL": "its node failed to boot"}
UNREACHABLE_ERRORS = ("Unable to contact slurm controller", "Socket timed out", "Connection refused")


def job_name(tag: str, job_id: int, attempt: int) -> str:
    return f"folddeck.{tag}.{job_id}.{attempt}"


def parse_job_name(name: str, tag: str) -> tuple[int, int] | None:
    """Return (job id, attempt) for one of this installation's job names, else None."""
    parts = name.split(".")
    if len(parts) != 4 or parts[:2] != ["folddeck", tag] or not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    return int(parts[2]), int(parts[3])


def dependent_name(name: str, data_id: int) -> str:
    """Return the Slurm name of the inference job that waits for data job `data_id` of attempt `name`."""
    return f"{name}.after{data_id}"


def depends_on(name: str) -> int | None:
    """Return the data job id a dependent job's name carries, else None."""
    head, sep, tail = name.rpartition(".after")
    return int(tail) if sep and head and tail.isdigit() else None



@dataclass(frozen=True)
class Queued:
    """One job as squeue shows it."""
    state: str
    reason: str
    node: str
    time_limit: str
    name: str


@dataclass(frozen=True)
class Final:
    """How a job that left the queue ended: Slurm's state and the command's exit status."""
    state: str  # COMPLETED, FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL, ...
    exit_code: int | None
    by: str = ""  # "CANCELLED by 1000" -> "1000"


def parse_exit(text: str) -> int | None:
    """Return the exit status of Slurm's "code:signal" (a signal counts as 128 + signal)."""
    code, _, sig = text.partition(":")
    if not code.isdigit():
        return None
    return 128 + int(sig) if sig.isdigit() and int(sig) and not int(code) else int(code)


def parse_sacct(text: str) -> dict[int, Final]:
    """Parse `sacct -X -n -P -o JobID,State,ExitCode` lines."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        state, _, by = parts[1].partition(" by ")
        out[int(parts[0])] = Final(state.strip(), parse_exit(parts[2]), by.strip())
    return out


class Cluster:
    """All of this process's view of one Slurm host: one squeue per tick, one sacct per tick.

    Thread-safe; every executor (one per slot thread) of the host shares the instance from `cluster()`.
    `calls` counts the Slurm commands run, by name (the bench reads it). A host with an `address` runs
    them on its login node over one shared SSH session (`conn`); `own_key` people get a session each.
    """

    def __init__(self, host: Host, settings: Settings, tick: float = defaults.SLURM_TICK_S):
        self.host, self.settings, self.tick = host, settings, tick
        self.tag = install_tag(settings)
        self.prefix = f"folddeck.{self.tag}."
        self.calls: Counter = Counter()
        self.queue: dict[int, Queued] = {}
        self.finals: dict[int, Final] = {}
        self.gone: dict[int, float] = {}  # slurm id -> when it was first missing from the queue
        self.refreshed_at = float("-inf")  # monotonic time of the last squeue
        self.sacct_at = float("-inf")
        self.failed_at = float("-inf")  # monotonic time of the last squeue that failed
        self.outage_logged = float("-inf")
        self.accounting = True  # False once sacct said accounting storage is disabled
        self.reported: set[int] = set()  # unknown jobs already logged
        self._unknown: set[int] = set()  # unknown jobs seen once
        self._lock = threading.Lock()
        cfg = host.slurm
        self.mode = cfg.submit_as if cfg else "service"
        self.shared = cfg.shared_storage if cfg else True
        self.conn = Connection(host, settings.known_hosts) if host.remote_slurm else None
        self.service = Access(host, self.conn, self.shared)
        self._own: dict[tuple[str, str], Connection] = {}  # own_key sessions by (cluster user, key file)

    # -- commands ---------------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, access: Access | None = None) -> subprocess.CompletedProcess:
        """Run one Slurm client command (as `access`, else the service account); HostUnavailable when the
        clients, the login node or the controller cannot be reached."""
        self.calls[args[0]] += 1
        res = (access or self.service).run(*args)
        if check and res.returncode != 0:
            raise ExecutorError(f"{' '.join(args[:2])} failed: {(res.stderr or res.stdout).strip()[-500:]}")
        return res

    def access(self, person: ClusterIdentity | None) -> Access:
        """Return how `person`'s jobs are submitted, cancelled and written on this host (see `submit_as`).

        Raises:
            ExecutorError: the host runs jobs as their people and this person has no cluster user.
        """
        if self.mode == "service" or person is None:
            return self.service
        if not person.cluster_user or (self.mode == "own_key" and not person.key_file):
            need = "cluster user" if not person.cluster_user else "key file"
            raise ExecutorError(f"{self.host.name} runs each job as its person's own cluster user, and "
                                f"{person.username} has no {need} yet: an admin sets it on the Users page")
        if self.mode == "sudo":
            return Access(self.host, self.conn, self.shared, sudo_user=person.cluster_user)
        with self._lock:
            key = (person.cluster_user, person.key_file)
            if key not in self._own:
                login = replace(self.host, user=person.cluster_user, key_file=person.key_file)
                self._own[key] = Connection(login, self.settings.known_hosts)
            return Access(self.host, self._own[key], self.shared)

    def close(self) -> None:
        """Close the SSH sessions (a later command opens them again)."""
        for conn in [self.conn, *self._own.values()]:
            if conn is not None:
                conn.drop()

    def _who(self) -> tuple[str, ...]:
        """Return squeue's and sacct's user selection: our own jobs, or every mapped person's."""
        if self.mode == "service":
            return ("--me",)
        people = cluster_identity.cluster_users(db.connect(self.settings.db_path))
        login = self.host.user or getpass.getuser()
        return (f"--users={','.join(dict.fromkeys([login, *people]))}",)

    # -- tracking ---------------------------------------------------------------------------------

    def status(self, slurm_id: int, since: float) -> Queued | Final | None:
        """Return the job's place in the queue, how it ended, or None while that is not known yet.

        `since` is when it was submitted (monotonic): a job newer than the last squeue is pending.
        """
        with self._lock:
            now = time.monotonic()
            if now - max(self.refreshed_at, self.failed_at) >= self.tick:
                try:
                    self._refresh()
                except ExecutorError as exc:  # slurmctld restarting or busy: keep the last answer, retry next tick
                    self.failed_at = now
                    self._outage(exc)
                    return self.queue.get(slurm_id) or self.finals.get(slurm_id)
            if slurm_id in self.queue:
                self.gone.pop(slurm_id, None)
                return self.queue[slurm_id]
            if since >= self.refreshed_at:
                return Queued("PENDING", "submitted", "", "", "")
            if slurm_id in self.finals:
                return self.finals[slurm_id]
            self.gone.setdefault(slurm_id, now)
            if now - self.sacct_at >= self.tick:
                try:
                    self._resolve_gone()
                except ExecutorError as exc:  # the login node went away between the two: ask again next tick
                    self._outage(exc)
            return self.finals.get(slurm_id)

    def _outage(self, exc: Exception) -> None:
        """Log a failed squeue at most once a minute (jobs keep their last known state meanwhile)."""
        if time.monotonic() - self.outage_logged >= 60:
            self.outage_logged = time.monotonic()
            log.warning("Slurm on %s does not answer squeue (%s); FoldDeck's jobs there keep their last known "
                        "state until it does", self.host.name, exc,
                        extra={"source": "worker", "username": None, "job_id": None})

    def gone_for(self, slurm_id: int) -> float:
        """Return the seconds since the job was first missing from the queue (0 while it is in it)."""
        with self._lock:
            start = self.gone.get(slurm_id)
        return time.monotonic() - start if start is not None else 0.0

    def forget(self, slurm_id: int) -> None:
        with self._lock:
            self.finals.pop(slurm_id, None)
            self.gone.pop(slurm_id, None)

    def refresh(self) -> dict[int, Queued]:
        """Run the tick's squeue now (the bench and the sampler call this); return the queue."""
        with self._lock:
            self._refresh()
            return dict(self.queue)

    def _refresh(self) -> None:
        started = time.monotonic()  # a job submitted after this may be missing from the answer
        res = self.run("squeue", *self._who(), "-h", "-t", "all", "-o", "%i|%j|%T|%r|%N|%l")
        queue = {}
        for line in res.stdout.splitlines():
            parts = line.split("|")
            if len(parts) < 6 or not parts[0].isdigit() or not parts[1].startswith(self.prefix):
                continue
            state = parts[2]
            if state not in ACTIVE:  # finished, still listed for MinJobAge: sacct has the exit status
                continue
            queue[int(parts[0])] = Queued(state, "" if parts[3] == "None" else parts[3],
                                          "" if parts[4] in ("(null)", "n/a") else parts[4], parts[5], parts[1])
        self.queue = queue
        self.refreshed_at = started
        self._report_unknown()

    def _report_unknown(self) -> None:
        """Log, once each, Slurm jobs named as this installation's that no running FoldDeck attempt owns."""
        candidates = {sid: q for sid, q in self.queue.items() if sid not in self.reported}
        if not candidates:
            return
        known = jobs.active_slurm_ids(db.connect(self.settings.db_path), self.host.name)
        for sid, q in candidates.items():
            if sid in known or depends_on(q.name) in known:  # an inference job is named after its data job
                continue
            # An attempt between sbatch and recording its id shows up once; report only when seen twice.
            if sid not in self._unknown:
                self._unknown.add(sid)
                continue
            self.reported.add(sid)
            log.warning("Slurm job %s (%s, %s) on %s belongs to no running FoldDeck job; cancel it with "
                        "`scancel %s` if it should not run", sid, q.name, q.state.lower(), self.host.name, sid,
                        extra={"source": "worker", "username": None, "job_id": None})

    def _resolve_gone(self) -> None:
        """One sacct for every job that left the queue and has no end state yet (sacct -c without accounting)."""
        self.sacct_at = time.monotonic()
        ids = sorted(i for i in self.gone if i not in self.finals)
        if ids:
            self.finals.update(_ended(self._sacct("-j", ",".join(map(str, ids)))))

    def _sacct(self, *select: str) -> dict[int, Final]:
        """Return what sacct says of the selected jobs ({} while slurmdbd is busy); without accounting, `sacct -c`."""
        every = ("--allusers",) if self.mode != "service" else ()  # jobs submitted as their people
        fields = ("-n", "-P", *every, *select, "-o", "JobID,State,ExitCode")
        if self.accounting:
            res = self.run("sacct", "-X", *fields, check=False)
            if res.returncode == 0:
                return parse_sacct(res.stdout)
            if "disabled" not in res.stderr:  # slurmdbd busy or restarting: ask again next tick
                return {}
            self.accounting = False
            log.info("Slurm accounting is off on %s (%s); reading the job completion log instead", self.host.name,
                     res.stderr.strip()[:200], extra={"source": "worker", "username": None, "job_id": None})
        res = self.run("sacct", "-c", *fields, check=False)
        return parse_sacct(res.stdout) if res.returncode == 0 else {}

    def find(self, name: str, submitted_at: float) -> int | None:
        """Return the id of our Slurm job called `name`: from the queue, else from sacct; None if neither knows it.

        `submitted_at` (epoch seconds) bounds the sacct search; an ended job's state is kept for `status`.
        """
        found = [sid for sid, q in self.refresh().items() if q.name == name]
        if not found:
            start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(submitted_at - 60))
            with self._lock:
                known = self._sacct(f"--name={name}", "-S", start)
                self.finals.update(_ended(known))
            found = list(known)
        return max(found) if found else None

    def info(self) -> dict:
        """Return partitions, node states and GPUs from one sinfo (the sampler calls this once per tick)."""
        res = self.run("sinfo", "-h", "-N", "-O", "NodeHost:|,Partition:|,StateLong:|,Gres:|,GresUsed:|")
        nodes: dict[str, dict] = {}
        partitions: dict[str, dict] = {}
        for line in res.stdout.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 5:
                continue
            node, part, state, gres, used = parts[:5]
            part = part.rstrip("*")
            kind = _node_kind(state)
            total, busy = _gpus(gres), _gpus(used)
            p = partitions.setdefault(part, {"idle": 0, "mixed": 0, "allocated": 0, "down": 0, "gpus": 0,
                                             "gpus_free": 0})
            p[kind] += 1
            p["gpus"] += total
            p["gpus_free"] += max(0, total - busy) if kind != "down" else 0
            nodes[node] = {"state": state, "gpus": total, "gpus_free": max(0, total - busy)}
        return {"partitions": partitions, "nodes": len(nodes),
                "gpus_free": sum(n["gpus_free"] for n in nodes.values() if _node_kind(n["state"]) != "down")}


def _ended(finals: dict[int, Final]) -> dict[int, Final]:
    """Keep only end states: a job squeue missed (submitted during the call) shows PENDING in sacct."""
    return {sid: f for sid, f in finals.items() if f.state not in ACTIVE}


def _node_kind(state: str) -> str:
    s = state.rstrip("*~#!%$@^-+").lower()
    if s.startswith(("idle",)):
        return "idle"
    if s.startswith("mix"):
        return "mixed"
    if s.startswith(("alloc", "completing")):
        return "allocated"
    return "down"


def _gpus(gres: str) -> int:
    """Return the GPU count in a GRES string such as "gpu:2", "gpu:a100:4(S:0-1)" or "gpu:0(IDX:N/A)"."""
    total = 0
    for item in gres.split(","):
        if not item.startswith("gpu"):
            continue
        last = item.split("(")[0].split(":")[-1]
        total += int(last) if last.isdigit() else 0
    return total


_clusters: dict[tuple[str, str], Cluster] = {}
_clusters_lock = threading.Lock()


def close_clusters(settings: Settings) -> None:
    """Close and forget this process's Clusters of one data dir (their SSH sessions end now, not at exit)."""
    with _clusters_lock:
        for key in [k for k in _clusters if k[1] == str(settings.db_path)]:
            _clusters.pop(key).close()


def cluster(host: Host, settings: Settings) -> Cluster:
    """Return this process's shared Cluster for a Slurm host (a new one if its config changed)."""
    key = (host.name, str(settings.db_path))
    with _clusters_lock:
        found = _clusters.get(key)
        if found is None or found.host != host:
            if found is not None:
                found.close()
            found = _clusters[key] = Cluster(host, settings)
        return found
