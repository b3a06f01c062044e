"""The webhook allow-list holds origins (issue 22): scheme, host and port must all match, so a webhook
cannot reach another port of an allowed host; URLs with CR/LF are refused; old host-only rows are
migrated (0018); every message carries a delivery id that stays the same on its retries."""
from __future__ import annotations

import json
import time

import pytest

from services.notify import outbox, webhooks
from services.notify.prefs import NotifyPrefs, set_prefs
from services.notify.sender import Sender
from services.platform import db
from services.platform.errors import InvalidInput, PermissionDenied
from services.platform.settings import load_settings
from tests.services.test_notify_mail import mail_settings, run_job
from tests.services.test_notify_webhooks import Receiver


@pytest.fixture
def receivers():
    made = [Receiver(), Receiver()]
    yield made
    for r in made:
        r.close()


def test_an_origin_allows_its_own_port_only(conn, admin, alice):
    webhooks.allow_origin(conn, admin, "https://hooks.lab.example")
    assert webhooks.add_webhook(conn, alice, "https://hooks.lab.example/x")[0].url == "https://hooks.lab.example/x"
    webhooks.add_webhook(conn, alice, "https://HOOKS.lab.example:443/y")
    for url in ("https://hooks.lab.example:8443/x", "http://hooks.lab.example/x", "https://hooks.lab.example:22/"):
        with pytest.raises(webhooks.NotAllowed, match="not allowed"):
            webhooks.add_webhook(conn, alice, url)
    webhooks.allow_origin(conn, admin, "http://10.0.0.5:8080/")
    webhooks.add_webhook(conn, alice, "http://10.0.0.5:8080/hook?x=1")
    with pytest.raises(webhooks.NotAllowed):
        webhooks.add_webhook(conn, alice, "http://10.0.0.5/hook")
    assert [str(o) for o in webhooks.allowed_origins(conn)] == ["http://10.0.0.5:8080", "https://hooks.lab.example"]
    webhooks.disallow_origin(conn, admin, "http://10.0.0.5:8080")
    assert [str(o) for o in webhooks.allowed_origins(conn)] == ["https://hooks.lab.example"]
    with pytest.raises(PermissionDenied):
        webhooks.allow_origin(conn, alice, "https://evil.example")


def test_origin_entries_are_parsed_strictly():
    parse = webhooks.parse_origin
    assert parse("hooks.lab.example") == webhooks.Origin("https", "hooks.lab.example", 443)
    assert parse(" HTTP://Hooks.Lab.Example:8080 ") == webhooks.Origin("http", "hooks.lab.example", 8080)
    assert str(parse("http://[::1]:8080")) == "http://[::1]:8080" and parse("https://[::1]").port == 443
    for bad in ("hooks.lab.example:8080", "https://hooks.lab.example/path", "https://user@hooks.lab.example",
                "ftp://hooks.lab.example", "https://hooks.lab.example:0", "https://hooks.lab.example:99999",
                "https://hooks.lab.example?x", "https://hooks.lab.example\r\n", ""):
        with pytest.raises(InvalidInput):
            parse(bad)


def test_urls_with_cr_lf_or_control_characters_are_refused(conn, admin, alice):
    webhooks.allow_origin(conn, admin, "https://hooks.lab.example")
    for url in ("https://hooks.lab.example/x\r\nX-Injected: 1", "https://hooks.lab.example/x\n",
                "https://hooks.lab.example/a\tb", "https://hooks.lab.example/a b", "https://hooks.lab.example/\x00"):
        with pytest.raises(InvalidInput, match="line breaks"):
            webhooks.add_webhook(conn, alice, url)
    assert webhooks.list_webhooks(conn, alice) == []


def test_a_stored_webhook_to_another_port_or_with_cr_lf_is_not_delivered(settings, conn, admin, alice, receivers):
    allowed, other = receivers
    webhooks.allow_origin(conn, admin, allowed.origin)
    # Rows as an older FoldDeck stored them: same host, another port; and a URL with a CR/LF in it.
    for url in (other.url, allowed.url + "\r\nX-Injected: 1"):
        conn.execute("INSERT INTO webhooks (user_id, url, secret, created_by, created_at) VALUES (?, ?, 's', ?, ?)",
                     (alice.id, url, alice.username, time.time()))
    run_job(settings, conn, alice)
    assert Sender(settings).run_once(conn) == 0
    assert allowed.received == [] and other.received == []
    rows = conn.execute("SELECT gave_up_at, last_error FROM outbox WHERE kind = 'webhook' ORDER BY id").fetchall()
    assert all(r[0] is not None for r in rows)
    assert "not allowed" in rows[0][1] and "line breaks" in rows[1][1]


