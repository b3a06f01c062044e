"""The dashboard grid's server-side paging and filters on a real database."""
from __future__ import annotations

import pytest

from dash_app.components.jobs.job_grid import DEFAULT_SORT, SORT_KEYS, column_defs, load_page, sort_key
from services import jobs
from services.people import users
from services.platform.errors import InvalidInput
from tests.conftest import dash_post

AF3 = {"name": "x", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}


@pytest.fixture
def people(conn, settings):
    alice, admin = users.get_by_name(conn, "alice"), users.get_by_name(conn, "admin")
    for i in range(120):
        jobs.submit(conn, settings, alice, AF3, name=f"alice-{i:03d}" + ("-apo" if i % 10 == 0 else ""))
    for i in range(7):
        jobs.submit(conn, settings, admin, AF3, name=f"admin-{i}")
    return alice, admin


def test_pages_are_bounded_and_newest_first(conn, people):
    alice, _ = people
    first = load_page(conn, alice, page=1, page_size=50)
    third = load_page(conn, alice, page=3, page_size=50)
    assert (first.total, first.pages, len(first.rows), len(third.rows)) == (120, 3, 50, 20)
    ids = [r["id"] for r in first.rows + load_page(conn, alice, page=2, page_size=50).rows + third.rows]
    assert ids == list(range(120, 0, -1)) and first.rows[0]["name"] == "alice-119"  # newest first, no gaps
    assert {r["owner"] for r in first.rows + third.rows} == {"alice"}  # never another user's job
    assert load_page(conn, alice, page=99, page_size=50).page == 3  # past the end: the last page


def test_state_filter_search_counts_and_queue_positions(conn, settings, people):
    alice, admin = people
    jobs.cancel_job(conn, alice, 1)
    page = load_page(conn, alice, state="cancelled")
    assert [r["id"] for r in page.rows] == [1] and page.counts["cancelled"] == 1 and page.counts["queued"] == 119
    apo = load_page(conn, alice, search="apo")
    assert apo.total == 12 and all("apo" in r["name"] for r in apo.rows)
    queued = load_page(conn, alice, state="queued", page_size=500).rows
    assert all(r["stage"].startswith("#") and "in queue" in r["stage"] for r in queued)
    assert sorted(r["queue_position"] for r in queued) == sorted(set(r["queue_position"] for r in queued))
    with pytest.raises(InvalidInput):
        load_page(conn, alice, sort="nope")


def test_all_users_only_for_admins(conn, people):
    alice, admin = people
    assert load_page(conn, alice, all_users=True).total == 120  # ignored for a non-admin
    everyone = load_page(conn, admin, all_users=True, page_size=200)
    assert everyone.total == 127 and {r["owner"] for r in everyone.rows} == {"alice", "admin"}
    assert load_page(conn, admin).total == 7


def test_signature_changes_only_when_the_page_does(conn, people):
    alice, _ = people
    before = load_page(conn, alice).signature
    assert load_page(conn, alice).signature == before
    jobs.cancel_job(conn, alice, 120)
    assert load_page(conn, alice).signature != before


def _refresh_payload(app, **values) -> dict:
    import sys

    page = sys.modules["dash_app.pages.dashboard"]
    key = next(k for k in app.callback_map if f"{page.GRID}.rowData" in k)
    outs = [(page.GRID, "rowData"), (page.GRID, "rowTransaction"),
            (page.GRID, "columnDefs"), (page.STATE_FILTER, "options"),
            (page.PAGER, "max_value"), (page.PAGER, "active_page"), (page.SUMMARY, "children"),
            (page.EMPTY, "children"), (page.EMPTY, "hidden"), (page.CURSOR, "data")]
    ins = [(page.INTERVAL, "n_intervals"), (page.STATE_FILTER, "value"), (page.SEARCH, "value"),
           (page.PAGER, "active_page"), (page.ALL_USERS, "value"), (page.SORT, "data")]
    vals = {"n_intervals": 1, "value": None, "active_page": 1, "data": None, **values}
    return {"output": key, "outputs": [{"id": i, "property": p} for i, p in outs],
            "inputs": [{"id": i, "property": p, "value": values.get(i, vals.get(p))} for i, p in ins],
            "state": [{"id": page.CURSOR, "property": "data", "value": values.get("cursor")}],
            "changedPropIds": [values.get("changed", f"{page.INTERVAL}.n_intervals")]}


