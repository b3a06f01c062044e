"""Screens in the database: submit one as a group of jobs, read it, cancel or retry it as a whole.

A member is an ordinary job (services.jobs): it is claimed, limited, approved, run and deleted like
any other. The screen is the group: one submission (all members or none, within the owner's limits,
and weighed for approval at the GPU time of all members), one row to watch, cancel, retry, download.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field

from services import jobs
from services.jobs import Job, JobState
from services.people.users import User
from services.platform.db import transaction
from services.platform.errors import JobNotFound, JobStateError
from services.platform.settings import Settings
from services.screens.definition import ScreenSpec, expand


class ScreenNotFound(JobNotFound):
    """No such screen, or one the caller may not see (the two read the same, as for jobs)."""


@dataclass(frozen=True)
class MemberRow:
    """One member as the screen page and the API list it."""

    position: int
    label: str
    value: str
    chain_id: str
    job: Job


@dataclass(frozen=True)
class Screen:
    id: int
    owner_id: int
    name: str
    kind: str
    created_at: float
    members: list[MemberRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Return how many members are in each state."""
        return dict(Counter(m.job.state.value for m in self.members))

    @property
    def finished(self) -> bool:
        return all(m.job.is_finished for m in self.members)

    @property
    def gpu_seconds(self) -> float:
        """Return the screen's estimated GPU time: what approval weighs (all members together)."""
        return sum(m.job.gpu_seconds for m in self.members)


def create_screen(conn: sqlite3.Connection, settings: Settings, owner: User, spec: ScreenSpec, *,
                  accept_terms: bool | None = None, via: str = "", idempotency_key: str | None = None) -> Screen:
    """Check a screen, queue one job per member (all or none) and record the group.

    A second call with the same `idempotency_key` returns the first screen without queueing again.

    Raises:
        InvalidInput: the shared part or a member has problems (each named); nothing was submitted.
        LimitExceeded, TermsNotAccepted, RateLimited: as for `jobs.submit_many`; nothing was submitted.
    """
    if idempotency_key:
        row = conn.execute("SELECT id FROM screens WHERE owner_id = ? AND idempotency_key = ?",
                           (owner.id, idempotency_key)).fetchone()
        if row is not None:
            return get_screen(conn, owner, row[0])
    built = expand(spec)
    # The members' keys make a crash between the two writes harmless: the same call again finds the jobs.
    key = idempotency_key or secrets.token_hex(8)
    items = [jobs.NewJob(af3, af3["name"], f"screen:{key}#{i}", f"Member {i + 1} ({m.label})")
             for i, (m, af3) in enumerate(zip(built.members, built.inputs, strict=True))]
    made = jobs.submit_many(conn, settings, owner, items, accept_terms=accept_terms, via=via, group=True)
    with transaction(conn):
        cur = conn.execute("INSERT INTO screens (owner_id, name, kind, shared_json, idempotency_key, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (owner.id, built.name, built.kind, json.dumps(built.shared),
                                                         idempotency_key, time.time()))
        conn.executemany("INSERT INTO screen_members (screen_id, job_id, position, label, chain_id, value) "
                         "VALUES (?, ?, ?, ?, ?, ?)", [(cur.lastrowid, job.id, i, m.label, built.chain_id, m.value)
                                                       for i, (m, job) in enumerate(zip(built.members, made,
                                                                                        strict=True))])
    return get_screen(conn, owner, cur.lastrowid)


def get_screen(conn: sqlite3.Connection, caller: User, screen_id: int) -> Screen:
    """Return a screen the caller may see, with its members in submitted order.

    Raises:
        ScreenNotFound: no such screen, or someone else's and the caller is not an admin.
    """
    row = conn.execute("SELECT id, owner_id, name, kind, created_at FROM screens WHERE id = ?",
                       (int(screen_id),)).fetchone()
    if row is None or (row[1] != caller.id and not caller.is_admin):
        raise ScreenNotFound(f"Screen {screen_id} was not found.")
    members = conn.execute("SELECT position, label, value, chain_id, job_id FROM screen_members WHERE screen_id = ? "
                           "ORDER BY position", (row[0],)).fetchall()
    by_id = {j.id: j for j in _jobs(conn, [m[4] for m in members])}
    rows = [MemberRow(m[0], m[1], m[2], m[3], by_id[m[4]]) for m in members if m[4] in by_id]
    return Screen(row[0], row[1], row[2], row[3], row[4], rows)


def _jobs(conn: sqlite3.Connection, ids: list[int]) -> list[Job]:
    """Return the jobs with these ids (any order)."""
    from services.jobs.model import SELECT_JOB, to_jobs

    return to_jobs(conn.execute(SELECT_JOB + " WHERE j.id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)))


def list_screens(conn: sqlite3.Connection, caller: User, *, all_users: bool = False,
                 limit: int = 50) -> list[tuple[int, str, str, float, dict[str, int]]]:
    """Return the caller's screens (all users' for an admin with `all_users`), newest first.

    Each is (id, name, kind, created at, {state: member count}).
    """
    scope, args = ("", []) if all_users and caller.is_admin else ("WHERE s.owner_id = ?", [caller.id])
    rows = conn.execute(f"SELECT s.id, s.name, s.kind, s.created_at, j.state, COUNT(j.id) FROM screens s "
                        f"LEFT JOIN screen_members m ON m.screen_id = s.id LEFT JOIN jobs j ON j.id = m.job_id "
                        f"{scope} GROUP BY s.id, j.state ORDER BY s.id DESC", args).fetchall()
    out: dict[int, tuple[int, str, str, float, dict[str, int]]] = {}
    for sid, name, kind, created, state, n in rows:
        entry = out.setdefault(sid, (sid, name, kind, created, {}))
        if state:
            entry[4][state] = n
    return list(out.values())[:limit]


def cancel_screen(conn: sqlite3.Connection, caller: User, screen_id: int) -> Screen:
    """Cancel every member still queued or running; finished members keep their results.

    Raises:
        ScreenNotFound: not visible to the caller.
        JobStateError: every member has already finished.
    """
    screen = get_screen(conn, caller, screen_id)
    live = [m.job for m in screen.members if not m.job.is_finished]
    if not live:
        raise JobStateError(f"Every member of screen {screen.id} has finished; there is nothing to cancel.")
    for job in live:
        try:
            jobs.cancel_job(conn, caller, job.id)
        except JobStateError:
            pass  # it finished meanwhile
    return get_screen(conn, caller, screen_id)


def retry_screen(conn: sqlite3.Connection, settings: Settings, caller: User, screen_id: int) -> Screen:
    """Queue every failed or cancelled member again (each a new attempt, through the approval rule).

    Raises:
        ScreenNotFound: not visible to the caller.
        JobStateError: no member failed or was cancelled.
        LimitExceeded: the owner's limits refuse a member (members retried before it stay queued).
    """
    screen = get_screen(conn, caller, screen_id)
    again = [m.job for m in screen.members if m.job.state in (JobState.FAILED, JobState.CANCELLED)]
    if not again:
        raise JobStateError(f"No member of screen {screen.id} failed or was cancelled; there is nothing to retry.")
    for job in again:
        jobs.retry_job(conn, caller, job.id, settings)
    return get_screen(conn, caller, screen_id)
