"""/metrics carries the queue (issue 23): jobs by state and host, Slurm pending, the oldest queued job, each
process's and worker's heartbeat, the outbox and the MSA cache — and Prometheus's own parser reads it all."""
from __future__ import annotations

import time

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from services import jobs
from services.hosts import load_hosts
from services.jobs import slurm
from services.platform import heartbeat
from tests.services.test_jobs import af3
from tests.services.test_metrics_endpoint import metrics_app, token_settings  # noqa: F401  (fixtures)


def _scrape(app) -> dict[tuple[str, tuple], float]:
    resp = app.server.test_client().get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert resp.status_code == 200
    found = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):  # raises on anything malformed
        assert family.type == "gauge", family.name
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_queue_figures_parse_with_prometheus_client(metrics_app, token_settings, conn, alice):  # noqa: F811
    s = token_settings
    before = time.time()
    first = jobs.submit(conn, s, alice, af3("first"))
    jobs.submit(conn, s, alice, af3("second"))
    jobs.register_worker(conn, "w-1", "node1", 1234)
    running = jobs.claim_job(conn, s, "w-1", load_hosts(s))
    assert running.id == first.id
    slurm.record_submission(conn, running.id, running.attempts, "cluster", "folddeck.x.1.1", "#!/bin/sh", "/tmp/r")
    slurm.record_state(conn, running.id, running.attempts, "PENDING", "Resources")
    beat = heartbeat.Heartbeat(s.db_path, "sender").start()
    try:
        got = _scrape(metrics_app)
    finally:
        beat.stop()
    assert got[("folddeck_jobs", (("host", "local"), ("state", "running")))] == 1
    assert got[("folddeck_jobs", (("host", ""), ("state", "queued")))] == 1
    assert got[("folddeck_slurm_jobs_pending", (("host", "cluster"),))] == 1
    assert 0 <= got[("folddeck_oldest_queued_job_age_seconds", ())] <= time.time() - before + 1
    assert got[("folddeck_process_up", (("process", "sender"),))] == 1
    assert got[("folddeck_process_up", (("process", "worker"),))] == 0  # never started: no age, and down
    assert ("folddeck_process_heartbeat_age_seconds", (("process", "worker"),)) not in got
    assert 0 <= got[("folddeck_worker_heartbeat_age_seconds", (("host", "node1"), ("worker", "w-1")))] < 60
    assert got[("folddeck_outbox_pending", (("kind", "email"),))] == 0
    assert got[("folddeck_msa_cache_hits", ())] == 0
    assert got[("folddeck_host_up", (("host", "local"),))] == 1  # the sampler's families are still there
