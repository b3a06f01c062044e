"""`/metrics`: OpenMetrics text of the latest snapshots, for an admin session or `Bearer <metrics_token>`.

The gate lets /metrics through unauthenticated, so this route does its own check.
"""
from __future__ import annotations

import hmac
import os

from flask import Flask, Response, request
from flask_login import current_user

from services.metrics import openmetrics, queue
from services.metrics.store import SnapshotStore, cache_dir
from services.platform import db
from services.platform.settings import Settings

_stores: dict[tuple[int, str], SnapshotStore] = {}  # per process: a forked worker opens its own handle


def _store(settings: Settings) -> SnapshotStore:
    key = (os.getpid(), str(settings.data_dir))
    if key not in _stores:
        _stores[key] = SnapshotStore(cache_dir(settings.data_dir))
    return _stores[key]


def allowed(settings: Settings) -> bool:
    """Return True for an admin session or the configured bearer token."""
    if getattr(current_user, "is_authenticated", False) and getattr(current_user, "is_admin", False):
        return True
    token = settings.metrics_token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def init_metrics_endpoint(server: Flask, settings: Settings) -> None:
    """Register GET /metrics on `server`."""

    def metrics() -> Response:
        if not allowed(settings):
            return Response("Unauthorised: log in as an admin or send 'Authorization: Bearer <metrics token>'.\n",
                            status=401, mimetype="text/plain", headers={"WWW-Authenticate": 'Bearer realm="folddeck"'})
        return Response(openmetrics.render(_store(settings).latest(), queue.samples(db.connect(settings.db_path))),
                        mimetype=None,
                        content_type=openmetrics.CONTENT_TYPE)

    server.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
