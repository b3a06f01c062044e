"""Status page over HTTP and its pure pieces: chart x values in server local time, the stale-sampler
alert, and hosts resting after a failed SSH connect (status cards and the admin queue's slots)."""
from __future__ import annotations

import sys
import time
from datetime import datetime

import dash
import pytest

from dash_app.components.hosts.metric_chart import extend_data, history_figure, local_x, local_xs
from services import jobs
from services.metrics.model import HostSnapshot, down
from services.metrics.store import SnapshotStore, cache_dir
from services.operations.admin import QueueOverview
from tests.conftest import dash_post

# POSIX TZ strings need no tzdata: a fixed +05:30 zone and a DST zone (CET/CEST rules)
PLUS_0530 = "IST-5:30"
CET_DST = "CET-1CEST,M3.5.0,M10.5.0/3"


@pytest.fixture
def zone(monkeypatch):
    """Return set(tz): switch this process's local time zone; the old zone comes back afterwards."""
    def set_zone(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def page_module(path: str):
    """Return a page's module as Dash imported it (pages register only after the app exists)."""
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == path)]


# -- chart x values -----------------------------------------------------------------------------

def test_local_x_is_server_local_wall_clock(zone):
    zone(PLUS_0530)
    assert local_x(0) == "1970-01-01 05:30:00.000"
    assert local_x(1_700_000_000.25) == "2023-11-15 03:43:20.250"  # 22:13:20.250 UTC
    zone("UTC0")
    assert local_x(1_700_000_000.25) == "2023-11-14 22:13:20.250"


def test_local_xs_follow_daylight_saving_per_point(zone):
    zone(CET_DST)
    winter, summer = 1_704_067_200.0, 1_719_792_000.0  # 2024-01-01 and 2024-07-01, 00:00 UTC
    assert local_xs([winter, summer]) == ["2024-01-01 01:00:00.000", "2024-07-01 02:00:00.000"]
    # the last 2024 switch back (03:00 CEST -> 02:00 CET at 01:00 UTC): the wall clock repeats 02:30
    before, after = 1_729_989_000.0, 1_729_992_600.0  # 00:30 and 01:30 UTC on 2024-10-27
    assert local_xs([before, after]) == ["2024-10-27 02:30:00.000", "2024-10-27 02:30:00.000"]


def test_history_figure_and_extend_data_use_local_time(zone):
    zone(PLUS_0530)
    series = {"c": ([0.0, 5.0], [10.0, None])}
    fig = history_figure(series, [("c", "CPU")], "CPU", "%", "local|1 h", (0, 100))
    trace = fig["data"][0]
    assert trace["x"] == ["1970-01-01 05:30:00.000", "1970-01-01 05:30:05.000"]
    assert trace["y"] == [10.0, None]
    assert fig["layout"]["xaxis"]["type"] == "date" and fig["layout"]["uirevision"] == "local|1 h"
    value, traces, cap = extend_data([(10.0, 1.5), (10.0, None)], 120)
    assert value == {"x": [["1970-01-01 05:30:10.000"], ["1970-01-01 05:30:10.000"]], "y": [[1.5], [None]]}
    assert (traces, cap) == ([0, 1], 120)
    # what the browser parses back is the same wall-clock instant the server's other pages print
    assert datetime.strptime(trace["x"][1], "%Y-%m-%d %H:%M:%S.%f").timestamp() == 5.0


# -- stale sampler ------------------------------------------------------------------------------

def test_sampler_stale_message(app, zone):
    zone("UTC0")
    stale = page_module("/status").sampler_stale_message
    now = 1_700_000_000.0
    assert stale(now - 14, 5.0, now) is None  # under three ticks late: still fresh
    msg = stale(now - 16, 5.0, now)
    assert msg == ("No fresh metrics: the sampler has not reported since 2023-11-14 22:13:04 (16 s ago); "
                   "it is started by `make run` (`python -m services.operations.sampler`).")
    assert stale(0.0, 5.0, now).startswith("No fresh metrics: the sampler has not reported yet; it is started by")


# -- callbacks over HTTP ------------------------------------------------------------------------

def refresh_body(app, cursor: dict | None) -> dict:
    """Return the /_dash-update-component body of one status tick (interval fired, cursor as state)."""
    key = next(k for k in app.callback_map if k.startswith("..status-cards.children"))
    cb = app.callback_map[key]
    specs = [{"id": o.split(".")[0], "property": o.split(".", 1)[1]} for o in key.strip(".").split("...")]
    return {"output": key, "outputs": specs, "inputs": [{**cb["inputs"][0], "value": 1}],
            "state": [{**cb["state"][0], "value": cursor}], "changedPropIds": ["status-interval.n_intervals"]}


