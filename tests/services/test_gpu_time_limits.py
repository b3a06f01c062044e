"""Issue 22, items 4, 5 and 7: limits, approval and window placement by estimated GPU time (one estimator);
every way a job becomes runnable again passes the approval rule; an AlphaFold Server `count` is checked
before it is expanded."""
from __future__ import annotations

import time

import pytest

from dash_app.components.jobs.size_badge import human_seconds
from services import jobs
from services.af3 import estimate_size
from services.af3.size import gpu_seconds
from services.hosts import Host
from services.jobs import JobState, SubmitLimits
from services.jobs.rules import approval, waiting
from services.operations import approvals, maintenance
from services.platform.errors import InvalidInput, LimitExceeded
from tests.services.test_jobs import af3

LOCAL = [Host(name="local", slots=4)]
GPU1 = Host(name="gpu1", address="x", user="u", slots=1)
SEQ_100 = "MKVLAAGIVA" * 10  # 100 tokens
H = 3600


@pytest.fixture
def worker(conn):
    jobs.register_worker(conn, "w1", "test", 1)
    return "w1"


def roomy(conn, admin, seeds: int = 10_000, hours: float = 1000.0) -> None:
    """Raise the per-job seed and GPU-hour defaults so that a test reaches the rule it means."""
    jobs.set_default_limits(conn, SubmitLimits(seeds_per_job=seeds, gpu_hours_per_job=hours), admin.username)


# -- item 4: GPU time, not tokens alone ---------------------------------------------------------------


def test_one_estimator_gives_the_badge_the_job_and_the_admin_the_same_gpu_time(conn, settings, alice, admin):
    roomy(conn, admin)
    doc = af3("many seeds", SEQ_100, seeds=range(1, 4001))
    badge = estimate_size(doc)
    assert badge.tokens == 100 and 8.5 * H < badge.seconds_total < 8.8 * H  # "8.7 GPU-hours by its own estimate"
    assert human_seconds(badge.seconds_total) == "8.6 h"
    gated = settings.with_overrides(approval_gpu_hours=4)
    job = jobs.submit(conn, gated, alice, doc)
    assert (job.seeds, job.samples) == (4000, 5)
    assert job.gpu_seconds == pytest.approx(badge.seconds_total, abs=0.1) == gpu_seconds(100, 4000, 5)
    [pending] = approvals.pending(conn)
    assert pending.job.id == job.id and pending.gpu_hours == pytest.approx(badge.seconds_total / H, abs=1e-4)


def test_samples_scale_the_estimate_from_the_af3_command(conn, settings, alice):
    ten = settings.with_overrides(af3_command=settings.af3_command + " --num_diffusion_samples=10")
    job = jobs.submit(conn, ten, alice, af3("ten samples", SEQ_100))
    assert job.samples == 10 and job.gpu_seconds == pytest.approx(2 * gpu_seconds(100, 1))


def test_a_many_seed_job_of_few_tokens_needs_approval(conn, settings, alice, admin, worker):
    roomy(conn, admin)
    gated = settings.with_overrides(approval_gpu_hours=4, approval_tokens=3000)
    big = jobs.submit(conn, gated, alice, af3("4,000 seeds", SEQ_100, seeds=range(1, 4001)))
    few = jobs.submit(conn, gated, alice, af3("5 seeds", SEQ_100, seeds=range(1, 6)))
    assert big.approval == "pending" and big.stage == approval.AWAITING and few.approval is None
    assert jobs.claim_job(conn, gated, worker, LOCAL).id == few.id
    assert jobs.claim_job(conn, gated, worker, LOCAL) is None
    assert waiting.reason(conn, gated, big) == "waiting: awaiting approval by an admin"


def test_the_default_seed_cap_refuses_and_names_the_limit_and_the_count(conn, settings, alice, admin):
    with pytest.raises(LimitExceeded, match=r"This job has 101 seeds; the limit is 100 seeds per job"):
        jobs.submit(conn, settings, alice, af3("101 seeds", SEQ_100, seeds=range(1, 102)))
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    jobs.set_default_limits(conn, SubmitLimits(seeds_per_job=200), admin.username)
    assert jobs.submit(conn, settings, alice, af3("101 seeds", SEQ_100, seeds=range(1, 102))).seeds == 101


def test_the_gpu_hours_per_job_limit_refuses_a_long_job(conn, settings, alice, admin):
    roomy(conn, admin, hours=24)
    doc = af3("long", "MKVLAAGIVA" * 100, seeds=range(1, 2001))  # 1,000 tokens x 2,000 seeds: ~34 h
    with pytest.raises(LimitExceeded, match=r"needs about 34\.4 GPU hours .*the limit is 24 GPU hours per job"):
        jobs.submit(conn, settings, alice, doc)
    with pytest.raises(InvalidInput, match="GPU hours per job must be a number"):
        jobs.set_default_limits(conn, SubmitLimits(gpu_hours_per_job=0), admin.username)


