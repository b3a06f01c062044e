"""Approval of large jobs (issue 18): a large job is not claimed until approved; a rejection reaches its owner."""
from __future__ import annotations

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState
from services.jobs.rules import approval
from services.operations import approvals
from services.platform.errors import JobStateError, PermissionDenied
from tests.services.test_jobs import af3

LOCAL = [Host(name="local", slots=4)]
BIG_SEQ = "MKVLAAGIVALLLA" * 10  # 140 tokens


@pytest.fixture
def gated(settings):
    return settings.with_overrides(approval_tokens=100)


def test_large_job_waits_until_approved(conn, gated, alice, admin):
    big = jobs.submit(conn, gated, alice, af3("big", BIG_SEQ))
    assert big.approval == "pending" and big.stage == approval.AWAITING
    small = jobs.submit(conn, gated, alice, af3("small"))
    assert small.approval is None
    jobs.register_worker(conn, "w1", "test", 1)
    assert jobs.claim_job(conn, gated, "w1", LOCAL).id == small.id
    assert jobs.claim_job(conn, gated, "w1", LOCAL) is None  # the big one waits
    [p] = approvals.pending(conn)
    assert p.job.id == big.id and p.gpu_hours > 0 and p.recent_jobs == 1
    with pytest.raises(PermissionDenied):
        approvals.approve(conn, alice, big.id)
    approvals.approve(conn, admin, big.id, "ok")
    assert jobs.claim_job(conn, gated, "w1", LOCAL).id == big.id


def test_rejection_reaches_the_user(conn, gated, alice, admin):
    big = jobs.submit(conn, gated, alice, af3("big", BIG_SEQ))
    approvals.reject(conn, admin, big.id, "too large for this month's quota")
    job = jobs.get_job(conn, alice, big.id)
    assert job.state is JobState.CANCELLED and job.approval == "rejected"
    assert "too large for this month's quota" in job.error and job.approval_note == "too large for this month's quota"
    with pytest.raises(JobStateError):
        approvals.approve(conn, admin, big.id)
    jobs.register_worker(conn, "w1", "test", 1)
    assert jobs.claim_job(conn, gated, "w1", LOCAL) is None


def test_flagged_user_always_waits_and_off_by_default(conn, settings, alice):
    assert jobs.submit(conn, settings, alice, af3("big", BIG_SEQ)).approval is None  # 0 = off
    approvals.set_needs_approval(conn, alice.id, True)
    assert jobs.submit(conn, settings, alice, af3("tiny")).approval == "pending"


def test_approval_moves_the_change_marks(conn, gated, alice, admin):
    big = jobs.submit(conn, gated, alice, af3("big", BIG_SEQ))
    before = jobs.change_marks(conn, alice)
    approvals.approve(conn, admin, big.id)
    after = jobs.change_marks(conn, alice)
    assert after[0] > before[0] and after[1] > before[1]  # the owner's dashboard and the queue order both move
