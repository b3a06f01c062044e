"""Admin actions: only admins, the last-admin rule, limits the queue enforces, queue control, usage
figures, and every action (or refusal) in the application log with the acting admin."""
from __future__ import annotations

import logging

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, UserLimits
from services.operations import admin
from services.people import users
from services.platform import applog
from services.platform.applog import LogFilters
from services.platform.errors import InvalidInput, LimitExceeded, PermissionDenied, UserError
from tests.conftest import USER_PASSWORD

BIG = [Host(name="local", slots=10)]


def af3(name: str = "job", seq: str = "MKVLAAGIVALLLA") -> dict:
    return {"name": name, "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
            "sequences": [{"protein": {"id": "A", "sequence": seq}}]}


@pytest.fixture
def boss(conn):
    return users.get_by_name(conn, "admin")


@pytest.fixture
def audit(settings, conn):
    """The application log for `settings`; call it to get the admin entries written so far."""
    root = logging.getLogger("folddeck")
    old = root.level
    root.setLevel(logging.INFO)
    handler = applog.install(settings)

    def entries():
        assert handler.flush()
        return [(e.level, e.username, e.message) for e in
                reversed(applog.query(conn, LogFilters(source="admin"), 0, 1000)[0])]

    yield entries
    root.removeHandler(handler)
    handler.close()
    root.setLevel(old)


