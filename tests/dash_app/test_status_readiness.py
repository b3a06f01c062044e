"""Status page readiness (issue 18): each host's preflight, with the missing piece; the sampler runs it."""
from __future__ import annotations

import time

from services.hosts import preflight
from services.operations.sampler import Sampler
from tests.conftest import USER_PASSWORD, dash_post, login, wait_for

BODY = {"output": "status-readiness.children", "outputs": {"id": "status-readiness", "property": "children"},
        "inputs": [{"id": "status-interval", "property": "n_intervals", "value": 2}], "state": [],
        "changedPropIds": ["status-interval.n_intervals"]}


def test_status_shows_missing_piece(app, client, conn):
    preflight.record(conn, "gpu1", ["database mmcif_files in /srv/af3/db"])
    preflight.record(conn, "gpu2", [])
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    text = str(dash_post(client, BODY).get_json())
    assert "gpu1" in text and "not ready" in text and "database mmcif_files in /srv/af3/db" in text
    assert "gpu2" in text and "'children': 'ready'" in text


def test_sampler_runs_preflight_off_the_tick(conn, settings):
    real = settings.with_overrides(af3_command="/nonexistent/af3 --json_path={input} --output_dir={output}",
                                   local_slots=1)
    sampler = Sampler(real, hosts=[])
    try:
        t0 = time.perf_counter()
        sampler._maintain(conn, time.time())
        assert time.perf_counter() - t0 < 5
        found = wait_for(lambda: preflight.readiness(conn).get("local"), timeout=30, what="preflight")
    finally:
        sampler.close()
    assert not found.ready and "AF3 command not found: /nonexistent/af3" in found.missing
