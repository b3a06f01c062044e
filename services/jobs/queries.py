"""Reads: one job, pages of jobs, counts, change marks, queue positions, the status board, attempts."""
from __future__ import annotations

import heapq
import sqlite3
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from services.jobs.model import SELECT_JOB, SORTS, Job, JobState, load_job, to_jobs
from services.people.users import User
from services.platform.errors import InvalidInput, JobNotFound

# -- reads ------------------------------------------------------------------------------------


def _scope(caller: User, all_users: bool) -> tuple[str, list]:
    if caller.is_admin and all_users:
        return "1 = 1", []
    return "j.owner_id = ?", [caller.id]


def get_job(conn: sqlite3.Connection, caller: User, job_id: int) -> Job:
    """Return a job the caller may see.

    Raises:
        JobNotFound: no such job, or it belongs to someone else and the caller is not an admin.
    """
    job = load_job(conn, int(job_id))
    if job.owner_id != caller.id and not caller.is_admin:
        raise JobNotFound(f"Job {job_id} was not found.")
    return job


def _page_filter(caller: User, state: str | Iterable[str] | None, search: str | None,
                 all_users: bool) -> tuple[str, list, str]:
    """Return the WHERE clause, its arguments and the JOIN a page of jobs is read with (one place for both reads)."""
    where, args = _scope(caller, all_users)
    if state:
        states = [JobState(state).value] if isinstance(state, (str, JobState)) else [JobState(s).value for s in state]
        where += f" AND j.state IN ({','.join('?' * len(states))})"
        args += states
    if search and search.strip():
        term = search.strip()
        where += " AND (j.name LIKE ? ESCAPE '\\' OR u.username LIKE ? ESCAPE '\\' OR j.id = ?)"
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [like, like, int(term.lstrip("#")) if term.lstrip("#").isdigit() else -1]
    join = " JOIN users u ON u.id = j.owner_id" if "u.username" in where else ""  # only a search needs names
    return where, args, join


def list_jobs(conn: sqlite3.Connection, caller: User, *, state: str | Iterable[str] | None = None,
              search: str | None = None, all_users: bool = False, offset: int = 0, limit: int = 50,
              sort: str = "submitted_desc") -> tuple[list[Job], int]:
    """Return one page of the caller's jobs (all users' for an admin with all_users) and the total.

    Raises:
        InvalidInput: unknown sort or state.
    """
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}; use one of: {', '.join(SORTS)}.")
    where, args, join = _page_filter(caller, state, search, all_users)
    total = conn.execute(f"SELECT COUNT(*) FROM jobs j{join} WHERE {where}", args).fetchone()[0]
    page = to_jobs(conn.execute(f"{SELECT_JOB} WHERE {where} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?",
                                 args + [max(0, int(limit)), max(0, int(offset))]))
    return page, total


def list_job_columns(conn: sqlite3.Connection, caller: User, columns: Iterable[str], *,
                     state: str | Iterable[str] | None = None, search: str | None = None, all_users: bool = False,
                     offset: int = 0, limit: int = 50, sort: str = "submitted_desc") -> tuple[list[tuple], int]:
    """Return the same page as list_jobs, each job only as a tuple of `columns`, and the total.

    `columns` are SQL expressions over the job `j` and its owner `u`. A poll that only asks which
    jobs a page holds and whether they changed reads these few columns, not whole jobs.

    Raises:
        InvalidInput: unknown sort or state.
    """
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}; use one of: {', '.join(SORTS)}.")
    where, args, join = _page_filter(caller, state, search, all_users)
    total = conn.execute(f"SELECT COUNT(*) FROM jobs j{join} WHERE {where}", args).fetchone()[0]
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM jobs j JOIN users u ON u.id = j.owner_id "
                        f"WHERE {where} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?",
                        args + [max(0, int(limit)), max(0, int(offset))]).fetchall()
    return [tuple(r) for r in rows], total


def jobs_by_id(conn: sqlite3.Connection, caller: User, job_ids: Iterable[int], all_users: bool = False) -> list[Job]:
    """Return those of `job_ids` the caller may see on the page (all users' for an admin with all_users)."""
    ids = [int(i) for i in job_ids]
    if not ids:
        return []
    where, args = _scope(caller, all_users)
    return to_jobs(conn.execute(f"{SELECT_JOB} WHERE {where} AND j.id IN ({','.join('?' * len(ids))})",
                                args + ids))


def state_counts(conn: sqlite3.Connection, caller: User, all_users: bool = False) -> dict[str, int]:
    """Return the number of jobs in each state (every state present)."""
    where, args = _scope(caller, all_users)
    counts = {s.value: 0 for s in JobState}
    for state, n in conn.execute(f"SELECT j.state, COUNT(*) FROM jobs j WHERE {where} GROUP BY j.state", args):
        counts[state] = n
    return counts


def last_change(conn: sqlite3.Connection, caller: User, all_users: bool = False) -> float:
    """Return the latest updated_at among the visible jobs (0.0 when there are none)."""
    where, args = _scope(caller, all_users)
    row = conn.execute(f"SELECT MAX(j.updated_at) FROM jobs j WHERE {where}", args).fetchone()
    return row[0] or 0.0


def _running_by_owner(conn: sqlite3.Connection) -> dict[int, int]:
    return dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY owner_id"))


