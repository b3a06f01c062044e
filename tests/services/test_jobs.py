"""Job store: state machine, visibility, idempotency, limits, fairness, leases, queue control."""
from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, UserLimits, joblog
from services.platform import db
from services.platform.errors import InvalidInput, JobNotFound, JobStateError, LimitExceeded

LOCAL2 = [Host(name="local", slots=2)]
BIG = [Host(name="local", slots=100)]


def af3(name: str = "job", seq: str = "MKVLAAGIVALLLA", seeds: tuple = (1,)) -> dict:
    return {"name": name, "modelSeeds": list(seeds), "dialect": "alphafold3", "version": 1,
            "sequences": [{"protein": {"id": "A", "sequence": seq}}]}


def test_submit_keeps_input_file_and_tokens(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3("first one"))
    assert job.state is JobState.QUEUED and job.owner == "alice" and job.name == "first one"
    assert job.tokens == 14 and job.attempts == 0
    assert job.input_path == str(settings.jobs_dir / str(job.id) / "input.json")
    assert json.loads(open(job.input_path).read())["name"] == "first one"


def test_idempotency_key_makes_one_job(conn, settings, alice, admin):
    a = jobs.submit(conn, settings, alice, af3(), idempotency_key="click-1")
    b = jobs.submit(conn, settings, alice, af3(), idempotency_key="click-1")
    c = jobs.submit(conn, settings, admin, af3(), idempotency_key="click-1")  # keys are per owner
    assert a.id == b.id != c.id
    assert jobs.list_jobs(conn, alice)[1] == 1


def test_state_machine(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3())
    # queued -> cancelled at once; a finished job cannot be cancelled again
    assert jobs.cancel_job(conn, alice, job.id).state is JobState.CANCELLED
    with pytest.raises(JobStateError):
        jobs.cancel_job(conn, alice, job.id)
    # cancelled -> retry -> queued -> claimed (running, attempt 1)
    assert jobs.retry_job(conn, alice, job.id).state is JobState.QUEUED
    running = jobs.claim_job(conn, settings, "w1", LOCAL2)
    assert running.id == job.id and running.state is JobState.RUNNING and running.attempts == 1
    with pytest.raises(JobStateError):
        jobs.retry_job(conn, alice, job.id)
    # running -> cancel requested (still running until the worker stops it) -> cancelled
    after = jobs.cancel_job(conn, alice, job.id)
    assert after.state is JobState.RUNNING and after.cancel_requested
    assert jobs.check_running(conn, running) == "cancel"
    assert jobs.finish_attempt(conn, running, JobState.CANCELLED, exit_code=-15)
    assert jobs.get_job(conn, alice, job.id).state is JobState.CANCELLED
    # retry again -> attempt 2 fails -> retry -> attempt 3 succeeds; history keeps all three
    jobs.retry_job(conn, alice, job.id)
    second = jobs.claim_job(conn, settings, "w1", LOCAL2)
    assert second.attempts == 2 and not second.cancel_requested
    jobs.finish_attempt(conn, second, JobState.FAILED, exit_code=1, error="boom")
    failed = jobs.get_job(conn, alice, job.id)
    assert (failed.state, failed.error, failed.exit_code) == (JobState.FAILED, "boom", 1)
    jobs.retry_job(conn, alice, job.id)
    third = jobs.claim_job(conn, settings, "w1", LOCAL2)
    jobs.finish_attempt(conn, third, JobState.SUCCEEDED, exit_code=0)
    done = jobs.get_job(conn, alice, job.id)
    assert done.state is JobState.SUCCEEDED and done.error is None and done.progress == 1.0
    assert [(a.attempt, a.outcome) for a in jobs.attempts(conn, alice, job.id)] == [
        (1, "cancelled"), (2, "failed"), (3, "succeeded")]
    with pytest.raises(JobStateError):
        jobs.retry_job(conn, alice, job.id)
    # a stale worker cannot overwrite the outcome of an attempt it no longer holds
    assert not jobs.finish_attempt(conn, second, JobState.FAILED, exit_code=9)
    assert jobs.get_job(conn, alice, job.id).state is JobState.SUCCEEDED


