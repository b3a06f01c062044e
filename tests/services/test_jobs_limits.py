"""Default submission limits (admin-changeable at runtime), all-or-nothing batches, and the AF3 terms rule."""
from __future__ import annotations

import time

import pytest

from services import jobs
from services.jobs import SubmitLimits, UserLimits
from services.operations import admin
from services.people import users
from services.platform import defaults
from services.platform.errors import InvalidInput, LimitExceeded, PermissionDenied, TermsNotAccepted


def entry(name: str, seq: str = "MKVLAAGIVALLLA") -> dict:
    return {"name": name, "modelSeeds": [1], "sequences": [{"proteinChain": {"sequence": seq, "count": 1}}]}


def af3(name: str = "job", length: int = 20) -> dict:
    return {"name": name, "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
            "sequences": [{"protein": {"id": "A", "sequence": "M" * length}}]}


def count(conn) -> int:
    return conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def test_defaults_are_sane_and_stated():
    assert jobs.SubmitLimits() == SubmitLimits(100, 5000, 500)
    assert defaults.MAX_TOKENS_PER_JOB == 5000  # AF3's practical ceiling on one 80 GB GPU


def test_a_file_over_the_jobs_limit_is_refused_before_checking_its_entries(conn, settings, alice):
    doc = [{"name": f"broken {i}"} for i in range(defaults.MAX_JOBS_PER_SUBMIT + 1)]  # invalid, but never read
    started = time.perf_counter()
    with pytest.raises(LimitExceeded) as exc:
        jobs.submit_document(conn, settings, alice, doc)
    assert time.perf_counter() - started < 0.5
    assert str(exc.value).startswith("This file has 101 jobs; the limit is 100 per submission. Nothing was submitted")
    assert "ask an admin" in str(exc.value)
    assert count(conn) == 0


def test_a_job_over_the_default_tokens_limit_is_refused(conn, settings, alice):
    with pytest.raises(LimitExceeded, match=r"^This job has 5,001 tokens; your limit is 5,000 tokens per job "
                                            r"\(AlphaFold 3 fits about 5,000 on one 80 GB GPU\); ask an admin"):
        jobs.submit(conn, settings, alice, af3(length=5001))
    assert jobs.submit(conn, settings, alice, af3(length=5000)).tokens == 5000


def test_admin_changes_the_defaults_at_runtime_and_own_limits_win(conn, settings, alice):
    boss = users.get_by_name(conn, "admin")
    with pytest.raises(PermissionDenied):
        admin.set_default_limits(conn, alice, SubmitLimits(1000, 1000, 1000))
    with pytest.raises(InvalidInput, match="Queued jobs per user must be a whole number from 1 to 10,000,000"):
        admin.set_default_limits(conn, boss, SubmitLimits(10, 100, 0))
    admin.set_default_limits(conn, boss, SubmitLimits(jobs_per_submit=3, tokens_per_job=30, queued_per_user=4))
    assert jobs.default_limits(conn) == SubmitLimits(3, 30, 4)

    with pytest.raises(LimitExceeded, match="has 4 jobs; the limit is 3 per submission"):
        jobs.submit_document(conn, settings, alice, [entry(f"e{i}") for i in range(4)])
    with pytest.raises(LimitExceeded, match="31 tokens; your limit is 30 tokens per job"):
        jobs.submit(conn, settings, alice, af3(length=31))
    jobs.submit_document(conn, settings, alice, [entry(f"e{i}") for i in range(3)])
    with pytest.raises(LimitExceeded, match=r"^Entry 2 \(f1\): you already have 3 queued and this adds 2; "
                                            r"the limit is 4 queued jobs"):
        jobs.submit_document(conn, settings, alice, [entry("f0"), entry("f1")])

    jobs.set_limits(conn, alice.id, UserLimits(max_queued=10, max_tokens=40))  # her own limits, above the defaults
    assert jobs.effective_limits(conn, alice.id) == SubmitLimits(3, 40, 10)
    jobs.submit(conn, settings, alice, af3(length=40))
    jobs.set_limits(conn, alice.id, UserLimits())  # back to the defaults
    with pytest.raises(LimitExceeded, match="You already have 4 queued jobs; the limit is 4"):
        jobs.submit(conn, settings, alice, af3())


def test_a_100_job_file_submits_in_one_quick_all_or_nothing_transaction(conn, settings, alice):
    doc = [entry(f"screen {i}") for i in range(100)]
    jobs.set_limits(conn, alice.id, UserLimits(max_queued=99))
    with pytest.raises(LimitExceeded, match=r"^Entry 100 \(screen 99\): you already have 0 queued and this adds 100"):
        jobs.submit_document(conn, settings, alice, doc)
    assert count(conn) == 0 and (not settings.jobs_dir.exists() or not any(settings.jobs_dir.iterdir()))

    jobs.set_limits(conn, alice.id, UserLimits())
    changes = conn.total_changes
    started = time.perf_counter()
    made = jobs.submit_document(conn, settings, alice, doc, idempotency_key="screen")
    took = time.perf_counter() - started
    trigger_changes = 3 * 100  # migration 0010's triggers bump the owner's, the global and the queue counter per row
    assert took < 2.0, f"100 jobs took {took:.2f} s"  # ~0.1 s on the 2-core dev machine; 94,000 took 241 s
    assert [j.name for j in made] == [f"screen {i}" for i in range(100)]
    assert [j.id for j in made] == list(range(1, 101)) and all(j.input_path.startswith("/") for j in made)
    assert all((settings.jobs_dir / str(j.id) / "input.json").is_file() for j in made)
    assert conn.total_changes - changes - trigger_changes == 100  # one insert per job: no per-job follow-up update
    again = jobs.submit_document(conn, settings, alice, doc, idempotency_key="screen")  # a double click
    assert [j.id for j in again] == [j.id for j in made] and count(conn) == 100


def test_terms_one_rule_for_every_submission(conn, settings):
    bob = users.create_user(conn, "bob", "bob-password-1")
    with pytest.raises(TermsNotAccepted, match="accept the AlphaFold 3 model-parameter terms"):
        jobs.submit(conn, settings, bob, af3())  # never accepted, and not now
    with pytest.raises(TermsNotAccepted):
        jobs.submit_document(conn, settings, bob, [entry("a"), entry("b")], accept_terms=False)
    assert count(conn) == 0 and users.get_user(conn, bob.id).accepted_terms_at is None

    before = time.time()
    job = jobs.submit(conn, settings, bob, af3("first"), accept_terms=True, via="builder")
    accepted = users.get_user(conn, bob.id).accepted_terms_at
    assert before <= job.terms_accepted_at == accepted and job.terms_via == "builder"
    later = jobs.submit(conn, settings, bob, af3("second"), accept_terms=True, via="upload")
    assert later.terms_accepted_at >= job.terms_accepted_at and later.terms_via == "upload"
    assert users.get_user(conn, bob.id).accepted_terms_at == accepted  # the first acceptance is kept
    with pytest.raises(TermsNotAccepted):  # unticked on a page: refused even for someone who accepted before
        jobs.submit(conn, settings, bob, af3("third"), accept_terms=False)
    clone = jobs.clone_job(conn, settings, bob, job.id)  # no page asks: relies on the earlier acceptance
    assert clone.terms_accepted_at == accepted and clone.terms_via == "clone"