def change_marks(conn: sqlite3.Connection, caller: User, all_users: bool = False) -> tuple[int, int]:
    """Return (jobs counter, queue-order counter): equal marks mean the visible jobs did not change.

    The database keeps both (triggers of migration 0010), so this is one indexed read of two rows,
    whatever the number of jobs.
    """
    scope = 0 if caller.is_admin and all_users else caller.id
    marks = dict(conn.execute("SELECT scope, n FROM change_counters WHERE scope IN (?, -1)", (scope,)))
    return marks.get(scope, 0), marks.get(-1, 0)


def _full_order(conn: sqlite3.Connection) -> dict[int, int]:
    """Return the fair order of every queued job (heap merge, as claim_job takes them)."""
    per_user: dict[int, deque] = defaultdict(deque)
    for job_id, owner_id, queued_at in conn.execute(
            "SELECT id, owner_id, queued_at FROM jobs WHERE state = 'queued' ORDER BY queued_at, id"):
        per_user[owner_id].append((queued_at, job_id))
    running = _running_by_owner(conn)
    # Same rule as claim_job: fewest running first, then oldest; each pick counts as running.
    heap = [(running.get(o, 0), q[0][0], q[0][1], o) for o, q in per_user.items()]
    heapq.heapify(heap)
    positions: dict[int, int] = {}
    while heap:
        count, _, job_id, owner = heapq.heappop(heap)
        per_user[owner].popleft()
        positions[job_id] = len(positions) + 1
        if per_user[owner]:
            nxt = per_user[owner][0]
            heapq.heappush(heap, (count + 1, nxt[0], nxt[1], owner))
    return positions


def queue_positions(conn: sqlite3.Connection, job_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Return job id -> 1-based place in the fair order in which workers will claim queued jobs.

    With `job_ids` (a page's jobs) only those are placed, without building the whole order: in
    the fair order an owner's i-th queued job has the key (running + i, queued_at, id), so a job's
    place is 1 + the jobs with a smaller key, counted per owner from indexed counts.
    """
    if job_ids is None:
        return _full_order(conn)
    ids = [int(i) for i in job_ids]
    if not ids:
        return {}
    mine = conn.execute(f"SELECT id, owner_id, queued_at FROM jobs WHERE state = 'queued' "
                        f"AND id IN ({','.join('?' * len(ids))})", ids).fetchall()
    if not mine:
        return {}
    queued, running = {}, {}
    for owner, state, n in conn.execute("SELECT owner_id, state, COUNT(*) FROM jobs WHERE state IN "
                                        "('queued', 'running') GROUP BY state, owner_id"):
        (queued if state == "queued" else running)[owner] = n
    positions = {}
    for job_id, owner, queued_at in mine:
        # per owner: queued jobs strictly before this one in (queued_at, id)
        ahead = dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE state = 'queued' AND "
                                  "(queued_at < ? OR (queued_at = ? AND id < ?)) GROUP BY owner_id",
                                  (queued_at, queued_at, job_id)))
        key = running.get(owner, 0) + ahead.get(owner, 0)
        before = 0
        for other, n in queued.items():
            if other == owner:
                before += ahead.get(owner, 0)
                continue
            k = key - running.get(other, 0)  # the other owner's jobs with index < k come first
            if k > 0:
                before += min(k, n)
            if 0 <= k < ahead.get(other, 0):  # its k-th job ties on the count and is older
                before += 1
        positions[job_id] = before + 1
    return positions


def job_board(conn: sqlite3.Connection) -> dict:
    """Return what every status viewer sees of the jobs: the queue length and each host's running jobs.

    The sampler writes this into the snapshot store once per tick, so a status poll reads no job
    rows. Returns {"queued": n, "running": {host: [[job id, owner, pid or remote pid], ...]}}.
    """
    queued = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
    running: dict[str, list] = {}
    for job_id, owner, host, target in conn.execute(
            "SELECT j.id, u.username, COALESCE(j.host, 'local'), COALESCE(j.remote_pid, j.pid) FROM jobs j "
            "JOIN users u ON u.id = j.owner_id WHERE j.state = 'running' ORDER BY j.started_at, j.id"):
        running.setdefault(host, []).append([job_id, owner, target])
    return {"queued": queued, "running": running}


def running_jobs(conn: sqlite3.Connection) -> list[Job]:
    """Return every running job (for the GPU-usage sampler)."""
    return to_jobs(conn.execute(SELECT_JOB + " WHERE j.state = 'running' ORDER BY j.started_at"))


def record_gpu_usage(conn: sqlite3.Connection, job_id: int, peak_mem_mib: float, mean_util: float) -> None:
    """Store a job's GPU usage (the sampler calls this while and after it runs)."""
    conn.execute("UPDATE jobs SET peak_mem_mib = ?, mean_util = ? WHERE id = ?", (peak_mem_mib, mean_util, job_id))


@dataclass(frozen=True)
class Attempt:
    attempt: int
    worker_id: str | None
    host: str | None
    executor: str | None
    started_at: float
    finished_at: float | None
    outcome: str | None
    exit_code: int | None
    error: str | None


def attempts(conn: sqlite3.Connection, caller: User, job_id: int) -> list[Attempt]:
    """Return the attempt history of a visible job, first attempt first."""
    get_job(conn, caller, job_id)
    return [Attempt(*r) for r in conn.execute(
        "SELECT attempt, worker_id, host, executor, started_at, finished_at, outcome, exit_code, error "
        "FROM job_attempts WHERE job_id = ? ORDER BY attempt", (job_id,))]