def test_non_admins_are_refused_everything(conn, settings, alice):
    calls = [
        lambda: admin.user_summaries(conn, alice),
        lambda: admin.create_user(conn, alice, "mallory", "password-123"),
        lambda: admin.set_active(conn, alice, alice.id, False),
        lambda: admin.set_role(conn, alice, alice.id, "admin"),
        lambda: admin.reset_password(conn, alice, alice.id, "new-password-1"),
        lambda: admin.set_limits(conn, alice, alice.id, UserLimits()),
        lambda: admin.pause_queue(conn, alice),
        lambda: admin.resume_queue(conn, alice),
        lambda: admin.cancel_job(conn, alice, 1),
        lambda: admin.queue_overview(conn, settings, alice),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert users.get_user(conn, alice.id).role is users.Role.USER and not jobs.queue_paused(conn)
    assert [u.username for u in users.list_users(conn)] == ["admin", "alice"]


def test_last_active_admin_cannot_be_disabled_or_demoted(conn, boss, audit):
    with pytest.raises(UserError, match="last active admin"):
        admin.set_active(conn, boss, boss.id, False)
    with pytest.raises(UserError, match="last active admin"):
        admin.set_role(conn, boss, boss.id, "user")
    assert users.get_user(conn, boss.id).active and users.get_user(conn, boss.id).is_admin
    # a second admin that is disabled does not count; an active one does
    carol = admin.create_user(conn, boss, "carol", "carol-password", "admin")
    admin.set_active(conn, boss, carol.id, False)
    with pytest.raises(UserError):
        admin.set_role(conn, boss, boss.id, "user")
    admin.set_active(conn, boss, carol.id, True)
    assert admin.set_role(conn, boss, boss.id, "user").role is users.Role.USER
    assert audit() == [
        ("WARNING", "admin", "admin: disable user 'admin' (ends their sessions) refused: "
                             "admin is the last active admin and cannot be disabled."),
        ("WARNING", "admin", "admin: change the role of 'admin' to user refused: "
                             "admin is the last active admin and cannot be demoted."),
        ("INFO", "admin", "admin: create user 'carol' (admin)"),
        ("INFO", "admin", "admin: disable user 'carol' (ends their sessions)"),
        ("WARNING", "admin", "admin: change the role of 'admin' to user refused: "
                             "admin is the last active admin and cannot be demoted."),
        ("INFO", "admin", "admin: enable user 'carol'"),
        ("INFO", "admin", "admin: change the role of 'admin' to user"),
    ]


def test_disable_and_password_reset_end_sessions(conn, boss, alice, audit):
    disabled = admin.set_active(conn, boss, alice.id, False)
    assert not disabled.active and disabled.session_token != alice.session_token
    assert users.authenticate(conn, "alice", USER_PASSWORD, "10.0.0.1") is None
    enabled = admin.set_active(conn, boss, alice.id, True)
    reset = admin.reset_password(conn, boss, alice.id, "brand-new-pass")
    assert reset.session_token != enabled.session_token
    assert users.authenticate(conn, "alice", "brand-new-pass", "10.0.0.1") is not None
    with pytest.raises(UserError, match="at least 8"):
        admin.reset_password(conn, boss, alice.id, "short")
    assert [m for _, _, m in audit()][-2:] == ["admin: reset the password of 'alice' (ends their sessions)",
                                               "admin: reset the password of 'alice' (ends their sessions) refused: "
                                               "A password needs at least 8 characters."]


def test_limits_are_enforced_by_the_queue_with_clear_messages(conn, settings, boss, alice, audit):
    admin.set_limits(conn, boss, alice.id, UserLimits(max_running=1, max_queued=2, max_tokens=20))
    with pytest.raises(LimitExceeded, match="30 tokens; your limit is 20 tokens per job"):
        jobs.submit(conn, settings, alice, af3(seq="M" * 30))
    first = jobs.submit(conn, settings, alice, af3("a"))
    second = jobs.submit(conn, settings, alice, af3("b"))
    with pytest.raises(LimitExceeded, match="already have 2 queued jobs; the limit is 2"):
        jobs.submit(conn, settings, alice, af3("c"))
    # max running: a worker with free slots still runs only one of alice's jobs at a time
    assert jobs.claim_job(conn, settings, "w", BIG).id == first.id
    assert jobs.claim_job(conn, settings, "w", BIG) is None
    assert jobs.get_job(conn, alice, second.id).state is JobState.QUEUED
    # lifting her own limits (empty: unlimited running, default queued/tokens) lets the next job start
    admin.set_limits(conn, boss, alice.id, UserLimits())
    assert jobs.claim_job(conn, settings, "w", BIG).id == second.id
    assert audit()[0][2] == "admin: set the limits of 'alice': max running 1, max queued 2, max tokens 20"
    assert audit()[-1][2] == ("admin: set the limits of 'alice': max running unlimited, max queued default, "
                              "max tokens default")


def test_parse_limit_reads_form_values():
    assert admin.parse_limit("Max running", "") is None and admin.parse_limit("Max running", None) is None
    assert admin.parse_limit("Max running", " 3 ") == 3 and admin.parse_limit("Max running", 0) == 0
    with pytest.raises(InvalidInput, match="Max tokens must be a whole number"):
        admin.parse_limit("Max tokens", "lots")
    with pytest.raises(InvalidInput, match="0 or more"):
        admin.parse_limit("Max tokens", "-1")


def test_pause_holds_queued_jobs_and_resume_releases_them(conn, settings, boss, alice, audit):
    admin.pause_queue(conn, boss)
    job = jobs.submit(conn, settings, alice, af3())
    assert jobs.claim_job(conn, settings, "w", BIG) is None
    view = admin.queue_overview(conn, settings, boss)
    assert view.paused and view.changed_by == "admin" and [j.id for j in view.jobs] == [job.id]
    assert view.counts["queued"] == 1 and "local" in view.slots
    admin.resume_queue(conn, boss)
    assert jobs.claim_job(conn, settings, "w", BIG).id == job.id
    assert not admin.queue_overview(conn, settings, boss).paused
    assert [m for _, _, m in audit()] == ["admin: pause the queue (running jobs continue)", "admin: resume the queue"]


def test_admin_cancels_any_job_and_it_is_logged_with_the_job(conn, settings, boss, alice, audit):
    job = jobs.submit(conn, settings, alice, af3())
    assert admin.cancel_job(conn, boss, job.id).state is JobState.CANCELLED
    with pytest.raises(Exception, match="already cancelled"):
        admin.cancel_job(conn, boss, job.id)
    assert len(audit()) == 2  # (flushes the log)
    entries = applog.query(conn, LogFilters(source="admin", job_id=job.id), 0, 10)[0]
    assert [e.level for e in entries] == ["WARNING", "INFO"]


def test_user_summaries_count_jobs_and_gpu_hours(conn, settings, boss, alice):
    done = jobs.submit(conn, settings, alice, af3("done"))
    jobs.submit(conn, settings, alice, af3("waiting"))
    claimed = jobs.claim_job(conn, settings, "w", BIG)
    assert claimed.id == done.id
    jobs.finish_attempt(conn, claimed, JobState.SUCCEEDED, exit_code=0)
    conn.execute("UPDATE job_attempts SET started_at = finished_at - 5400 WHERE job_id = ?", (done.id,))
    admin.set_limits(conn, boss, alice.id, UserLimits(max_queued=5))
    by_name = {s.username: s for s in admin.user_summaries(conn, boss)}
    a = by_name["alice"]
    assert (a.jobs_run, a.gpu_hours, a.running, a.queued, a.limits.max_queued) == (1, 1.5, 0, 1, 5)
    assert (by_name["admin"].jobs_run, by_name["admin"].gpu_hours, by_name["admin"].role) == (0, 0.0, users.Role.ADMIN)