def test_refresh_through_the_server_sends_nothing_when_unchanged(app, user_client, conn, people):
    r = dash_post(user_client, _refresh_payload(app))
    assert r.status_code == 200
    out = r.get_json()["response"]
    cursor = out["dashboard-cursor"]["data"]
    assert len(out["dashboard-grid"]["rowData"]) == 50
    assert "columnDefs" not in out["dashboard-grid"]  # a tick leaves the columns (and their widths) alone
    r = dash_post(user_client, _refresh_payload(app, cursor=cursor))
    assert r.status_code == 204 and not r.data
    alice = users.get_by_name(conn, "alice")
    jobs.cancel_job(conn, alice, 120)
    assert dash_post(user_client, _refresh_payload(app, cursor=cursor)).status_code == 200


def test_header_sorts_map_to_service_sorts_only():
    assert set(SORT_KEYS.values()) <= set(jobs.SORTS) and DEFAULT_SORT in jobs.SORTS
    sortable = {c["field"] for c in column_defs(True) if c["sortable"]}
    assert sortable == {col for col, _ in SORT_KEYS}  # a clickable header always has a server sort
    assert sort_key(None) == sort_key([]) == DEFAULT_SORT
    state = [{"colId": "submitted", "sort": None}, {"colId": "name", "sort": "desc"}]
    assert sort_key(state) == "name_desc"
    assert sort_key([{"colId": "started", "sort": "asc"}]) == "started_asc"
    assert sort_key([{"colId": "host", "sort": "asc"}]) == DEFAULT_SORT  # no such service sort


def test_sorted_pages_are_ordered_across_the_whole_result(conn, people):
    alice, _ = people
    names = [r["name"] for p in (1, 2, 3) for r in load_page(conn, alice, page=p, page_size=50,
                                                             sort="name_desc").rows]
    assert names == sorted(names, reverse=True) and len(names) == 120 and names[0] == "alice-119"
    jobs.cancel_job(conn, alice, 120)
    first = load_page(conn, alice, sort="state", page_size=5).rows
    assert [r["state"] for r in first][:1] == ["cancelled"]  # alphabetical: cancelled before queued


def test_started_sort_puts_jobs_not_yet_started_last(conn, people):
    alice, _ = people
    conn.execute("UPDATE jobs SET started_at = id * 10.0 WHERE id IN (3, 7, 5)")
    for sort, expected in (("started_desc", [7, 5, 3]), ("started_asc", [3, 5, 7])):
        rows = load_page(conn, alice, sort=sort, page_size=4).rows
        assert [r["id"] for r in rows][:3] == expected and rows[3]["started"] in ("", None, "—")


def test_sort_and_owner_column_through_the_server(app, admin_client, people):
    r = dash_post(admin_client, _refresh_payload(app, **{"dashboard-sort": "name_asc",
                                                         "changed": "dashboard-sort.data"}))
    grid = r.get_json()["response"]["dashboard-grid"]
    assert [x["name"] for x in grid["rowData"]] == [f"admin-{i}" for i in range(7)]
    r = dash_post(admin_client, _refresh_payload(app, **{"dashboard-all-users": True, "dashboard-sort": "name_asc",
                                                         "changed": "dashboard-all-users.value"}))
    grid = r.get_json()["response"]["dashboard-grid"]
    assert "owner" in [c["field"] for c in grid["columnDefs"]]
    assert grid["rowData"][0]["name"] == "admin-0" and len(grid["rowData"]) == 50


def test_a_tick_that_supersedes_the_all_users_switch_brings_the_owner_column(app, admin_client, conn, people):
    """The switch's own request can be dropped by dash-renderer when a tick follows it at once (the newer
    request wins): the tick, which names the new view, must then send the columns itself."""
    before = dash_post(admin_client, _refresh_payload(app)).get_json()["response"]["dashboard-cursor"]["data"]
    assert before["owner"] is False
    import sys

    switch = sys.modules["dash_app.pages.dashboard"].ALL_USERS
    out = dash_post(admin_client, _refresh_payload(app, cursor=before, **{switch: True})).get_json()["response"]
    assert "owner" in [c["field"] for c in out["dashboard-grid"]["columnDefs"]]
    assert out["dashboard-cursor"]["data"]["owner"] is True