def test_a_many_seed_job_does_not_start_238_s_before_a_window(conn, settings, alice, admin, worker):
    roomy(conn, admin)
    now = time.time()
    long = jobs.submit(conn, settings, alice, af3("2,000 seeds", SEQ_100, seeds=range(1, 2001)))  # ~4.3 h
    maintenance.add_window(conn, admin, "gpu1", now + 238, now + 2 * H, "kernel update")
    assert jobs.claim_job(conn, settings, worker, [GPU1]) is None
    assert jobs.get_job(conn, alice, long.id).state is JobState.QUEUED
    assert "gpu1 has maintenance at" in waiting.reasons(conn, settings, [long], now, [GPU1])[long.id]


# -- item 5: approval cannot be bypassed or stranded -----------------------------------------------------


def test_a_flagged_users_retry_of_a_job_cancelled_before_the_flag_waits(conn, settings, alice, admin, worker):
    job = jobs.submit(conn, settings, alice, af3())
    jobs.cancel_job(conn, alice, job.id)
    approvals.set_needs_approval(conn, alice.id, True)
    again = jobs.retry_job(conn, alice, job.id, settings)
    assert again.state is JobState.QUEUED and again.approval == "pending" and again.stage == approval.AWAITING
    assert jobs.claim_job(conn, settings, worker, LOCAL) is None
    assert [p.job.id for p in approvals.pending(conn)] == [job.id]


def test_a_rejected_job_retried_by_its_owner_awaits_approval_again(conn, settings, alice, admin, worker):
    gated = settings.with_overrides(approval_tokens=50)
    big = jobs.submit(conn, gated, alice, af3("big", SEQ_100))
    approvals.reject(conn, admin, big.id, "not this month")
    for caller_settings in (gated, None):  # with or without the thresholds at hand
        again = jobs.retry_job(conn, alice, big.id, caller_settings)
        assert again.approval == "pending" and again.stage == approval.AWAITING
        assert [p.job.id for p in approvals.pending(conn)] == [big.id]  # listed under "Awaiting approval"
        assert waiting.reason(conn, gated, again) == "waiting: awaiting approval by an admin"
        assert jobs.claim_job(conn, gated, worker, LOCAL) is None
        approvals.reject(conn, admin, big.id, "still no")
    jobs.retry_job(conn, alice, big.id, gated)
    approvals.approve(conn, admin, big.id)
    assert jobs.claim_job(conn, gated, worker, LOCAL).id == big.id


def test_an_approved_job_that_failed_is_retried_without_asking_again(conn, settings, alice, admin, worker):
    gated = settings.with_overrides(approval_tokens=50)
    big = jobs.submit(conn, gated, alice, af3("big", SEQ_100))
    approvals.approve(conn, admin, big.id)
    jobs.claim_job(conn, gated, worker, LOCAL)
    jobs.cancel_job(conn, admin, big.id)
    conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (big.id,))  # as its worker would record it
    assert jobs.retry_job(conn, alice, big.id, gated).approval == "approved"
    assert jobs.claim_job(conn, gated, worker, LOCAL).id == big.id


def test_a_retry_obeys_the_seed_and_gpu_hour_limits_too(conn, settings, alice, admin):
    roomy(conn, admin)
    job = jobs.submit(conn, settings, alice, af3("300 seeds", SEQ_100, seeds=range(1, 301)))
    jobs.cancel_job(conn, alice, job.id)
    jobs.set_default_limits(conn, SubmitLimits(), admin.username)
    with pytest.raises(LimitExceeded, match="This job has 300 seeds; the limit is 100 seeds per job"):
        jobs.retry_job(conn, alice, job.id, settings)


def test_a_clone_of_a_rejected_job_waits_for_approval(conn, settings, alice, admin):
    gated = settings.with_overrides(approval_tokens=50)
    big = jobs.submit(conn, gated, alice, af3("big", SEQ_100))
    approvals.reject(conn, admin, big.id, "no")
    clone = jobs.clone_job(conn, gated, alice, big.id)
    assert clone.approval == "pending" and clone.stage == approval.AWAITING


# -- item 7: AlphaFold Server count is checked before it is expanded ---------------------------------------


def server_doc(*counts: int) -> list[dict]:
    return [{"name": "copies", "modelSeeds": [1],
             "sequences": [{"ion": {"ion": "MG", "count": n}} for n in counts]}]


def test_a_ten_million_count_is_refused_in_well_under_a_second(conn, settings, alice):
    jobs.submit_document(conn, settings, alice, server_doc(2))  # the CCD is read once, before the clock starts
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as refused:
        jobs.submit_document(conn, settings, alice, server_doc(10_000_000))
    took = time.perf_counter() - started
    assert took < 0.25, f"took {took:.2f} s"  # expanding it held a worker 11.7 s at 2.1 GB
    [problem] = refused.value.problems
    assert problem.path == "[0].sequences[0].ion.count"
    assert "count is 10,000,000 copies; one job holds at most 10,000 copies in all" in problem.message


def test_the_copy_cap_counts_every_entity_of_the_job(conn, settings, alice):
    with pytest.raises(InvalidInput) as refused:
        jobs.submit_document(conn, settings, alice, server_doc(6000, 6000))
    [problem] = refused.value.problems
    assert problem.path == "[0].sequences[1].ion.count" and "(with the 6,000 before it)" in problem.message
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
