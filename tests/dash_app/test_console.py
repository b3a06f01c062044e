"""Console pieces: ANSI rendering, the cursor append/trim logic and load-earlier, on a real log."""
from __future__ import annotations

import json

import pytest

from dash_app.components import console as cons
from services import jobs
from services.jobs import joblog
from services.people import users

AF3 = {"name": "x", "modelSeeds": [1], "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}],
       "dialect": "alphafold3", "version": 1}


@pytest.fixture
def job_id(conn, settings):
    return jobs.submit(conn, settings, users.get_by_name(conn, "alice"), AF3).id


def test_ansi_colours_become_spans_not_raw_codes():
    out = cons.ansi_children("ok \x1b[1;31mFAILED\x1b[0m done\x1b[2K")
    assert out[0] == "ok " and out[2] == " done"
    assert out[1]["props"] == {"className": "ansi-bold ansi-fg-31", "children": "FAILED"}
    assert "\x1b" not in json.dumps(out)
    assert cons.ansi_children("plain") == "plain"


def _lines(blocks: list[dict]) -> list[int]:
    return [line["props"]["data-n"] for b in blocks for line in b["props"]["children"]]


def apply(blocks: list[dict], patch) -> list[dict]:
    """Apply a Patch's operations to a list of blocks like dash-renderer does (the ones used)."""
    blocks = json.loads(json.dumps(blocks))
    for op in patch.to_plotly_json()["operations"]:
        loc, kind, params = op["location"], op["operation"], op["params"]
        if kind == "Append":
            blocks.append(params["value"])
        elif kind == "Prepend":
            blocks.insert(0, params["value"])
        elif kind == "Delete":
            del blocks[loc[0]]
        elif kind == "Extend":
            blocks[loc[0]]["props"]["children"].extend(params["value"])
        else:
            raise AssertionError(kind)
    return blocks


def test_append_keeps_at_most_cap_lines_and_never_resends(conn, job_id):
    joblog.append_lines(conn, job_id, [f"l{i}" for i in range(1, 31)])
    blocks, cursor = cons.initial(conn, "t", job_id, cap=25, chunk=10)
    assert _lines(blocks) == list(range(6, 31))  # the tail: at most cap lines
    assert cons.append_patch(conn, "t", job_id, cursor, chunk=10) == (None, cursor)  # nothing new
    joblog.append_lines(conn, job_id, [f"m{i}" for i in range(17)])  # seqs 31..47
    patch, cursor = cons.append_patch(conn, "t", job_id, cursor, chunk=10)
    sent = json.dumps(patch.to_plotly_json())
    assert '"data-n": 30' not in sent and '"data-n": 31' in sent  # only new lines travel
    blocks = apply(blocks, patch)
    shown = _lines(blocks)
    assert shown == list(range(shown[0], 48)) and len(shown) <= 25 and cursor["last"] == 47
    assert cursor["blocks"] == [b["props"]["children"][0]["props"]["data-n"] for b in blocks]


def test_load_earlier_prepends_and_raises_the_cap(conn, job_id):
    joblog.append_lines(conn, job_id, [f"l{i}" for i in range(1, 101)])
    blocks, cursor = cons.initial(conn, "t", job_id, cap=20, chunk=10)
    assert cons.has_earlier(cursor)
    patch, cursor = cons.earlier_patch(conn, "t", job_id, cursor, page=30)
    blocks = apply(blocks, patch)
    assert _lines(blocks) == list(range(51, 101)) and cursor["cap"] == 50
    joblog.append_lines(conn, job_id, ["new"])
    patch, cursor = cons.append_patch(conn, "t", job_id, cursor, chunk=10)
    assert _lines(apply(blocks, patch))[-1] == 101
