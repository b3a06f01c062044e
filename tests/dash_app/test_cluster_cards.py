"""A Slurm cluster on the status and queue pages, from the sampler's tick (no Slurm command per poll)."""
from __future__ import annotations

import json
import sys
import time

from services.metrics.model import down
from services.metrics.store import SnapshotStore, cache_dir
from services.operations import admin
from services.people import users
from tests.conftest import dash_post
from tests.dash_app.test_job_page import page_payload

INFO = {"partitions": {"gpu": {"idle": 1, "mixed": 2, "allocated": 3, "down": 1, "gpus": 24, "gpus_free": 3}},
        "nodes": 7, "gpus_free": 3, "folddeck": {"running": 1, "pending": 2}}


def publish(settings) -> None:
    board = {"queued": 0, "running": {}, "clusters": {"cluster": INFO}}
    SnapshotStore(cache_dir(settings.data_dir)).put([down("local", time.time(), "test")], time.time(), board)


def test_status_page_shows_the_cluster_card(app, user_client, settings):
    publish(settings)
    body = json.dumps(dash_post(user_client, page_payload("/status")).get_json(), ensure_ascii=False)
    assert "3 GPUs free · FoldDeck: 1 running, 2 pending in Slurm" in body
    assert "1 idle, 2 mixed, 3 allocated, 1 down" in body and "3 of 24" in body


def test_queue_page_slots_carry_the_cluster_line(app, conn, settings):
    settings.hosts_path.write_text('[[host]]\nname = "cluster"\nkind = "slurm"\nwork_dir = "/shared/fd"\n'
                                   'max_jobs = 5\n')
    publish(settings)
    page = sys.modules["dash_app.pages.admin.admin_queue"]
    view = admin.queue_overview(conn, settings, users.get_by_name(conn, "admin"))
    with app.server.test_request_context():
        clusters = page._clusters()  # what the page's callback reads: the sampler's last tick
    assert clusters == {"cluster": INFO}
    out = str(page.slots_list(view, {}, clusters))
    assert "0 of 5 busy" in out and "3 GPUs free · FoldDeck: 1 running, 2 pending in Slurm" in out