def test_clone_makes_a_new_job_from_the_same_input(conn, settings, alice, admin):
    job = jobs.submit(conn, settings, alice, af3("orig", seeds=(7, 8)))
    clone = jobs.clone_job(conn, settings, admin, job.id)
    assert clone.id != job.id and clone.owner == "admin" and clone.read_input() == job.read_input()
    assert clone.cloned_from == job.id


def test_users_see_only_their_jobs(conn, settings, alice, admin):
    mine = jobs.submit(conn, settings, alice, af3("alice job"))
    theirs = jobs.submit(conn, settings, admin, af3("admin job"))
    with pytest.raises(JobNotFound) as hidden:
        jobs.get_job(conn, alice, theirs.id)
    with pytest.raises(JobNotFound) as missing:
        jobs.get_job(conn, alice, 999_999)
    assert str(hidden.value).replace(str(theirs.id), "N") == str(missing.value).replace("999999", "N")
    for action in (jobs.cancel_job, jobs.retry_job):
        with pytest.raises(JobNotFound):
            action(conn, alice, theirs.id)
    assert jobs.get_job(conn, admin, mine.id).id == mine.id
    assert [j.id for j in jobs.list_jobs(conn, alice, all_users=True)[0]] == [mine.id]  # not an admin
    assert {j.id for j in jobs.list_jobs(conn, admin, all_users=True)[0]} == {mine.id, theirs.id}
    assert [j.id for j in jobs.list_jobs(conn, admin)[0]] == [theirs.id]


def test_list_filters_pages_and_counts(conn, settings, alice):
    ids = [jobs.submit(conn, settings, alice, af3(f"run {i:02d}")).id for i in range(12)]
    jobs.cancel_job(conn, alice, ids[0])
    page, total = jobs.list_jobs(conn, alice, offset=5, limit=5)
    assert total == 12 and [j.id for j in page] == ids[::-1][5:10]
    queued, n = jobs.list_jobs(conn, alice, state="queued", limit=100)
    assert n == 11 and ids[0] not in {j.id for j in queued}
    found, n = jobs.list_jobs(conn, alice, search="run 1")
    assert n == 2 and {j.name for j in found} == {"run 10", "run 11"}
    assert jobs.list_jobs(conn, alice, search="100%")[1] == 0  # LIKE wildcards are literal
    assert jobs.list_jobs(conn, alice, search=f"#{ids[3]}")[0][0].id == ids[3]
    assert [j.name for j in jobs.list_jobs(conn, alice, sort="name_asc", limit=2)[0]] == ["run 00", "run 01"]
    with pytest.raises(InvalidInput):
        jobs.list_jobs(conn, alice, sort="nonsense")
    assert jobs.state_counts(conn, alice) == {"queued": 11, "running": 0, "succeeded": 0, "failed": 0,
                                              "cancelled": 1}
    before = jobs.last_change(conn, alice)
    assert before > 0
    jobs.cancel_job(conn, alice, ids[5])
    assert jobs.last_change(conn, alice) > before


def test_limits_refuse_submissions_with_clear_messages(conn, settings, alice):
    jobs.set_limits(conn, alice.id, UserLimits(max_queued=2, max_tokens=20))
    jobs.submit(conn, settings, alice, af3())
    jobs.submit(conn, settings, alice, af3())
    with pytest.raises(LimitExceeded, match=r"^You already have 2 queued jobs; the limit is 2\. Wait .* ask an admin"):
        jobs.submit(conn, settings, alice, af3())
    jobs.set_limits(conn, alice.id, UserLimits(max_tokens=20))
    with pytest.raises(LimitExceeded, match="This job has 30 tokens; your limit is 20 tokens per job"):
        jobs.submit(conn, settings, alice, af3(seq="M" * 30))
    assert jobs.get_limits(conn, alice.id) == UserLimits(None, None, 20)
    with pytest.raises(InvalidInput):
        jobs.set_limits(conn, alice.id, UserLimits(max_running=-1))


