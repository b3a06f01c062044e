"""A host going down is an event (issue 27): the admins' toast comes from the host_events row the deciding code
writes, never from the words of a log line (0011 matched "host % is down: %" in app_log)."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from services import jobs
from services.jobs.claim.backoff import HostEvent, host_event
from services.notify.toasts import latest_id, toasts_since
from services.operations.sampler import Sampler
from services.people import users
from services.platform import applog


class Reword(logging.Filter):
    """Say the sampler's host lines in other words, as a later edit of sampler.py might."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "folddeck.metrics" and "is down" in record.msg:
            record.msg, record.args = "%s stopped answering (%s)", record.args
        return True


@pytest.fixture
def admin(conn):
    return users.get_by_name(conn, "admin")


@pytest.fixture
def app_log(settings):
    handler = applog.install(settings)
    yield handler
    logging.getLogger("folddeck").removeHandler(handler)
    handler.close()


def _bare_sampler() -> Sampler:
    sampler = Sampler.__new__(Sampler)  # only its up/down bookkeeping: no hosts file, no SSH
    sampler._up = {}
    return sampler


def test_rewording_the_sampler_log_line_keeps_the_toast(settings, conn, admin, app_log):
    start = latest_id(conn)
    reword = Reword()
    app_log.addFilter(reword)
    sampler = _bare_sampler()
    for up in (True, False, False):
        sampler._log_transitions(conn, [SimpleNamespace(host="gpu3", up=up, reason="no answer within 1.5 s")])
    assert applog.flush()
    logged = [r[0] for r in conn.execute("SELECT message FROM app_log WHERE source = 'metrics'")]
    assert logged == ["gpu3 stopped answering (no answer within 1.5 s)"]  # the log line really was reworded
    found = toasts_since(conn, admin, start)[0]
    assert [t.text for t in found] == ["Host gpu3 is down: no answer within 1.5 s"]
    event = [tuple(r) for r in conn.execute("SELECT host, event, reason, source, at FROM host_events")]
    assert event == [("gpu3", "down", "no answer within 1.5 s", "metrics", found[0].at)]  # the toast is the event's


def test_a_log_line_alone_makes_no_toast(settings, conn, admin, app_log):
    start = latest_id(conn)
    logging.getLogger("folddeck.metrics").warning("host %s is down: %s", "gpu4", "refused", extra={"source": "metrics"})
    assert applog.flush()
    assert conn.execute("SELECT COUNT(*) FROM app_log WHERE message = 'host gpu4 is down: refused'").fetchone()[0] == 1
    assert toasts_since(conn, admin, start)[0] == []
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert "host_events_notify" in triggers and not triggers & {"host_down_applog_notify", "host_down_notify"}


def test_an_up_event_is_no_toast_and_a_down_event_is_one_whoever_writes_it(conn, admin, alice):
    start = latest_id(conn)
    host_event(conn, "gpu5", HostEvent.UP, source="metrics", at=10.0)
    host_event(conn, "gpu5", HostEvent.DOWN, "disk on fire", source="metrics", at=11.0)
    assert [(t.text, t.at) for t in toasts_since(conn, admin, start)[0]] == [("Host gpu5 is down: disk on fire", 11.0)]
    assert toasts_since(conn, alice, start)[0] == []
    with pytest.raises(ValueError):
        host_event(conn, "gpu5", "sideways", source="metrics")


def test_worker_outage_is_one_down_and_one_up_event(conn):
    jobs.mark_host_up(conn, "gpu1")  # connected, no outage: nothing to say
    jobs.mark_host_down(conn, "gpu1", "connection refused", now=1000.0)
    jobs.mark_host_down(conn, "gpu1", "timed out", now=1001.0)  # same outage, still resting
    jobs.mark_host_down(conn, "gpu1", "timed out", now=5000.0)  # rest over, still down: the same outage
    jobs.mark_host_up(conn, "gpu1")
    jobs.mark_host_up(conn, "gpu1")
    rows = [tuple(r) for r in conn.execute("SELECT host, event, reason, source, at FROM host_events ORDER BY id")]
    assert rows[0] == ("gpu1", "down", "connection refused", "worker", 1000.0)
    assert [r[1] for r in rows] == ["down", "up"]
