"""Webhooks end to end: a loopback receiver verifies the HMAC signature of a finished job's event;
hosts not on the admins' allow-list are refused at registration and at delivery."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services import jobs
from services.notify import webhooks
from services.notify.sender import WEBHOOK_FAILED, Sender
from services.people import users
from services.platform.errors import PermissionDenied
from tests.services.test_notify_mail import INPUT, run_job


class Receiver:
    """A real HTTP server on loopback that records what it is sent."""

    def __init__(self, status: int = 204):
        received = self.received = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.headers, raw))  # case-insensitive lookups
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.origin}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def admin(conn):
    return users.get_by_name(conn, "admin")


def test_signed_event_arrives_and_verifies(settings, conn, alice, admin, receiver):
    webhooks.allow_origin(conn, admin, receiver.origin)
    hook, secret = webhooks.add_webhook(conn, alice, receiver.url)
    job = run_job(settings, conn, alice)
    s = settings.with_overrides(base_url="https://folddeck.lab.example")
    assert Sender(s).run_once(conn) == 1
    (headers, raw), = receiver.received
    assert headers["X-FoldDeck-Event"] == "job.succeeded"
    # What a receiver does, written out without FoldDeck's helpers: HMAC-SHA256 over "<t>.<body>".
    fields = dict(part.split("=", 1) for part in headers["X-FoldDeck-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert webhooks.verify(secret, headers["X-FoldDeck-Signature"], raw)
    assert not webhooks.verify("whsec_wrong", headers["X-FoldDeck-Signature"], raw)
    assert not webhooks.verify(secret, headers["X-FoldDeck-Signature"], raw + b" ")
    event = json.loads(raw)
    assert event["event"] == "job.succeeded" and event["job"]["job_id"] == job.id
    assert event["job"]["url"] == f"https://folddeck.lab.example/jobs/{job.id}" and len(event["job"]["scores"]) == 5
    assert Sender(s).run_once(conn) == 0 and len(receiver.received) == 1


def test_host_not_allowed_is_refused(conn, alice, admin, receiver):
    with pytest.raises(webhooks.NotAllowed, match="not allowed"):
        webhooks.add_webhook(conn, alice, receiver.url)
    webhooks.allow_origin(conn, admin, "hooks.lab.example")
    with pytest.raises(webhooks.NotAllowed):
        webhooks.add_webhook(conn, alice, "https://evil.example/hook")
    with pytest.raises(webhooks.InvalidInput):
        webhooks.add_webhook(conn, alice, "ftp://hooks.lab.example/x")
    with pytest.raises(PermissionDenied):
        webhooks.allow_origin(conn, alice, "evil.example")
    with pytest.raises(PermissionDenied):
        webhooks.add_webhook(conn, alice, "https://hooks.lab.example/x", lab_wide=True)


def test_host_removed_from_allow_list_stops_delivery(settings, conn, alice, admin, receiver):
    webhooks.allow_origin(conn, admin, receiver.origin)
    webhooks.add_webhook(conn, alice, receiver.url)
    run_job(settings, conn, alice)
    webhooks.disallow_origin(conn, admin, receiver.origin)
    assert Sender(settings).run_once(conn) == 0
    assert receiver.received == []
    row = conn.execute("SELECT gave_up_at, last_error FROM outbox WHERE kind = 'webhook'").fetchone()
    assert row[0] is not None and "not allowed" in row[1]


def test_receiver_error_is_retried(settings, conn, alice, admin, caplog):
    failing = Receiver(status=500)
    try:
        webhooks.allow_origin(conn, admin, failing.origin)
        webhooks.add_webhook(conn, alice, failing.url)
        run_job(settings, conn, alice)
        with caplog.at_level(logging.INFO, logger="folddeck.notify"):
            assert Sender(settings).run_once(conn) == 0 and len(failing.received) == 1
        row = conn.execute("SELECT attempts, sent_at, gave_up_at, last_error FROM outbox").fetchone()
        # The user sees the generic words; the detail goes to the (admins') application log.
        assert tuple(row) == (1, None, None, WEBHOOK_FAILED) and "HTTP 500" in caplog.text
    finally:
        failing.close()


def test_lab_wide_webhook_gets_every_users_jobs(settings, conn, alice, admin, receiver):
    webhooks.allow_origin(conn, admin, receiver.origin)
    webhooks.add_webhook(conn, admin, receiver.url, lab_wide=True)
    run_job(settings, conn, alice)
    jobs.cancel_job(conn, alice, jobs.submit(conn, settings, alice, INPUT, accept_terms=True).id)
    Sender(settings).run_once(conn)
    assert sorted(json.loads(raw)["event"] for _, raw in receiver.received) == ["job.cancelled", "job.succeeded"]
    assert [h.url for h in webhooks.list_webhooks(conn, admin)] == [receiver.url]
    assert webhooks.list_webhooks(conn, alice) == []