def test_claim_respects_max_running_and_host_slots(conn, settings, alice, bob):
    jobs.set_limits(conn, alice.id, UserLimits(max_running=1))
    a1, a2 = (jobs.submit(conn, settings, alice, af3()) for _ in range(2))
    b1, b2, b3 = (jobs.submit(conn, settings, bob, af3()) for _ in range(3))
    hosts = [Host(name="local", slots=1), Host(name="gpu", address="x", slots=2)]
    claimed = [jobs.claim_job(conn, settings, "w", hosts) for _ in range(4)]
    assert [c.id for c in claimed[:3]] == [a1.id, b1.id, b2.id]  # alice capped at one running
    assert claimed[3] is None  # three slots in all
    assert sorted(c.host for c in claimed[:3]) == ["gpu", "gpu", "local"]
    slots = jobs.slots_per_host(settings.with_overrides(local_slots=1), conn)
    assert slots["local"].running == 1 and slots["local"].free == 0
    assert [j.id for j in jobs.running_jobs(conn)] == [a1.id, b1.id, b2.id]


def test_fair_order_across_two_users(conn, settings, alice, bob):
    a = [jobs.submit(conn, settings, alice, af3(f"a{i}")).id for i in range(4)]
    b = [jobs.submit(conn, settings, bob, af3(f"b{i}")).id for i in range(2)]  # bob submits after alice
    expected = [a[0], b[0], a[1], b[1], a[2], a[3]]
    positions = jobs.queue_positions(conn)
    assert sorted(positions, key=positions.get) == expected and sorted(positions.values()) == list(range(1, 7))
    order = [jobs.claim_job(conn, settings, "w", BIG).id for _ in range(6)]
    assert order == expected


def test_fairness_counts_running_jobs(conn, settings, alice, bob):
    a = [jobs.submit(conn, settings, alice, af3()).id for _ in range(3)]
    jobs.claim_job(conn, settings, "w", BIG)
    jobs.claim_job(conn, settings, "w", BIG)  # alice has two running, one queued
    b = jobs.submit(conn, settings, bob, af3()).id  # newer, but bob runs nothing
    assert jobs.queue_positions(conn) == {b: 1, a[2]: 2}
    assert jobs.claim_job(conn, settings, "w", BIG).id == b


def test_expired_lease_requeues_then_fails_as_worker_lost(conn, settings, alice):
    s = settings.with_overrides(max_attempts=2)
    job = jobs.submit(conn, s, alice, af3())
    first = jobs.claim_job(conn, s, "dead-worker", BIG)
    assert jobs.reap_expired(conn, s, now=first.lease_expires - 1) == []
    jobs.reap_expired(conn, s, now=first.lease_expires + 1)
    again = jobs.get_job(conn, alice, job.id)
    assert again.state is JobState.QUEUED and again.worker_id is None
    assert jobs.check_running(conn, first) == "lost"
    second = jobs.claim_job(conn, s, "w2", BIG)
    assert second.attempts == 2
    jobs.heartbeat(conn, "w2", 1000)
    assert jobs.reap_expired(conn, s, now=second.lease_expires + 1) == []  # renewed
    jobs.reap_expired(conn, s, now=second.lease_expires + 2000)
    lost = jobs.get_job(conn, alice, job.id)
    assert (lost.state, lost.error) == (JobState.FAILED, "worker lost")
    assert "stopped answering" in joblog.read_log(conn, job.id)[-1].text


def test_pause_stops_claims_but_not_running_jobs(conn, settings, alice, admin):
    jobs.submit(conn, settings, alice, af3())
    jobs.submit(conn, settings, alice, af3())
    running = jobs.claim_job(conn, settings, "w", BIG)
    jobs.pause_queue(conn, admin)
    assert jobs.queue_paused(conn)
    assert jobs.claim_job(conn, settings, "w", BIG) is None
    assert jobs.check_running(conn, running) == ""
    jobs.resume_queue(conn, admin)
    assert not jobs.queue_paused(conn) and jobs.claim_job(conn, settings, "w", BIG) is not None


def test_workers_table(conn, settings, alice):
    jobs.register_worker(conn, "w-1", "node1", 1234)
    jobs.submit(conn, settings, alice, af3())
    job = jobs.claim_job(conn, settings, "w-1", BIG)
    (w,) = jobs.list_workers(conn)
    assert (w.id, w.host_name, w.pid, w.current_job, w.running_jobs) == ("w-1", "node1", 1234, job.id, (job.id,))
    jobs.stop_worker(conn, "w-1")
    assert jobs.list_workers(conn) == [] and len(jobs.list_workers(conn, include_stopped=True)) == 1


