"""The approval rule (issue 18, 22): which jobs wait for an admin before the claim may take them.

Above FOLDDECK_APPROVAL_GPU_HOURS or FOLDDECK_APPROVAL_TOKENS (or from a flagged user) a job is queued
with `approval = 'pending'`; the claim skips it (`claimable_sql`) until an admin approves it
(services.operations.approvals, where admins decide). Every way a job becomes runnable (submit, clone, import,
API, retry) goes through `gate`, the one rule.
"""
from __future__ import annotations

import sqlite3

from services.platform.settings import Settings

AWAITING = "awaiting approval"


def claimable_sql(alias: str = "j") -> str:
    """Return the SQL condition a claim adds: no approval needed, or approved."""
    return f"({alias}.approval IS NULL OR {alias}.approval = 'approved')"


def rule(conn: sqlite3.Connection, settings: Settings | None, owner_id: int, tokens: int, gpu_seconds: float,
         before: str | None = None) -> str | None:
    """Return the approval a job about to become runnable gets: "pending", "approved" or None (not needed).

    Args:
        settings: the thresholds; None (a caller without them) keeps a job that waited waiting.
        gpu_seconds: the estimate (services.af3.size.gpu_seconds), compared to FOLDDECK_APPROVAL_GPU_HOURS.
        before: the job's approval so far (a retry): a rejection is asked again, never undone by
            retrying; an approval stands, unless the owner has since been flagged.
    """
    row = conn.execute("SELECT needs_approval FROM users WHERE id = ?", (owner_id,)).fetchone()
    if (row and row[0]) or before == "rejected":
        return "pending"
    if before == "approved":
        return "approved"
    if settings is None:  # the thresholds are unknown here: a job that waited keeps waiting
        return "pending" if before == "pending" else None
    over_tokens = settings.approval_tokens and tokens > settings.approval_tokens
    over_hours = settings.approval_gpu_hours and gpu_seconds > settings.approval_gpu_hours * 3600
    return "pending" if over_tokens or over_hours else None


def gate(conn: sqlite3.Connection, settings: Settings | None, owner_id: int,
         jobs: list[tuple[int, int, float, str | None]]) -> list[int]:
    """Decide and record approval for jobs that become runnable (inside the caller's transaction).

    `jobs`: (job id, tokens, estimated GPU seconds, approval so far). Returns the ids that now wait
    for an admin; they show under "Awaiting approval" with that stage.
    """
    pending, rows = [], []
    for job_id, tokens, seconds, before in jobs:
        state = rule(conn, settings, owner_id, tokens, seconds, before)
        if state == "pending":
            pending.append(job_id)
        if state != before or state == "pending":  # a plain submit writes nothing more (one insert per job)
            rows.append((state, state == "pending", AWAITING, job_id))
    conn.executemany("UPDATE jobs SET approval = ?, stage = CASE WHEN ? THEN ? ELSE stage END WHERE id = ?", rows)
    return pending
