"""Toasts written by the triggers: the owner's job endings, hosts going down (host events) for admins only."""
from __future__ import annotations

from services import jobs
from services.notify.toasts import latest_id, toasts_since
from services.people import users
from tests.conftest import USER_PASSWORD

INPUT = {"name": "T", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}


def _submit(conn, settings, owner, name="T"):
    return jobs.submit(conn, settings, owner, {**INPUT, "name": name}, accept_terms=True)


def test_owner_sees_own_endings_only_and_cursor_moves(settings, conn, alice):
    admin = users.get_by_name(conn, "admin")
    bob = users.create_user(conn, "bob", USER_PASSWORD)
    start = latest_id(conn)
    mine = _submit(conn, settings, alice, "mine")
    jobs.cancel_job(conn, alice, mine.id)  # her own cancel: not news to her
    theirs = _submit(conn, settings, bob, "bob's")
    jobs.cancel_job(conn, admin, theirs.id)
    cancelled = _submit(conn, settings, alice, "by admin")
    jobs.cancel_job(conn, admin, cancelled.id)
    found, more, cursor = toasts_since(conn, alice, start)
    assert [t.text for t in found] == [f"Job {cancelled.id} (by admin) cancelled."] and more == 0
    assert found[0].level == "warning" and found[0].job_id == cancelled.id
    assert toasts_since(conn, alice, cursor) == ([], 0, cursor)


def test_host_down_is_for_admins_once_per_outage(settings, conn, alice):
    admin = users.get_by_name(conn, "admin")
    start = latest_id(conn)
    jobs.mark_host_down(conn, "gpu1", "connection refused", now=1000.0)
    jobs.mark_host_down(conn, "gpu1", "connection refused", now=1001.0)  # same outage, still resting
    jobs.mark_host_down(conn, "gpu1", "connection refused", now=5000.0)  # rest over, still down: not new news
    assert [t.text for t in toasts_since(conn, admin, start)[0]] == ["Host gpu1 is down: connection refused"]
    assert toasts_since(conn, alice, start)[0] == []
    jobs.mark_host_up(conn, "gpu1")
    jobs.mark_host_down(conn, "gpu1", "no route to host", now=6000.0)
    assert len(toasts_since(conn, admin, start)[0]) == 2


def test_many_at_once_are_capped(settings, conn, alice):
    admin = users.get_by_name(conn, "admin")
    start = latest_id(conn)
    for i in range(8):
        jobs.cancel_job(conn, admin, _submit(conn, settings, alice, f"n{i}").id)
    found, more, cursor = toasts_since(conn, alice, start, limit=5)
    assert len(found) == 5 and more == 3 and found[-1].text.endswith("(n7) cancelled.")
    assert cursor == latest_id(conn)


def test_host_the_sampler_sees_go_down_is_an_admin_toast(settings, conn, alice):
    import logging
    from types import SimpleNamespace

    from services.operations.sampler import Sampler
    from services.platform import applog

    admin = users.get_by_name(conn, "admin")
    start = latest_id(conn)
    handler = applog.install(settings)
    try:
        sampler = Sampler.__new__(Sampler)  # only its up/down bookkeeping: no hosts file, no SSH
        sampler._up = {}
        for up in (True, False, False):  # up, then down on two ticks: one outage, one toast
            sampler._log_transitions(conn, [SimpleNamespace(host="gpu3", up=up, reason="no answer within 1.5 s")])
        applog.flush()
    finally:
        logging.getLogger("folddeck").removeHandler(handler)
        handler.close()
    assert [t.text for t in toasts_since(conn, admin, start)[0]] == ["Host gpu3 is down: no answer within 1.5 s"]
    assert toasts_since(conn, alice, start)[0] == []