def test_delivery_id_is_signed_and_the_same_on_retries(settings, conn, admin, alice, receivers):
    receiver, _ = receivers
    webhooks.allow_origin(conn, admin, receiver.origin)
    _, secret = webhooks.add_webhook(conn, alice, receiver.url)
    run_job(settings, conn, alice)
    run_job(settings, conn, alice)
    receiver.status = 500
    sender = Sender(settings, backoff_base=60)
    assert sender.run_once(conn) == 0 and len(receiver.received) == 2
    receiver.status = 204
    conn.execute("UPDATE outbox SET next_at = 0")  # the retries are due now
    assert sender.run_once(conn) == 2 and len(receiver.received) == 4
    ids = []
    for headers, raw in receiver.received:
        assert webhooks.verify(secret, headers["X-FoldDeck-Signature"], raw)
        assert json.loads(raw)["delivery"] == headers["X-FoldDeck-Delivery"]  # the signature covers it
        ids.append(headers["X-FoldDeck-Delivery"])
    assert sorted(ids[:2]) == sorted(ids[2:]) and ids[0] != ids[1]
    stored = {r[0] for r in conn.execute("SELECT delivery_id FROM outbox")}
    assert stored == set(ids)


def test_mail_message_id_is_the_delivery_id(settings, conn, alice, smtp):
    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, port)
    run_job(s, conn, alice)
    assert Sender(s).run_once(conn) == 1
    (delivery_id,) = conn.execute("SELECT delivery_id FROM outbox").fetchone()
    assert len(delivery_id) == 32 and f"folddeck-{delivery_id}" in inbox.messages[0]["Message-ID"]


def test_one_delivery_at_a_time_per_receiver(settings, conn, admin, alice, receivers):
    receiver, _ = receivers
    webhooks.allow_origin(conn, admin, receiver.origin)
    hook, _ = webhooks.add_webhook(conn, alice, receiver.url)
    for _ in range(3):
        run_job(settings, conn, alice)
    first = outbox.claim_due(conn, "a")
    assert len(first) == 1 and first[0].receiver == f"webhook:{hook.id}"
    assert outbox.claim_due(conn, "a", busy={f"webhook:{hook.id}"}) == []
    assert len(outbox.claim_due(conn, "b")) == 1  # another sender may take the next one


def test_migration_turns_host_rows_into_the_origins_in_use(tmp_path):
    s = load_settings(environ={}, dotenv=None, data_dir=tmp_path / "data")
    conn = db.connect(s.db_path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at REAL NOT NULL)")
    for number, name, sql in db.migrations():
        if number < 18:  # the database as the release before 0018 left it
            with db.transaction(conn):
                for statement in db._statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, time.time()))
    conn.executemany("INSERT INTO webhook_hosts (host, added_by, added_at) VALUES (?, 'admin', 1)",
                     [("hooks.lab.example",), ("127.0.0.1",), ("unused.example",)])
    urls = [("http://127.0.0.1:8080/hook", 1), ("https://HOOKS.lab.example/x?y=1", 1),
            ("http://hooks.lab.example:9000/gone", 0), ("http://not-allowed.example:81/", 1)]
    conn.executemany("INSERT INTO webhooks (user_id, url, secret, created_by, created_at, active) "
                     "VALUES (NULL, ?, 's', 'admin', 1, ?)", urls)
    assert db.migrate(s.db_path)[0] == "0018_webhook_origins.sql"
    assert [str(o) for o in webhooks.allowed_origins(conn)] == [
        "http://127.0.0.1:8080", "https://127.0.0.1", "https://hooks.lab.example", "https://unused.example"]
    for url, _ in urls[:2]:
        assert webhooks.check_url(conn, url) == url  # what was delivered before still is
    for url in ("http://hooks.lab.example:9000/gone", "http://127.0.0.1:22/", "http://not-allowed.example:81/"):
        with pytest.raises(webhooks.NotAllowed):
            webhooks.check_url(conn, url)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'webhook_hosts'").fetchone() is None
    db.close_all()


def test_webhook_to_an_ipv6_origin_arrives(settings, conn, admin, alice):
    import socket
    import threading
    from http.server import ThreadingHTTPServer

    class V6Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    receiver = Receiver()  # its handler class, served on ::1 instead
    handler = receiver.server.RequestHandlerClass
    receiver.close()
    try:
        server = V6Server(("::1", 0), handler)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        webhooks.allow_origin(conn, admin, f"http://[::1]:{server.server_port}")
        webhooks.add_webhook(conn, alice, f"http://[::1]:{server.server_port}/hook")
        run_job(settings, conn, alice)
        assert Sender(settings).run_once(conn) == 1
        assert len(receiver.received) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_run_once_goes_past_a_batch_of_refused_messages(settings, conn, admin, alice, receivers):
    good, gone = receivers
    webhooks.allow_origin(conn, admin, gone.origin)
    for _ in range(6):  # more than the sender's workers, all older than the good one
        webhooks.add_webhook(conn, alice, gone.url)
    webhooks.disallow_origin(conn, admin, gone.origin)
    webhooks.allow_origin(conn, admin, good.origin)
    webhooks.add_webhook(conn, alice, good.url)
    run_job(settings, conn, alice)
    assert Sender(settings).run_once(conn) == 1 and len(good.received) == 1 and gone.received == []
