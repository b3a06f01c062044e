"""The account page is no port scanner (issue 22): an admin allows origins (scheme, host, port) through
the page; a user's webhooks to a closed port, an open non-HTTP port, a silent one and an HTTP error all
show the same words in "Recent messages"."""
from __future__ import annotations

import json
import socket
import threading

import pytest

from services.notify import webhooks
from services.notify.sender import WEBHOOK_FAILED, Sender
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, free_port, login
from tests.dash_app.test_account_page import call, page, text_of  # noqa: F401  (page: fixture)
from tests.services.test_notify_mail import run_job
from tests.services.test_notify_webhooks import Receiver


class RawServer:
    """A TCP server on loopback that is not HTTP: it says an SSH banner and closes, or (silent) says nothing."""

    def __init__(self, silent: bool):
        self.silent = silent
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.silent:
                self.held.append(conn)  # like a filtered port: nothing ever comes back
            else:
                with conn:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def targets():
    closed = free_port()
    banner, silent, http_error = RawServer(silent=False), RawServer(silent=True), Receiver(status=404)
    yield [f"http://127.0.0.1:{closed}", f"http://127.0.0.1:{banner.port}", f"http://127.0.0.1:{silent.port}",
           http_error.origin]
    banner.close()
    silent.close()
    http_error.close()


def test_failed_webhooks_show_one_generic_error_whatever_the_port_did(app, page, client, conn, alice,  # noqa: F811
                                                                      targets):
    admin = app.server.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    refused = call(app, admin, page.HOST_LIST, {page.HOST_NAME: "https://hooks.lab.example/path"},
                   f"{page.HOST_ADD}.n_clicks")
    assert "without a path" in text_of(refused)
    for origin in targets:
        call(app, admin, page.HOST_LIST, {page.HOST_NAME: origin}, f"{page.HOST_ADD}.n_clicks")
    assert sorted(str(o) for o in webhooks.allowed_origins(conn)) == sorted(targets)

    assert login(client, "alice", USER_PASSWORD).status_code == 302
    for origin in targets:
        added = call(app, client, page.HOOK_ALERT, {page.HOOK_URL: f"{origin}/hook", page.HOOK_LAB: False},
                     f"{page.HOOK_ADD}.n_clicks")
        assert "whsec_" in text_of(added)
    other_port = call(app, client, page.HOOK_ALERT, {page.HOOK_URL: "http://127.0.0.1:1/hook", page.HOOK_LAB: False},
                      f"{page.HOOK_ADD}.n_clicks")
    assert "not allowed" in text_of(other_port)  # a port nobody allowed is refused before any connection

    run_job(app.server.config["FOLDDECK_SETTINGS"], conn, alice)
    assert Sender(app.server.config["FOLDDECK_SETTINGS"], deadline_s=2).run_once(conn) == 0
    with app.server.test_request_context():
        table = json.loads(json.dumps(page.sent_table(alice.id).to_plotly_json(),
                                      default=lambda c: c.to_plotly_json()))
    statuses = [cells[2]["props"]["children"]["props"]["children"]
                for cells in (row["props"]["children"] for row in _rows(table))
                if cells[1]["props"]["children"] == "webhook"]
    assert len(statuses) == 4 and set(statuses) == {f"waiting (1 tries: {WEBHOOK_FAILED})"}


def _rows(node) -> list[dict]:
    """Return every table row (`Tr`) in a serialised component tree."""
    if isinstance(node, list):
        return [r for child in node for r in _rows(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "Tr":
        return [node]
    return _rows(node.get("props", {}).get("children"))
