"""A changed dashboard tick sends only what changed: AG Grid row transactions checked against a full reload.

`Grid` applies responses the way AG Grid does (rowData replaces the rows; a transaction removes, then
updates, then adds its block at addIndex, rows found by id). After every tick the grid must equal what
`load_page` reads from the database at that moment: the oracle is the page drawn whole.
"""
from __future__ import annotations

import dataclasses

import pytest

from dash_app.components.jobs import grid_delta
from dash_app.components.jobs.job_grid import ROW_COLUMNS, load_page, to_row
from services import jobs
from services.hosts import Host
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_dashboard import AF3, _refresh_payload

BIG = [Host(name="local", slots=100)]


class Grid:
    """What the browser's grid and cursor hold, fed the tick responses."""

    def __init__(self):
        self.rows: list[dict] = []
        self.cursor = None
        self.sent: list[dict] = []

    def apply(self, response: dict) -> None:
        grid = response.get("dashboard-grid", {})
        if "rowData" in grid:
            self.rows = [dict(r) for r in grid["rowData"]]
        tx = grid.get("rowTransaction")
        if tx:
            gone = {r["id"] for r in tx.get("remove", [])}
            self.rows = [r for r in self.rows if r["id"] not in gone]
            for new in tx.get("update", []):
                at = next(n for n, r in enumerate(self.rows) if r["id"] == new["id"])  # AG Grid: by row id
                self.rows[at] = dict(new)
            if tx.get("add"):
                at = tx.get("addIndex", len(self.rows))
                self.rows[at:at] = [dict(r) for r in tx["add"]]
        self.cursor = response["dashboard-cursor"]["data"]
        self.sent.append(grid)

    def tick(self, app, client, **values) -> int:
        r = dash_post(client, _refresh_payload(app, cursor=self.cursor, **values))
        if r.status_code == 200:
            self.apply(r.get_json()["response"])
        return r.status_code


@pytest.fixture
def alice(conn, settings):
    alice = users.get_by_name(conn, "alice")
    for i in range(60):
        jobs.submit(conn, settings, alice, AF3, name=f"alice-{i:02d}")
    return alice


def _shown(conn, user, **kw) -> list[dict]:
    return load_page(conn, user, **kw).rows


def test_a_state_change_sends_that_row_only(app, user_client, conn, settings, alice):
    grid = Grid()
    assert grid.tick(app, user_client) == 200 and len(grid.sent[-1]["rowData"]) == 50
    assert grid.rows == _shown(conn, alice)
    newest = grid.rows[0]["id"]
    jobs.cancel_job(conn, alice, newest)
    assert grid.tick(app, user_client) == 200
    sent = grid.sent[-1]
    assert "rowData" not in sent
    assert sent["rowTransaction"] == {"async": False, "update": [r for r in grid.rows if r["id"] == newest]}
    assert grid.rows == _shown(conn, alice) and grid.rows[0]["state"] == "cancelled"
    assert grid.tick(app, user_client) == 204


def test_counts_and_pager_are_sent_only_when_they_move(app, user_client, conn, settings, alice):
    r = dash_post(user_client, _refresh_payload(app))
    cursor = r.get_json()["response"]["dashboard-cursor"]["data"]
    conn.execute("UPDATE jobs SET stage = 'x' WHERE id = 60")  # shown, but no count moves
    out = dash_post(user_client, _refresh_payload(app, cursor=cursor)).get_json()["response"]
    assert set(out) == {"dashboard-grid", "dashboard-cursor"}
    jobs.cancel_job(conn, alice, 60)  # a state count moves; the total and the paging do not
    out = dash_post(user_client, _refresh_payload(app, cursor=out["dashboard-cursor"]["data"])).get_json()["response"]
    assert "Cancelled 1" in str(out["dashboard-state"]["options"])
    assert set(out) == {"dashboard-grid", "dashboard-state", "dashboard-cursor"}
    jobs.submit(conn, settings, alice, AF3, name="one-more")  # the total moves: pager and summary too
    out = dash_post(user_client, _refresh_payload(app, cursor=out["dashboard-cursor"]["data"])).get_json()["response"]
    assert out["dashboard-summary"]["children"] == "Jobs 1–50 of 61" and out["dashboard-pager"]["max_value"] == 2


def test_new_jobs_enter_at_the_top_and_push_the_last_off(app, user_client, conn, settings, alice):
    grid = Grid()
    grid.tick(app, user_client)
    last = grid.rows[-1]["id"]
    a = jobs.submit(conn, settings, alice, AF3, name="new-a")
    b = jobs.submit(conn, settings, alice, AF3, name="new-b")
    assert grid.tick(app, user_client) == 200
    tx = grid.sent[-1]["rowTransaction"]
    assert [r["id"] for r in tx["add"]] == [b.id, a.id] and tx["addIndex"] == 0
    assert {r["id"] for r in tx["remove"]} == {last, last + 1}
    assert grid.rows == _shown(conn, alice) and "rowData" not in grid.sent[-1]


