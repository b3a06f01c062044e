"""/metrics: OpenMetrics text from the snapshot store; admin session or bearer token, else 401."""
from __future__ import annotations

import pytest

from services.metrics.model import Disk, Gpu, HostSnapshot, down
from services.metrics.store import SnapshotStore, cache_dir


@pytest.fixture
def token_settings(settings):
    return settings.with_overrides(metrics_token="s3cret-token")


@pytest.fixture
def metrics_app(token_settings):
    from dash_app import create_app

    app = create_app(token_settings)
    app.server.config.update(TESTING=True)
    store = SnapshotStore(cache_dir(token_settings.data_dir))
    store.put([HostSnapshot(host="local", ts=1.0, cpu_percent=12.5, load=(0.5, 0.25, 0.1), mem_used_bytes=1024,
                            mem_total_bytes=4096, disks=[Disk("/", 10, 20)],
                            gpus=[Gpu(0, 'A100 "SXM"', "GPU-1", 40.0, 1024.0, 81920.0, 50.0, None, 400.0)]),
               down("gpu2", 1.0, "gpu2: cannot connect")], ts=1700000000.5)
    store.close()
    return app


def test_token_gets_openmetrics(metrics_app):
    resp = metrics_app.server.test_client().get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert resp.status_code == 200
    assert resp.content_type.startswith("application/openmetrics-text; version=1.0.0")
    text = resp.get_data(as_text=True)
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.endswith("\n")
    assert 'folddeck_host_up{host="local"} 1' in lines and 'folddeck_host_up{host="gpu2"} 0' in lines
    assert 'folddeck_cpu_utilization_percent{host="local"} 12.5' in lines
    assert 'folddeck_load_average{host="local",period="5m"} 0.25' in lines
    gpu = 'host="local",gpu="0",uuid="GPU-1",name="A100 \\"SXM\\""'
    assert f"folddeck_gpu_memory_used_bytes{{{gpu}}} 1073741824" in lines
    assert not any(line.startswith("folddeck_gpu_power_watts{") for line in lines)  # unsupported: left out
    assert "folddeck_sampler_last_tick_timestamp_seconds 1700000000.500" in lines
    assert lines.count("# TYPE folddeck_host_up gauge") == 1


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret-token", "Bearer "])
def test_refused_without_token_or_admin(metrics_app, header):
    headers = {"Authorization": header} if header else {}
    resp = metrics_app.server.test_client().get("/metrics", headers=headers)
    assert resp.status_code == 401 and "folddeck_" not in resp.get_data(as_text=True)


def test_admin_session_yes_user_session_no(metrics_app):
    from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login

    admin = metrics_app.server.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    assert admin.get("/metrics").status_code == 200
    user = metrics_app.server.test_client()
    assert login(user, "alice", USER_PASSWORD).status_code == 302
    assert user.get("/metrics").status_code == 401


def test_empty_token_setting_never_matches(settings):
    from dash_app import create_app

    app = create_app(settings)  # metrics_token "" (the default): only admins
    assert app.server.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
