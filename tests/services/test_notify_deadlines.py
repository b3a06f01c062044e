"""Slow receivers on loopback (issue 22): a webhook receiver or SMTP server that answers one byte a
second trips no per-read timeout. Each delivery ends at its overall deadline and is retried later,
and while it hangs the other receivers get their messages."""
from __future__ import annotations

import json
import select
import socket
import threading
import time

import pytest

from services.notify import mailer, webhooks
from services.notify.prefs import NotifyPrefs, set_prefs
from services.notify.sender import WEBHOOK_FAILED, Sender
from tests.conftest import wait_for
from tests.services.test_notify_mail import mail_settings, run_job
from tests.services.test_notify_webhooks import Receiver


class DripServer:
    """A real TCP server on loopback that answers every connection one byte per `interval` s, never finishing.

    `request=True`: it first reads an HTTP request (a webhook receiver); else it speaks first (an SMTP
    greeting). It records when each connection was accepted and when the client hung up.
    """

    def __init__(self, prefix: bytes, request: bool, interval: float = 1.0, lifetime: float = 120):
        self.prefix, self.request, self.interval, self.lifetime = prefix, request, interval, lifetime
        self.accepted: list[float] = []
        self.hung_up: list[float] = []
        self.stopping = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.origin}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(time.monotonic())
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            if self.request:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            end = time.monotonic() + self.lifetime
            answer = iter(self.prefix)
            while not self.stopping.is_set() and time.monotonic() < end:
                readable, _, _ = select.select([conn], [], [], self.interval)
                try:
                    if readable and not conn.recv(65536):  # the client closed or shut the connection down
                        self.hung_up.append(time.monotonic())
                        return
                    conn.send(bytes([next(answer, ord("a"))]))
                except OSError:
                    self.hung_up.append(time.monotonic())
                    return

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


@pytest.fixture
def slow_receiver():
    server = DripServer(b"HTTP/1.1 200 OK\r\nX-Slow: ", request=True)
    yield server
    server.close()


@pytest.fixture
def slow_smtp():
    server = DripServer(b"220 slow.lab.example ", request=False)
    yield server
    server.close()


@pytest.fixture
def fast_receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def start(sender: Sender) -> threading.Thread:
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    return thread


def test_slow_webhook_receiver_is_cut_at_its_deadline_while_the_others_get_theirs(
        settings, conn, alice, admin, slow_receiver, fast_receiver):
    for receiver in (slow_receiver, fast_receiver):
        webhooks.allow_origin(conn, admin, receiver.origin)
    slow_hook, _ = webhooks.add_webhook(conn, alice, slow_receiver.url)  # older: first in the outbox
    webhooks.add_webhook(conn, alice, fast_receiver.url)
    job = run_job(settings, conn, alice)
    sender = Sender(settings, poll=0.05, backoff_base=0.2, deadline_s=5)
    thread = start(sender)
    try:
        wait_for(lambda: fast_receiver.received, timeout=15, what="the fast receiver's event")
        # It did not wait for the slow one: that exchange is still dripping.
        assert slow_receiver.accepted and not slow_receiver.hung_up
        event = json.loads(fast_receiver.received[0][1])
        assert event["job"]["job_id"] == job.id
        wait_for(lambda: slow_receiver.hung_up, timeout=20, what="the slow receiver cut off")
        took = slow_receiver.hung_up[0] - slow_receiver.accepted[0]
        assert 4 <= took <= 8, f"the slow delivery was cut after {took:.1f} s, its deadline is 5 s"
        row = wait_for(lambda: conn.execute(
            "SELECT attempts, sent_at, gave_up_at, last_error FROM outbox WHERE target = ? AND attempts >= 1",
            (str(slow_hook.id),)).fetchone(), what="the slow delivery's failure recorded")
        assert tuple(row) == (1, None, None, WEBHOOK_FAILED)  # not given up: retried later
        wait_for(lambda: len(slow_receiver.accepted) >= 2, what="the retry of the slow delivery")
    finally:
        sender.stop()
        thread.join(20)
    assert not thread.is_alive()
    assert len(fast_receiver.received) == 1


def test_slow_mail_server_does_not_hold_webhooks(settings, conn, alice, admin, slow_smtp, fast_receiver):
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, slow_smtp.port)
    webhooks.allow_origin(conn, admin, fast_receiver.origin)
    webhooks.add_webhook(conn, alice, fast_receiver.url)
    run_job(s, conn, alice)  # the mail row is written before the webhook row
    sender = Sender(s, poll=0.05, backoff_base=60, deadline_s=4)
    thread = start(sender)
    try:
        wait_for(lambda: fast_receiver.received, timeout=15, what="the webhook while the mail server drips")
        assert slow_smtp.accepted and not slow_smtp.hung_up
        wait_for(lambda: slow_smtp.hung_up, timeout=20, what="the slow SMTP exchange cut off")
        assert 3 <= slow_smtp.hung_up[0] - slow_smtp.accepted[0] <= 7
        row = wait_for(lambda: conn.execute("SELECT attempts, gave_up_at, last_error FROM outbox "
                                            "WHERE kind = 'email' AND attempts = 1").fetchone(),
                       what="the mail's failure recorded")
        assert row[1] is None and row[2].startswith("TimeoutError")
    finally:
        sender.stop()
        thread.join(20)
    assert not thread.is_alive()


def test_webhook_post_has_an_overall_deadline(conn, admin, alice, slow_receiver):
    webhooks.allow_origin(conn, admin, slow_receiver.origin)
    hook, _ = webhooks.add_webhook(conn, alice, slow_receiver.url)
    target = webhooks.target(conn, hook.id)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        webhooks.post(target, b"{}", "job.succeeded", "d1", deadline_s=2)
    assert 1.9 <= time.monotonic() - t0 <= 4
    wait_for(lambda: slow_receiver.hung_up, what="the connection closed")


def test_mail_has_an_overall_deadline(settings, slow_smtp):
    s = mail_settings(settings, slow_smtp.port)
    msg = mailer.compose(s, {"job_id": 1, "name": "x", "state": "failed"}, "alice@lab.example", "d1")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        mailer.send(s, msg, deadline_s=2)
    assert 1.9 <= time.monotonic() - t0 <= 4


def test_a_tls_handshake_that_drips_is_cut_at_the_deadline(settings):
    # A TLS record header announcing 64 KiB, then one byte a second: the handshake never trips a read timeout.
    server = DripServer(b"\x16\x03\x03\xff\xff", request=False)
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            webhooks.post(webhooks.Target(f"https://127.0.0.1:{server.port}/hook", "s"), b"{}", "job.succeeded",
                          "d1", deadline_s=2)
        assert time.monotonic() - t0 <= 4
        s = mail_settings(settings, server.port).with_overrides(smtp_security="ssl")
        msg = mailer.compose(s, {"job_id": 1, "name": "x", "state": "failed"}, "alice@lab.example", "d1")
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            mailer.send(s, msg, deadline_s=2)
        assert time.monotonic() - t0 <= 4
    finally:
        server.close()