def test_gpu_usage_is_stored_on_the_job(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3())
    jobs.record_gpu_usage(conn, job.id, 10240.5, 87.5)
    got = jobs.get_job(conn, alice, job.id)
    assert (got.peak_mem_mib, got.mean_util) == (10240.5, 87.5)


def test_submit_document_server_list_makes_one_job_per_entry(conn, settings, alice):
    doc = [{"name": f"srv {i}", "modelSeeds": [], "sequences": [
        {"proteinChain": {"sequence": "MKVLAAGIVALLLA", "count": 1}}]} for i in range(3)]
    made = jobs.submit_document(conn, settings, alice, doc, idempotency_key="upload-1")
    assert [j.name for j in made] == ["srv 0", "srv 1", "srv 2"]
    again = jobs.submit_document(conn, settings, alice, doc, idempotency_key="upload-1")
    assert [j.id for j in again] == [j.id for j in made]
    with pytest.raises(InvalidInput) as err:
        jobs.submit_document(conn, settings, alice, {"name": "bad", "sequences": []})
    assert err.value.problems
    assert jobs.list_jobs(conn, alice)[1] == 3


def test_dashboard_queries_use_indexes(conn, settings, alice):
    """The dashboard's reads must not scan the jobs table (the 20 ms budget; see bench/bench_jobs.py)."""
    plans = []
    for sql, args in [
        ("SELECT MAX(j.updated_at) FROM jobs j WHERE j.owner_id = ?", (alice.id,)),
        ("SELECT j.state, COUNT(*) FROM jobs j WHERE j.owner_id = ? GROUP BY j.state", (alice.id,)),
        (jobs.SELECT_JOB + " WHERE j.owner_id = ? ORDER BY j.submitted_at DESC, j.id DESC LIMIT 50", (alice.id,)),
        (jobs.SELECT_JOB + " WHERE j.owner_id = ? AND j.state IN ('queued') ORDER BY j.submitted_at DESC LIMIT 50",
         (alice.id,)),
    ]:
        plans.append(" | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args)))
    for plan in plans:
        assert "SCAN j" not in plan and "USING" in plan, plan


def test_job_events_reach_the_application_log_with_user_and_job(conn, settings, alice, caplog):
    caplog.set_level("INFO", logger="folddeck.jobs")
    job = jobs.submit(conn, settings, alice, af3())
    jobs.cancel_job(conn, alice, job.id)
    events = [(r.getMessage().split(" ", 2)[2], r.source, r.username, r.job_id) for r in caplog.records
              if r.name == "folddeck.jobs"]
    assert [e[1:] for e in events] == [("jobs", "alice", job.id)] * 2
    assert events[0][0].startswith("(job) submitted by alice") and "cancel requested by alice" in events[1][0]


def server_entry(name: str, seq: str = "MKVLAAGIVALLLA") -> dict:
    return {"name": name, "modelSeeds": [], "sequences": [{"proteinChain": {"sequence": seq, "count": 1}}]}


def test_submit_document_refusing_one_entry_submits_none(conn, settings, alice):
    jobs.set_limits(conn, alice.id, UserLimits(max_tokens=20))
    doc = [server_entry("small 1"), server_entry("small 2"), server_entry("big", "M" * 30), server_entry("small 3")]
    with pytest.raises(LimitExceeded, match=r"^Entry 3 \(big\): This job has 30 tokens; your limit is 20 tokens "
                                            r"per job .*ask an admin if you need more\. Nothing was submitted\.$"):
        jobs.submit_document(conn, settings, alice, doc)
    assert jobs.list_jobs(conn, alice)[1] == 0
    assert not settings.jobs_dir.exists() or not any(settings.jobs_dir.iterdir())  # no orphan input files


def test_submit_document_checks_the_queued_limit_for_the_whole_batch(conn, settings, alice):
    jobs.set_limits(conn, alice.id, UserLimits(max_queued=3))
    jobs.submit(conn, settings, alice, af3())
    doc = [server_entry(f"srv {i}") for i in range(3)]
    with pytest.raises(LimitExceeded, match=r"^Entry 3 \(srv 2\): you already have 1 queued and this adds 3; "
                                            r"the limit is 3 queued jobs\. .* Nothing was submitted\.$"):
        jobs.submit_document(conn, settings, alice, doc)
    assert jobs.list_jobs(conn, alice)[1] == 1
    assert len(jobs.submit_document(conn, settings, alice, doc[:2])) == 2  # what fits goes in


def test_submit_document_failed_input_write_rolls_back_every_entry(conn, settings, alice):
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    (settings.jobs_dir / "2").write_text("in the way")  # job 2's folder cannot be made
    with pytest.raises(OSError):
        jobs.submit_document(conn, settings, alice, [server_entry("one"), server_entry("two")])
    assert jobs.list_jobs(conn, alice)[1] == 0
    assert not (settings.jobs_dir / "1").exists()  # job 1's input went with the rollback
    (settings.jobs_dir / "2").unlink()
    made = jobs.submit_document(conn, settings, alice, [server_entry("one"), server_entry("two")])
    assert [j.read_input()["name"] for j in made] == ["one", "two"]


def test_pausing_writes_one_info_event_with_the_acting_admin(conn, admin, caplog):
    from services.operations import admin as admin_actions

    caplog.set_level(logging.DEBUG, logger="folddeck")
    admin_actions.pause_queue(conn, admin)
    admin_actions.resume_queue(conn, admin)
    events = [(r.name, r.getMessage(), r.username) for r in caplog.records
              if r.name.startswith("folddeck") and r.levelno >= logging.INFO]
    assert events == [("folddeck.admin", "admin: pause the queue (running jobs continue)", "admin"),
                      ("folddeck.admin", "admin: resume the queue", "admin")]


def test_concurrent_claimers_keep_users_fair(settings, alice, bob, conn):
    """Three workers claim at once (own connections): each claim still goes to the user running fewest."""
    a = {jobs.submit(conn, settings, alice, af3()).id for _ in range(8)}
    b = {jobs.submit(conn, settings, bob, af3()).id for _ in range(8)}  # all after alice's
    claimed: list[int] = []
    start = threading.Barrier(3)

    def claimer(name: str) -> None:
        c = db.connect(settings.db_path)
        start.wait()
        try:
            while (job := jobs.claim_job(c, settings, name, BIG)) is not None:
                claimed.append(job.id)
                time.sleep(0.005)  # starting the job: the other workers claim meanwhile
        finally:
            db.close_all()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(claimed) == sorted(a | b)  # each job once
    # Claims commit one at a time; in commit order the two users' counts never differ by more than one.
    order = [r[0] for r in conn.execute("SELECT job_id FROM job_attempts ORDER BY rowid")]
    workers = {r[0] for r in conn.execute("SELECT DISTINCT worker_id FROM job_attempts")}
    diffs = [abs(sum(j in a for j in order[:n]) - sum(j in b for j in order[:n])) for n in range(1, 17)]
    assert max(diffs) <= 1, order
    assert len(workers) >= 2  # the claims really interleaved across workers


def test_heartbeat_renews_only_the_jobs_the_worker_runs(conn, settings, alice):
    for _ in range(2):
        jobs.submit(conn, settings, alice, af3())
    kept, forgotten = (jobs.claim_job(conn, settings, "w", BIG) for _ in range(2))
    jobs.heartbeat(conn, "w", 1000, job_ids=[kept.id])
    reaped = jobs.reap_expired(conn, settings, now=forgotten.lease_expires + 1)
    assert [j.id for j in reaped] == [forgotten.id]  # a job its worker lost track of is not renewed forever
    assert jobs.get_job(conn, alice, kept.id).state is JobState.RUNNING


def test_closing_line_is_written_only_with_the_state_change(conn, settings, alice):
    job = jobs.submit(conn, settings, alice, af3())
    stale = jobs.claim_job(conn, settings, "w1", BIG)
    jobs.reap_expired(conn, settings, now=stale.lease_expires + 1)
    line = [(joblog.Stream.SYSTEM.value, "Job succeeded.", "success")]
    assert not jobs.finish_attempt(conn, stale, JobState.SUCCEEDED, exit_code=0, log_lines=line)
    assert "Job succeeded." not in [x.text for x in joblog.read_log(conn, job.id)]
    fresh = jobs.claim_job(conn, settings, "w2", BIG)
    assert jobs.finish_attempt(conn, fresh, JobState.SUCCEEDED, exit_code=0, log_lines=line)
    assert joblog.read_log(conn, job.id)[-1].text == "Job succeeded."
