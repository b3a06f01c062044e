"""Retention warning on the dashboard and the job page (issue 18), and the purge notice afterwards."""
from __future__ import annotations

import sys
import time

import pytest
from flask_login import login_user

from dash_app.auth import LoginUser
from dash_app.components.jobs import job_manage as jm
from services import jobs
from services.operations import retention
from tests.services.test_jobs_manage import finished

DAY = 86_400


@pytest.fixture
def app(settings):
    from dash_app import create_app

    dash_app = create_app(settings.with_overrides(retention_days=30))
    dash_app.server.config.update(TESTING=True)
    return dash_app


def test_banner_a_week_before_then_purge_notice(app, conn, settings, alice):
    job = finished(conn, settings, alice, "old fold")
    conn.execute("UPDATE jobs SET finished_at = ? WHERE id = ?", (time.time() - 25 * DAY, job.id))
    dashboard = sys.modules["dash_app.pages.dashboard"]
    with app.server.test_request_context():
        login_user(LoginUser(alice))
        banner = str(dashboard.retention_banner(alice))
        assert "job " + str(job.id) + " (old fold) will be deleted in 4 days or less" in banner
        assert "will be deleted in 4 days" in str(jm.notices(jobs.get_job(conn, alice, job.id)))
        jobs.pin_job(conn, alice, job.id, True)
        assert dashboard.retention_banner(alice) == []
        jobs.pin_job(conn, alice, job.id, False)
        retention.purge_expired(conn, settings.with_overrides(retention_days=30), time.time() + 6 * DAY)
        notices = str(jm.notices(jobs.get_job(conn, alice, job.id)))
        assert "Outputs deleted by retention" in notices and dashboard.retention_banner(alice) == []
