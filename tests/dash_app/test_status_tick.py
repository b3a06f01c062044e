"""The status tick reads the sampler's job board from the store: no job rows per viewer per tick."""
from __future__ import annotations

import time

import pytest

from services import jobs
from services.hosts import Host, local_host
from services.metrics.model import HostSnapshot
from services.metrics.store import SnapshotStore, cache_dir
from services.operations.sampler import Sampler
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_status_page import refresh_body

AF3 = {"name": "x", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}
HOSTS = [Host(name="local", slots=300), Host(name="gpu1", address="x", slots=300)]


@pytest.fixture
def busy(conn, settings):
    """400 running jobs on two hosts and 30 queued, from 20 users."""
    people = [users.create_user(conn, f"u{i}", "user-password-1") for i in range(20)]
    for person in people:
        users.accept_terms(conn, person.id)
    for i in range(430):
        jobs.submit(conn, settings, people[i % 20], AF3, name=f"j{i}")
    for _ in range(400):
        jobs.claim_job(conn, settings, "w", HOSTS)
    return people


def _cards(resp) -> dict[str, str]:
    return {c["props"]["children"]["props"]["data-host"]: str(c) for c in resp["status-cards"]["children"]}


def test_sampler_tick_writes_the_job_board(settings, conn, busy):
    sampler = Sampler(settings, hosts=[local_host(settings)])
    try:
        sampler.tick()
        board = sampler.store.latest().jobs
    finally:
        sampler.close()
    assert board["queued"] == 30
    assert {h: len(v) for h, v in board["running"].items()} == {"local": 200, "gpu1": 200}
    assert board == jobs.job_board(conn)


def test_status_tick_reads_no_job_rows(app, admin_client, settings, conn, busy):
    store = SnapshotStore(cache_dir(settings.data_dir))
    now = time.time()
    hosts = [HostSnapshot(host=h.name, ts=now, cpu_percent=1.0, mem_used_bytes=1, mem_total_bytes=4) for h in HOSTS]
    store.put(hosts, now, jobs.job_board(conn))
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        r = dash_post(admin_client, refresh_body(app, None))
    finally:
        conn.set_trace_callback(None)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [s for s in seen if "FROM jobs" in s] == []
    cards = _cards(r.json["response"])
    assert "200 running" in cards["local"] and "30 queued" in cards["gpu1"] and "#1 u0" in cards["local"]
    store.close()


def test_status_tick_without_a_board_counts_by_sql(app, user_client, settings, conn, busy):
    """A snapshot from a sampler that wrote no board: the page still shows the right counts."""
    store = SnapshotStore(cache_dir(settings.data_dir))
    now = time.time()
    store.put([HostSnapshot(host="gpu1", ts=now, cpu_percent=1.0, mem_used_bytes=1, mem_total_bytes=4)], now)
    cards = _cards(dash_post(user_client, refresh_body(app, None)).json["response"])
    assert "200 running · 30 queued" in cards["gpu1"] and "(#" not in cards["gpu1"]  # no job list for users
    store.close()


def test_cards_rendered_once_per_tick_follow_new_ticks_and_roles(app, client, settings, conn, busy):
    from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login

    store = SnapshotStore(cache_dir(settings.data_dir))
    now = time.time()
    host = [HostSnapshot(host="local", ts=now, cpu_percent=1.0, mem_used_bytes=1, mem_total_bytes=4)]
    store.put(host, now, jobs.job_board(conn))
    login(client, "alice", USER_PASSWORD)
    first = _cards(dash_post(client, refresh_body(app, None)).json["response"])
    assert first == _cards(dash_post(client, refresh_body(app, None)).json["response"])  # same tick, same cards
    conn.execute("UPDATE jobs SET state = 'queued', started_at = NULL WHERE id IN "
                 "(SELECT id FROM jobs WHERE state = 'running' AND host = 'local' LIMIT 50)")
    store.put(host, now + 5, jobs.job_board(conn))  # the next sampler tick sees the change
    second = _cards(dash_post(client, refresh_body(app, None)).json["response"])
    assert "150 running · 80 queued" in second["local"] and "200 running · 30 queued" in first["local"]
    client.post("/logout", data={"csrf_token": client.get_cookie("_csrf_token").value})
    login(client, "admin", ADMIN_PASSWORD)
    admin_view = _cards(dash_post(client, refresh_body(app, None)).json["response"])
    assert "(#" in admin_view["local"] and "(#" not in second["local"]  # the admin's cards list the jobs
    store.close()


def _apply(cards: list, sent) -> list:
    """Apply a tick's cards output as dash-renderer does: a list replaces them, a Patch assigns by index."""
    if isinstance(sent, list):
        return sent
    out = list(cards)
    for op in sent["operations"]:
        assert op["operation"] == "Assign" and len(op["location"]) == 1
        out[op["location"][0]] = op["params"]["value"]
    return out


def test_a_new_tick_sends_only_the_cards_that_changed(app, user_client, settings, conn, store_hosts):
    put = store_hosts
    put(cpu={"local": 10.0, "gpu1": 20.0, "gpu2": 30.0})
    cursor = {"seq": -1, "host": "local", "range": "1 h", "gpus": [], "last_ts": 0.0, "points": 0}
    out = dash_post(user_client, refresh_body(app, cursor)).json["response"]
    cards, cursor = out["status-cards"]["children"], out["status-cursor"]["data"]
    assert isinstance(cards, list) and len(cards) == 3 and len(cursor["cards"]) == 3
    put(cpu={"local": 10.0, "gpu1": 55.0, "gpu2": 30.0})  # a new tick: only gpu1 moved
    out = dash_post(user_client, refresh_body(app, cursor)).json["response"]
    sent = out["status-cards"]["children"]
    assert [op["location"] for op in sent["operations"]] == [[1]]
    whole = dash_post(user_client, refresh_body(app, None)).json["response"]["status-cards"]["children"]
    assert _apply(cards, sent) == whole  # the oracle: the cards drawn whole
    cursor = out["status-cursor"]["data"]
    put(cpu={"local": 10.0, "gpu1": 55.0, "gpu2": 30.0})  # a new tick that changes no card: no cards sent
    out = dash_post(user_client, refresh_body(app, cursor)).json["response"]
    assert "status-cards" not in out and out["status-cursor"]["data"]["seq"] != cursor["seq"]
    lost = out["status-cursor"]["data"]
    put(cpu={"local": 70.0, "gpu1": 55.0, "gpu2": 30.0})
    dash_post(user_client, refresh_body(app, lost))  # an answer the page never applied
    put(cpu={"local": 70.0, "gpu1": 55.0, "gpu2": 80.0})
    sent = dash_post(user_client, refresh_body(app, lost)).json["response"]["status-cards"]["children"]
    assert [op["location"] for op in sent["operations"]] == [[0], [2]]  # both, from what the page shows


@pytest.fixture
def store_hosts(settings):
    store = SnapshotStore(cache_dir(settings.data_dir))

    def put(cpu: dict[str, float]) -> None:
        now = time.time()
        store.put([HostSnapshot(host=h, ts=now, cpu_percent=c, mem_used_bytes=1, mem_total_bytes=4)
                   for h, c in cpu.items()], now)

    yield put
    store.close()
