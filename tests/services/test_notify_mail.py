"""Job e-mail end to end with a real SMTP server (aiosmtpd) on loopback: the trigger writes the
outbox row with the state change, the sender delivers once, survives the server being down, and
gives up after a day with an application-log error."""
from __future__ import annotations

import email
import json
import logging
import sys
import threading
import time

import pytest

from services import jobs
from services.notify import mailer, outbox
from services.notify.prefs import NotifyPrefs, set_prefs
from services.notify.sender import Sender
from services.people import users
from services.platform import db
from services.running.worker import Worker
from tests.conftest import USER_PASSWORD, free_port, wait_for

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
INPUT = {"name": "Mail test", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}
BASE = "https://folddeck.lab.example"

pytestmark = pytest.mark.service  # a real SMTP server (aiosmtpd) on loopback


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


def start_smtp(port: int):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp():
    port = free_port()
    controller, inbox = start_smtp(port)
    yield port, inbox
    controller.stop()


def mail_settings(settings, port: int):
    return settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port, smtp_security="plain",
                                   mail_from="folddeck@lab.example", base_url=BASE, af3_command=SIM)


def body(message) -> str:
    return message.get_payload(decode=True).decode()


def run_job(settings, conn, owner, command: str = SIM) -> jobs.Job:
    s = settings.with_overrides(af3_command=command)
    job = jobs.submit(conn, s, owner, INPUT, accept_terms=True)
    assert Worker(s, concurrency=1).run(once=True) == 1
    return jobs.get_job(conn, owner, job.id)


def test_finished_job_mail_arrives_with_subject_scores_and_link(settings, conn, alice, smtp):
    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, port)
    job = run_job(s, conn, alice)
    assert job.state is jobs.JobState.SUCCEEDED
    sender = Sender(s)
    assert sender.run_once(conn) == 1
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["Subject"] == f"[FoldDeck] Job {job.id} (Mail test) succeeded"
    assert mail["To"] == "alice@lab.example" and mail["From"] == "folddeck@lab.example"
    text = body(mail)
    assert f"{BASE}/jobs/{job.id}" in text and "ranking score" in text and "ipTM" in text
    assert sender.run_once(conn) == 0 and len(inbox.messages) == 1  # never twice
    assert outbox.recent(conn, alice.id)[0].sent_at is not None


def test_failed_job_mail_says_the_error(settings, conn, alice, smtp):
    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, port)
    job = run_job(s, conn, alice, SIM + " --fail-at=inference")
    assert job.state is jobs.JobState.FAILED
    Sender(s).run_once(conn)
    mail = inbox.messages[0]
    assert mail["Subject"].endswith("failed") and "Error: " in body(mail) and job.error.split("\n")[0] in body(mail)


def test_smtp_down_while_job_finishes_mail_arrives_once_after_it_is_back(settings, conn, alice):
    port = free_port()
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, port)
    sender = Sender(s, poll=0.05, backoff_base=0.2)
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    try:
        job = run_job(s, conn, alice)
        wait_for(lambda: conn.execute("SELECT attempts FROM outbox WHERE job_id = ?", (job.id,)).fetchone()[0] >= 2,
                 what="failed tries while the server is down")
        row = conn.execute("SELECT sent_at, last_error FROM outbox WHERE job_id = ?", (job.id,)).fetchone()
        assert row[0] is None and "Connection refused" in row[1]
        controller, inbox = start_smtp(port)
        try:
            wait_for(lambda: inbox.messages, what="the mail after the server came back")
            time.sleep(1.5)  # several more sender rounds: still one mail
            assert len(inbox.messages) == 1 and inbox.messages[0]["Subject"].endswith("succeeded")
        finally:
            controller.stop()
    finally:
        sender.stop()
        thread.join(10)


