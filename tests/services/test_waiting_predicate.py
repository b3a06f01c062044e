"""One predicate for why a job waits (issue 23): the claim starts a job exactly when `waiting.decide` says it may,
and a job the claim passes over says the claim's reason — a host in backoff is named, not "a free GPU"."""
from __future__ import annotations

import time

from services import jobs
from services.hosts import Host
from services.jobs.model import load_job
from services.jobs.rules import waiting, wording
from services.operations import maintenance
from tests.services.test_jobs import af3

GPU1 = Host(name="gpu1", address="x", user="u", slots=1)
H = 3600


def _agree(conn, settings, job, hosts) -> str:
    """Return the job's reason after checking the claim does what it says: start it iff there is no reason."""
    why = waiting.reasons(conn, settings, [load_job(conn, job.id)], time.time(), hosts)[job.id]
    claimed = jobs.claim_job(conn, settings, "w-1", hosts)
    assert (claimed is not None) == (why == wording.STARTING), (why, claimed)
    return why


def test_the_claim_and_the_reason_are_the_same_decision(conn, settings, alice, admin):
    jobs.register_worker(conn, "w-1", "node1", 1234)
    job = jobs.submit(conn, settings, alice, af3())
    jobs.mark_host_down(conn, "gpu1", "connection refused")
    assert _agree(conn, settings, job, [GPU1]).startswith(
        "waiting: gpu1 cannot be reached (connection refused); tried again at ")
    jobs.mark_host_up(conn, "gpu1")
    w = maintenance.add_window(conn, admin, "gpu1", time.time() - 60, time.time() + H)
    assert _agree(conn, settings, job, [GPU1]).startswith("waiting: gpu1 in maintenance until ")
    maintenance.delete_window(conn, admin, w.id)
    jobs.pause_queue(conn, admin)
    assert _agree(conn, settings, job, [GPU1]) == waiting.PAUSED
    jobs.resume_queue(conn, admin)
    jobs.set_limits(conn, alice.id, jobs.UserLimits(max_running=0, max_queued=None, max_tokens=None))
    assert "per-user limit, 0 of 0" in _agree(conn, settings, job, [GPU1])
    jobs.set_limits(conn, alice.id, jobs.UserLimits(max_running=None, max_queued=None, max_tokens=None))
    assert _agree(conn, settings, job, [GPU1]) == wording.STARTING  # ...and it was claimed
    second = jobs.submit(conn, settings, alice, af3("second"))
    assert _agree(conn, settings, second, [GPU1]) == waiting.NO_SLOT  # gpu1's one slot is the first job's


def test_a_free_slot_without_a_worker_says_no_worker_runs(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3())
    assert waiting.reason(conn, settings, job, time.time()) == wording.NO_WORKER


def test_the_cli_shows_the_same_words(conn, settings, alice):
    from tests.services.test_jobs_cli import cli

    job = jobs.submit(conn, settings, alice, af3())
    jobs.mark_host_down(conn, "local", "connection refused")
    shown = dict(line.split(None, 1) for line in cli(settings, "show", str(job.id)).stdout.splitlines())
    assert shown["waiting"] == waiting.reason(conn, settings, load_job(conn, job.id))
    assert shown["waiting"].startswith("waiting: local cannot be reached (connection refused)")