@pytest.fixture
def store(settings):
    s = SnapshotStore(cache_dir(settings.data_dir))
    yield s
    s.close()


def test_tick_shows_a_resting_host_and_no_alert_while_fresh(app, admin_client, settings, conn, store):
    now = time.time()
    store.put([HostSnapshot(host="local", ts=now, cpu_percent=12.0, mem_used_bytes=1, mem_total_bytes=4),
               down("gpu1", now, "gpu1: cannot connect to 127.0.0.1:1: connection refused.")], now)
    rest = jobs.mark_host_down(conn, "gpu1", "connection refused")
    r = dash_post(admin_client, refresh_body(app, None))
    assert r.status_code == 200, r.get_data(as_text=True)
    resp = r.json["response"]
    assert resp["status-alert"]["children"] is None
    cards = {c["props"]["children"]["props"]["data-host"]: str(c) for c in resp["status-cards"]["children"]}
    assert set(cards) == {"local", "gpu1"}
    clock = time.strftime("%H:%M:%S", time.localtime(rest.until))
    assert "'resting'" in cards["gpu1"] and f"connection refused · retrying at {clock}" in cards["gpu1"]
    assert "resting" not in cards["local"]
    assert "0 running" in cards["gpu1"] and "0 queued" in cards["gpu1"]
    # once the backoff is over the badge goes, without a new sampler tick being needed
    jobs.mark_host_up(conn, "gpu1")
    again = dash_post(admin_client, refresh_body(app, None)).json["response"]
    assert "resting" not in str(again["status-cards"])


def test_tick_calls_out_a_stopped_sampler_even_without_a_new_tick(app, user_client, settings, store):
    old = time.time() - 10 * settings.sample_interval
    seq = store.put([HostSnapshot(host="local", ts=old, cpu_percent=5.0)], old)
    cursor = {"seq": seq, "host": "local", "range": "1 h", "gpus": [], "last_ts": old, "points": 1}
    r = dash_post(user_client, refresh_body(app, cursor))
    assert r.status_code == 200, r.get_data(as_text=True)
    resp = r.json["response"]
    assert set(resp) == {"status-alert"}  # same seq: cards and charts untouched
    alert = str(resp["status-alert"]["children"])
    assert "No fresh metrics: the sampler has not reported since" in alert
    assert "`python -m services.operations.sampler`" in alert


def test_tick_before_any_snapshot_says_the_sampler_never_reported(app, user_client):
    resp = dash_post(user_client, refresh_body(app, None)).json["response"]
    assert "has not reported yet" in str(resp["status-alert"]["children"])
    assert resp["status-cards"]["children"] == []


def test_admin_queue_slots_show_a_resting_host(app, admin_client, settings, conn):
    view = QueueOverview(False, None, None, [], 0, {}, [],
                         {"local": jobs.HostSlots("local", 2, 1), "gpu1": jobs.HostSlots("gpu1", 1, 0)})
    rest = jobs.mark_host_down(conn, "gpu1", "connection refused")
    rows = {r.to_plotly_json()["props"]["data-host"]: str(r)
            for r in page_module("/admin/queue").slots_list(view, jobs.host_backoffs(conn))}
    clock = time.strftime("%H:%M:%S", time.localtime(rest.until))
    assert "'resting'" in rows["gpu1"] and f"connection refused · retrying at {clock}" in rows["gpu1"]
    assert "resting" not in rows["local"] and "1 of 2 busy" in rows["local"]
    # the page's poll passes the backoffs: the local host (the only one configured) rests too
    jobs.mark_host_down(conn, "local", "disk full")
    key = next(k for k in app.callback_map if "admin-queue-slots.children" in k)
    cb = app.callback_map[key]
    specs = [{"id": o.split(".")[0], "property": o.split(".", 1)[1]} for o in key.strip(".").split("...")]
    body = {"output": key, "outputs": specs,
            "inputs": [{**i, "value": v} for i, v in zip(cb["inputs"], [1, 0, "active"], strict=True)],
            "state": [], "changedPropIds": ["admin-queue-tick.n_intervals"]}
    r = dash_post(admin_client, body)
    assert r.status_code == 200, r.get_data(as_text=True)
    slots = str(r.json["response"]["admin-queue-slots"]["children"])
    assert "'resting'" in slots and "disk full · retrying at" in slots
