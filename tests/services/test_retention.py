"""Retention (issue 18): purge only unpinned finished jobs past FOLDDECK_RETENTION_DAYS, warn a week before,
measure disk use per user, and "delete my data". The clock is passed in: no sleeps."""
from __future__ import annotations

import time

import pytest

from services import jobs
from services.operations import retention
from services.operations.sampler import Sampler
from services.people import users
from services.platform.errors import InvalidInput, JobNotFound, UserNotFound
from tests.services.test_jobs import af3
from tests.services.test_jobs_manage import finished

DAY = 86_400


@pytest.fixture
def kept(settings):
    return settings.with_overrides(retention_days=30)


def test_purges_only_old_unpinned_finished_jobs(conn, kept, alice):
    old = finished(conn, kept, alice, "old")
    pinned = finished(conn, kept, alice, "pinned")
    jobs.pin_job(conn, alice, pinned.id, True)
    queued = jobs.submit(conn, kept, alice, af3("queued"))
    now = time.time()
    assert retention.purge_expired(conn, kept, now + 29 * DAY) == []  # not yet
    assert retention.purge_expired(conn, kept, now + 31 * DAY) == [old.id]
    assert not (kept.jobs_dir / str(old.id) / "attempt-1").exists()
    assert (kept.jobs_dir / str(old.id) / "input.json").exists()  # row, input and log stay
    assert (kept.jobs_dir / str(pinned.id) / "attempt-1" / "model.cif").exists()
    assert (kept.jobs_dir / str(queued.id) / "input.json").exists()
    purged = jobs.get_job(conn, alice, old.id)
    assert purged.purged_at == now + 31 * DAY and purged.output_path is None
    assert retention.purge_expired(conn, kept, now + 40 * DAY) == []  # once


def test_zero_keeps_everything(conn, settings, alice):
    job = finished(conn, settings, alice)
    assert settings.retention_days == 0
    assert retention.purge_expired(conn, settings, time.time() + 10_000 * DAY) == []
    assert (settings.jobs_dir / str(job.id) / "attempt-1").exists()


def test_warning_a_week_before(conn, kept, alice):
    job = finished(conn, kept, alice, "soon")
    now = time.time()
    assert retention.expiring(conn, kept, alice, now + 20 * DAY) == []
    items = retention.expiring(conn, kept, alice, now + 24 * DAY)
    assert [i.job_id for i in items] == [job.id]
    assert "in 5 days or less" in retention.warning_text(items, now + 24 * DAY + 60)
    jobs.pin_job(conn, alice, job.id, True)
    assert retention.expiring(conn, kept, alice, now + 24 * DAY) == []


def test_sampler_purges_and_measures(conn, kept, alice, tmp_path):
    job = finished(conn, kept, alice)
    sampler = Sampler(kept, hosts=[])
    try:
        sampler._maintain(conn, time.time() + 31 * DAY)
    finally:
        sampler.close()
    assert jobs.get_job(conn, alice, job.id).purged_at is not None
    assert retention.disk_use(conn)[alice.id] == (kept.jobs_dir / str(job.id) / "input.json").stat().st_size


def test_delete_my_data(conn, settings, alice):
    from services.notify import prefs

    prefs.set_prefs(conn, alice.id, prefs.NotifyPrefs(email="alice@lab.example"))
    job = finished(conn, settings, alice)
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE user_id = ?", (alice.id,)).fetchone()[0] == 1
    with pytest.raises(InvalidInput):
        retention.erase_user_data(conn, settings, alice, "not-alice")
    assert retention.erase_user_data(conn, settings, alice, "alice") == 1
    assert not (settings.jobs_dir / str(job.id)).exists()
    with pytest.raises(UserNotFound):
        users.get_by_name(conn, "alice")
    with pytest.raises(JobNotFound):
        jobs.get_job(conn, users.get_by_name(conn, "admin"), job.id)
    assert retention.erased_counts(conn) == (1, 1)
    assert conn.execute("SELECT COUNT(*) FROM app_log WHERE username = 'alice'").fetchone()[0] == 0
    for table in ("outbox", "notifications"):  # her mail about the job (its name, scores) goes too
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (alice.id,)).fetchone()[0] == 0


def test_owner_is_warned_once_a_week_ahead(conn, kept, alice, monkeypatch):
    job = finished(conn, kept, alice)
    pinned = finished(conn, kept, alice, "pinned")
    jobs.pin_job(conn, alice, pinned.id, True)
    told = []
    monkeypatch.setattr(retention, "notify_expiring", lambda c, job_id, at: told.append((job_id, at)))
    now = time.time()
    assert retention.warn_expiring(conn, kept, now + 20 * DAY) == []
    assert retention.warn_expiring(conn, kept, now + 24 * DAY) == [job.id]
    assert retention.warn_expiring(conn, kept, now + 25 * DAY) == []  # once
    assert [t[0] for t in told] == [job.id]


def test_retention_warning_mail_reaches_the_owner_through_a_real_smtp_server(conn, kept, alice, smtp):
    from services.notify.prefs import NotifyPrefs, set_prefs
    from services.notify.sender import Sender
    from tests.services.test_notify_mail import body, mail_settings

    port, inbox = smtp
    s = mail_settings(kept, port).with_overrides(retention_days=30)
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    job = finished(conn, s, alice)
    inbox.messages.clear()  # only the warning, not the mail about the job finishing
    conn.execute("DELETE FROM outbox")
    assert retention.warn_expiring(conn, s, time.time() + 24 * DAY) == [job.id]
    Sender(s, poll=0.01).run_once(conn)
    [mail] = inbox.messages
    assert mail["To"] == "alice@lab.example"
    assert mail["Subject"] == f"[FoldDeck] Job {job.id} ({job.name}) will lose its outputs soon"
    day = time.strftime("%Y-%m-%d", time.localtime(jobs.get_job(conn, alice, job.id).finished_at + 30 * DAY))
    assert f"deleted on {day}" in body(mail) and f"/jobs/{job.id}" in body(mail)
    toast = conn.execute("SELECT text FROM notifications WHERE user_id = ? AND job_id = ? AND level = 'warning'",
                         (alice.id, job.id)).fetchone()
    assert toast and f"deleted on {day}" in toast[0]