def test_two_senders_send_each_message_once(settings, conn, alice, smtp):
    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, port)
    for _ in range(3):
        run_job(s, conn, alice)
    senders = [Sender(s, poll=0.01) for _ in range(3)]
    for i, sender in enumerate(senders):
        sender.id += str(i)
    threads = [threading.Thread(target=lambda x=x: [x.run_once(db.connect(s.db_path)) for _ in range(5)])
               for x in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(m["Subject"] for m in inbox.messages) == sorted(
        f"[FoldDeck] Job {j} (Mail test) succeeded" for j in (1, 2, 3))


def test_gives_up_after_a_day_with_an_application_log_error(settings, conn, alice):
    from services.platform import applog

    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    s = mail_settings(settings, free_port())
    job = run_job(s, conn, alice)
    sender = Sender(s)
    (message,) = outbox.claim_due(conn, sender.id)
    handler = applog.install(settings)
    try:
        assert outbox.mark_failed(conn, message, sender.id, "Connection refused", now=message.created_at + 86_400)
        applog.flush()
    finally:
        logging.getLogger("folddeck").removeHandler(handler)
        handler.close()
    row = conn.execute("SELECT level, source, username, job_id, message FROM app_log "
                       "WHERE source = 'notify'").fetchone()
    assert tuple(row[:4]) == ("ERROR", "notify", "alice", job.id)
    assert "gave up the email" in row[4] and "alice@lab.example" in row[4] and "Connection refused" in row[4]
    assert outbox.claim_due(conn, sender.id, now=time.time() + 10 * 86_400) == []


def test_backoff_doubles_up_to_the_cap():
    assert [outbox.backoff(n, 5) for n in (1, 2, 3)] == [5, 10, 20]
    assert outbox.backoff(30, 5) == 1800


def test_choices_and_who_cancelled_decide_the_mail(settings, conn, alice):
    admin = users.get_by_name(conn, "admin")
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example", on_succeeded=False))
    s = mail_settings(settings, free_port())
    run_job(s, conn, alice)  # succeeded, but she turned that off
    own = jobs.submit(conn, s, alice, INPUT, accept_terms=True)
    jobs.cancel_job(conn, alice, own.id)  # her own cancel: no mail
    by_admin = jobs.submit(conn, s, alice, INPUT, accept_terms=True)
    jobs.cancel_job(conn, admin, by_admin.id)
    rows = conn.execute("SELECT job_id, event FROM outbox WHERE kind = 'email'").fetchall()
    assert [tuple(r) for r in rows] == [(by_admin.id, "cancelled")]
    payload = json.loads(conn.execute("SELECT payload FROM outbox").fetchone()[0])
    assert "Cancelled by admin." in body(mailer.compose(s, payload, "alice@lab.example", 1))
    jobs.retry_job(conn, alice, by_admin.id)  # a retried job forgets who cancelled it
    assert conn.execute("SELECT cancelled_by FROM jobs WHERE id = ?", (by_admin.id,)).fetchone()[0] is None


def test_outbox_row_is_written_in_the_state_changes_transaction(settings, conn, alice):
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    bob = users.create_user(conn, "bob", USER_PASSWORD)
    job = jobs.submit(conn, settings, bob, INPUT, accept_terms=True)
    set_prefs(conn, bob.id, NotifyPrefs(email="bob@lab.example"))
    with pytest.raises(RuntimeError), db.transaction(conn):
        conn.execute("UPDATE jobs SET state = 'failed', finished_at = ?, error = 'x' WHERE id = ?",
                     (time.time(), job.id))
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
        raise RuntimeError("roll back")
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_without_a_mail_server_mails_wait_and_stale_ones_are_dropped(settings, conn, alice, smtp, caplog):
    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    run_job(settings, conn, alice)
    assert Sender(settings).run_once(conn) == 0  # no FOLDDECK_SMTP_HOST: left waiting, not tried
    assert conn.execute("SELECT attempts, gave_up_at FROM outbox").fetchone()[:] == (0, None)
    s = mail_settings(settings, port)
    conn.execute("UPDATE outbox SET created_at = created_at - 90000")  # the server came a day too late
    with caplog.at_level(logging.ERROR, logger="folddeck.notify"):
        assert Sender(s).run_once(conn) == 0
    assert inbox.messages == [] and "gave up" in caplog.text


def test_rejected_job_mails_its_owner_with_the_note(settings, conn, alice, smtp):
    from services.operations import approvals

    port, inbox = smtp
    set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
    approvals.set_needs_approval(conn, alice.id, True)
    s = mail_settings(settings, port)
    job = jobs.submit(conn, s, alice, INPUT, accept_terms=True)
    approvals.reject(conn, users.get_by_name(conn, "admin"), job.id, "too big for this week")
    Sender(s).run_once(conn)
    (mail,) = inbox.messages
    assert mail["Subject"].endswith("was cancelled")
    assert "Cancelled by admin. Rejected by an admin: too big for this week" in body(mail)