def test_a_deleted_job_leaves_and_the_next_page_fills_in(app, user_client, conn, settings, alice):
    from services.operations import job_removal

    grid = Grid()
    grid.tick(app, user_client)
    victim = grid.rows[10]["id"]
    jobs.cancel_job(conn, alice, victim)
    grid.tick(app, user_client)
    job_removal.delete_job(conn, settings, alice, victim)
    assert grid.tick(app, user_client) == 200
    tx = grid.sent[-1]["rowTransaction"]
    assert tx["remove"] == [{"id": victim}] and tx["addIndex"] == 49 and len(tx["add"]) == 1
    assert grid.rows == _shown(conn, alice)


def test_a_reorder_sends_the_page_whole(app, user_client, conn, settings, alice):
    grid = Grid()
    grid.tick(app, user_client, **{"dashboard-sort": "state"})
    grid.tick(app, user_client, **{"dashboard-sort": "state"})  # the cursor now names the sorted view
    jobs.cancel_job(conn, alice, 55)  # "cancelled" sorts before "queued": the row moves to the top
    assert grid.tick(app, user_client, **{"dashboard-sort": "state"}) == 200
    assert "rowData" in grid.sent[-1]
    assert grid.rows == _shown(conn, alice, sort="state")


def test_queue_positions_move_without_a_row_write(app, user_client, conn, settings, alice):
    grid = Grid()
    grid.tick(app, user_client)
    bob = users.create_user(conn, "bob", "bob-password-1")
    users.accept_terms(conn, bob.id)
    jobs.claim_job(conn, settings, "w", BIG)  # alice's oldest runs; the others move up one place
    jobs.submit(conn, settings, bob, AF3, name="bob-0")  # bob runs nothing: he goes first
    assert grid.tick(app, user_client) == 200
    assert "rowData" not in grid.sent[-1]
    assert grid.rows == _shown(conn, alice)


def test_a_lost_answer_leaves_nothing_wrong(app, user_client, conn, settings, alice):
    grid = Grid()
    grid.tick(app, user_client)
    jobs.cancel_job(conn, alice, 60)
    dash_post(user_client, _refresh_payload(app, cursor=grid.cursor))  # superseded: the browser never applies it
    jobs.cancel_job(conn, alice, 59)
    assert grid.tick(app, user_client) == 200
    assert [r["id"] for r in grid.sent[-1]["rowTransaction"]["update"]] == [60, 59]
    assert grid.rows == _shown(conn, alice)


def test_a_stale_view_or_a_bad_cursor_redraws(app, user_client, conn, settings, alice):
    grid = Grid()
    grid.tick(app, user_client)
    jobs.cancel_job(conn, alice, 60)
    assert grid.tick(app, user_client, **{"dashboard-state": "queued"}) == 200  # a filter: the page whole
    assert "rowData" in grid.sent[-1] and grid.rows == _shown(conn, alice, state="queued")
    grid.cursor = {**grid.cursor, "jobs": -1, "rows": "not,a:cursor"}
    assert grid.tick(app, user_client, **{"dashboard-state": "queued"}) == 200
    assert "rowData" in grid.sent[-1] and grid.rows == _shown(conn, alice, state="queued")


def test_row_columns_cover_everything_a_row_shows(conn, settings, alice):
    """to_row reads only ROW_COLUMNS: changing any other field of a job leaves its row as it was."""
    job = jobs.get_job(conn, alice, 1)
    listed = {c.split(".")[-1] for c in ROW_COLUMNS} | {"id", "owner", "data_json"}
    before = to_row(job, 3, False)
    for f in dataclasses.fields(job):
        if f.name in listed:
            continue
        value = getattr(job, f.name)
        other = (not value if isinstance(value, bool) else value + 7 if isinstance(value, (int, float))
                 else f"{value}x" if isinstance(value, str) else 12345.0 if value is None else value)
        assert to_row(dataclasses.replace(job, **{f.name: other}), 3, False) == before, f.name


def test_plan():
    k = lambda *ids: [(i, f"t{i}") for i in ids]  # noqa: E731
    assert grid_delta.plan(k(3, 2, 1), k(3, 2, 1)).empty
    p = grid_delta.plan(k(3, 2, 1), [(3, "t3"), (2, "new"), (1, "t1")], {1})
    assert p.update == [2, 1] and not p.add and not p.remove
    p = grid_delta.plan(k(3, 2, 1), k(5, 4, 3, 2))
    assert p.add == [5, 4] and p.add_index == 0 and p.remove == [1]
    p = grid_delta.plan(k(3, 2, 1), k(3, 1, 0))
    assert p.add == [0] and p.add_index == 2 and p.remove == [2]
    assert grid_delta.plan(k(3, 2, 1), k(2, 3, 1)) is None  # reordered
    assert grid_delta.plan(k(3, 2, 1), k(5, 3, 4, 2)) is None  # new rows in two places
    assert grid_delta.decode(grid_delta.encode(k(3, 2))) == k(3, 2)
    assert grid_delta.decode("1:a,1:b") is None and grid_delta.decode("x:y") is None
    assert grid_delta.decode(None) is None and grid_delta.decode("") == []
