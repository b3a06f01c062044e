"""The O(1) "changed?" marks (migration 0010's triggers) and page-only queue positions."""
from __future__ import annotations

import random

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, joblog
from services.operations import admin
from services.people import users

BIG = [Host(name="local", slots=100)]


def af3(name: str = "job") -> dict:
    return {"name": name, "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
            "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVA"}}]}


@pytest.fixture
def admin_user(conn):
    return users.get_by_name(conn, "admin")


class Marks:
    """Reads alice's, bob's, the all-users and the queue counters before and after a write."""

    def __init__(self, conn, alice, bob, admin_user):
        self.conn, self.alice, self.bob, self.admin = conn, alice, bob, admin_user

    def read(self) -> dict[str, int]:
        a, queue = jobs.change_marks(self.conn, self.alice)
        b, _ = jobs.change_marks(self.conn, self.bob)
        everyone, _ = jobs.change_marks(self.conn, self.admin, all_users=True)
        return {"alice": a, "bob": b, "all": everyone, "queue": queue}

    def moved(self, write) -> set[str]:
        before = self.read()
        result = write()
        after = self.read()
        self.result = result
        return {k for k in before if after[k] != before[k]}


@pytest.fixture
def marks(conn, alice, bob, admin_user):
    return Marks(conn, alice, bob, admin_user)


def test_marks_move_on_every_write_a_page_shows(conn, settings, alice, bob, admin_user, marks):
    assert marks.moved(lambda: jobs.submit(conn, settings, alice, af3())) == {"alice", "all", "queue"}
    job = marks.result
    assert marks.moved(lambda: jobs.claim_job(conn, settings, "w1", BIG)) == {"alice", "all", "queue"}
    running = marks.result
    assert jobs.start_attempt(conn, running, "{}")
    # progress the grid shows: a stage line moves the user's mark, not the queue's
    line = "Running data pipeline for chain A..."
    assert marks.moved(lambda: joblog.append_lines(conn, job.id, [line])) == {"alice", "all"}
    assert marks.moved(lambda: conn.execute("UPDATE jobs SET progress = 0.5 WHERE id = ?", (job.id,))) \
        == {"alice", "all"}
    assert marks.moved(lambda: jobs.cancel_job(conn, alice, job.id)) == {"alice", "all"}  # cancel requested
    assert marks.moved(lambda: jobs.finish_attempt(conn, running, JobState.CANCELLED)) == {"alice", "all", "queue"}
    assert marks.moved(lambda: jobs.retry_job(conn, alice, job.id)) == {"alice", "all", "queue"}
    assert marks.moved(lambda: jobs.clone_job(conn, settings, alice, job.id)) == {"alice", "all", "queue"}
    # an admin cancelling bob's queued job moves bob's mark and the queue, not alice's
    theirs = jobs.submit(conn, settings, bob, af3())
    assert marks.moved(lambda: admin.cancel_job(conn, admin_user, theirs.id)) == {"bob", "all", "queue"}
    # a finish that succeeds
    claimed = jobs.claim_job(conn, settings, "w1", BIG)
    assert marks.moved(lambda: jobs.finish_attempt(conn, claimed, JobState.SUCCEEDED)) == {"alice", "all", "queue"}


def test_marks_stay_on_writes_no_page_shows(conn, settings, alice, bob, admin_user, marks):
    job = jobs.submit(conn, settings, alice, af3())
    running = jobs.claim_job(conn, settings, "w1", BIG)
    jobs.register_worker(conn, "w1", "node1", 1)
    assert marks.moved(lambda: jobs.heartbeat(conn, "w1", 30)) == set()
    assert marks.moved(lambda: jobs.record_process(conn, running, pid=4242)) == set()
    assert marks.moved(lambda: jobs.record_gpu_usage(conn, job.id, 1024.0, 55.0)) == set()
    # a progress step below the whole percent the grid shows
    conn.execute("UPDATE jobs SET progress = 0.501 WHERE id = ?", (job.id,))
    assert marks.moved(lambda: conn.execute("UPDATE jobs SET progress = 0.502 WHERE id = ?", (job.id,))) == set()
    # plain log lines advance log_seq only
    assert marks.moved(lambda: joblog.append_lines(conn, job.id, ["just a line"])) == set()
    assert marks.moved(lambda: users.create_user(conn, "dave", "dave-password-1")) == set()
    assert marks.moved(lambda: users.create_user(conn, "carol", "carol-password-1")) == set()


def test_pausing_the_queue_moves_the_queue_mark_once(conn, settings, admin_user, marks):
    assert marks.moved(lambda: jobs.pause_queue(conn, admin_user)) == {"queue"}  # queued rows say "paused"
    assert marks.moved(lambda: jobs.pause_queue(conn, admin_user)) == set()  # already paused: nothing shown moves
    assert marks.moved(lambda: jobs.resume_queue(conn, admin_user)) == {"queue"}


def test_marks_are_per_user(conn, settings, alice, bob, marks):
    assert marks.moved(lambda: jobs.submit(conn, settings, bob, af3())) == {"bob", "all", "queue"}
    assert jobs.change_marks(conn, alice)[0] == 0  # alice has no jobs: her counter was never bumped


def _random_queue(conn, settings, people, rng: random.Random, n: int) -> None:
    """Submit `n` jobs from random owners, some with equal queued_at, and run a few of them."""
    for _ in range(n):
        jobs.submit(conn, settings, rng.choice(people), af3())
    ids = [r[0] for r in conn.execute("SELECT id FROM jobs")]
    for job_id in rng.sample(ids, k=n // 4):  # ties on queued_at break by id, as in claim_job
        conn.execute("UPDATE jobs SET queued_at = 1000.0 WHERE id = ?", (job_id,))
    for _ in range(rng.randrange(0, n // 3)):
        jobs.claim_job(conn, settings, "w", BIG)


@pytest.mark.parametrize("seed", range(6))
def test_page_positions_equal_the_full_fair_order(conn, settings, seed):
    rng = random.Random(seed)
    people = [users.create_user(conn, f"u{i}", "user-password-1") for i in range(rng.randrange(2, 7))]
    for person in people:
        users.accept_terms(conn, person.id)
    _random_queue(conn, settings, people, rng, 60)
    full = jobs.queue_positions(conn)
    assert sorted(full.values()) == list(range(1, len(full) + 1))
    all_ids = [r[0] for r in conn.execute("SELECT id FROM jobs")]
    page = rng.sample(all_ids, k=20)  # a page mixes queued and running jobs
    assert jobs.queue_positions(conn, page) == {i: full[i] for i in page if i in full}
    assert jobs.queue_positions(conn, list(full)) == full
    assert jobs.queue_positions(conn, []) == {}
    # and the order is the one workers claim in
    order = [jobs.claim_job(conn, settings, "w", BIG).id for _ in range(len(full))]
    assert order == sorted(full, key=full.get)


def test_listed_jobs_equal_jobs_read_one_by_one(conn, settings, alice, bob, admin_user):
    for person in (alice, bob):
        jobs.submit(conn, settings, person, af3(person.username))
    jobs.claim_job(conn, settings, "w1", BIG)
    jobs.cancel_job(conn, alice, jobs.list_jobs(conn, alice)[0][0].id)
    page, total = jobs.list_jobs(conn, admin_user, all_users=True)
    assert total == 2 and page == [jobs.get_job(conn, admin_user, j.id) for j in page]
    assert jobs.running_jobs(conn) == [jobs.get_job(conn, admin_user, j.id) for j in jobs.running_jobs(conn)]
    assert jobs.list_jobs(conn, admin_user, all_users=True, search="bob")[1] == 1  # a search by owner name
