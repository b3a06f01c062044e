"""The sender: delivers the outbox (mail over SMTP, signed webhook POSTs) until stopped.

Run as its own process (`python -m services.notify`, which `make run` starts). Several senders
may run at once: each message is leased to one (outbox.claim_due) and marked sent after the
server accepted it, so it goes out once.

Deliveries run in a small pool of threads, one at a time per receiver (the SMTP server, each
webhook), each within an overall deadline: a receiver that answers a byte every few seconds holds
one worker until its deadline and is retried later, while mail and other webhooks go on.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from services import results
from services.notify import mailer, outbox, webhooks
from services.platform import db, defaults
from services.platform.settings import Settings

log = logging.getLogger("folddeck.notify")

# What the sender records (and the account page shows) for a webhook that failed in transit: the same
# words whether the port was closed, open or filtered, so a webhook cannot be used to probe a network.
WEBHOOK_FAILED = "the receiver did not accept the event (unreachable, too slow, or an error answer)"


class Sender:
    """Delivers due outbox messages every `poll` seconds; `run()` blocks, `stop()` ends it."""

    def __init__(self, settings: Settings, poll: float = defaults.OUTBOX_POLL_S,
                 backoff_base: float = defaults.OUTBOX_BACKOFF_MIN_S, give_up_s: float = defaults.OUTBOX_GIVE_UP_S,
                 workers: int = defaults.NOTIFY_WORKERS, deadline_s: float = defaults.NOTIFY_DEADLINE_S):
        self.settings = settings
        self.poll = poll
        self.backoff_base = backoff_base
        self.give_up_s = give_up_s
        self.workers = workers
        self.deadline_s = deadline_s
        self.id = f"{socket.gethostname()}-{os.getpid()}-sender"
        self.stopping = threading.Event()
        self._pruned_at = 0.0
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[Future, outbox.Message] = {}

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        """Deliver until stopped; deliveries in flight then end (each by its deadline)."""
        conn = db.connect(self.settings.db_path)
        try:
            while not self.stopping.is_set():
                try:
                    self._record(conn)
                    self._start_due(conn)
                except sqlite3.Error:
                    log.exception("outbox: database busy; trying again")
                if self._in_flight:  # back as soon as one ends: its receiver's next message may be due
                    wait(list(self._in_flight), timeout=self.poll, return_when=FIRST_COMPLETED)
                else:
                    self.stopping.wait(self.poll)
            self._finish(conn)
        finally:
            self._close_pool()
            db.close_all()

    def run_once(self, conn: sqlite3.Connection) -> int:
        """Deliver every due message (receivers in parallel, each one's in order) and wait; return how many went."""
        sent = 0
        try:
            while True:
                sent += self._record(conn)
                claimed = 0 if self.stopping.is_set() else self._start_due(conn)
                if self._in_flight:
                    wait(list(self._in_flight), return_when=FIRST_COMPLETED)
                elif not claimed:  # (claimed but none started: stale or refused; more may be due)
                    return sent
        finally:
            self._close_pool()

    def _start_due(self, conn: sqlite3.Connection) -> int:
        """Claim what is due for the free workers and idle receivers and start delivering it; return how many
        messages were claimed."""
        if time.time() - self._pruned_at > 3600:
            outbox.prune(conn)
            self._pruned_at = time.time()
        free = self.workers - len(self._in_flight)
        if free <= 0:
            return 0
        # Without a mail server, mails wait unclaimed (no pointless tries); webhooks still go.
        kinds = ("email", "webhook") if self.settings.smtp_host else ("webhook",)
        busy = {m.receiver for m in self._in_flight.values()}
        claimed = outbox.claim_due(conn, self.id, kinds=kinds, limit=free, busy=busy)
        for message in claimed:
            if time.time() - message.created_at >= self.give_up_s:  # waited a day (e.g. no mail server): stale
                outbox.mark_failed(conn, message, self.id, "not sent within a day", give_up_s=self.give_up_s)
                continue
            try:
                send = self._mail if message.kind == "email" else self._post(webhooks.target(conn, int(message.target)))
            except webhooks.NotAllowed as exc:
                outbox.mark_failed(conn, message, self.id, str(exc), permanent=True)
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="notify-send")
            self._in_flight[self._pool.submit(send, message)] = message
        return len(claimed)

    def _record(self, conn: sqlite3.Connection) -> int:
        """Mark each finished delivery sent or failed; return how many were sent."""
        sent = 0
        for future in [f for f in self._in_flight if f.done()]:
            sent += self._outcome(conn, self._in_flight.pop(future), future.exception())
        return sent

    def _outcome(self, conn: sqlite3.Connection, message: outbox.Message, exc: BaseException | None) -> int:
        """Record one delivery's outcome; return 1 if it went out."""
        if exc is None:
            outbox.mark_sent(conn, message, self.id)
            return 1
        log.info("outbox %s: %s about job %s failed: %s: %s", message.id, message.kind, message.job_id,
                 type(exc).__name__, exc, extra={"source": "notify", "job_id": message.job_id})
        if message.kind == "email":
            error, permanent = f"{type(exc).__name__}: {exc}", mailer.is_permanent(exc)
        else:
            error, permanent = WEBHOOK_FAILED, False
        outbox.mark_failed(conn, message, self.id, error, base=self.backoff_base, give_up_s=self.give_up_s,
                           permanent=permanent)
        return 0

    def _finish(self, conn: sqlite3.Connection) -> None:
        """Wait for the deliveries in flight (each ends by its deadline) and record them."""
        if self._in_flight:
            wait(list(self._in_flight))
            self._record(conn)

    def _close_pool(self) -> None:
        if self._pool is not None and not self._in_flight:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _mail(self, message: outbox.Message) -> None:
        mail = mailer.compose(self.settings, message.payload, message.target, message.delivery_id)
        mailer.send(self.settings, mail, deadline_s=self.deadline_s)

    def _post(self, hook: webhooks.Target) -> Callable[[outbox.Message], None]:
        """Return the delivery of one message to `hook` (run in a worker: no database there)."""
        def post(message: outbox.Message) -> None:
            try:
                samples = results.read_results(mailer.output_folder(self.settings, message.payload)).samples
            except (OSError, ValueError):
                samples = []
            scores = [{k: v for k, v in dataclasses.asdict(s).items()
                       if k in ("seed", "sample", "ranking_score", "ptm", "iptm")} for s in samples]
            link = mailer.job_link(self.settings, message.payload["job_id"])
            body = webhooks.event_body(message.payload, link, scores, message.delivery_id)
            webhooks.post(hook, body, f"job.{message.event}", message.delivery_id, deadline_s=self.deadline_s)
        return post


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    from services.platform import applog, boot
    from services.platform.errors import SettingsError

    parser = argparse.ArgumentParser(prog="python -m services.notify",
                                     description="Deliver FoldDeck's job e-mails and webhooks.")
    parser.add_argument("--once", action="store_true", help="deliver what is due now and exit")
    args = parser.parse_args(argv)
    try:
        settings = boot.boot("sender")
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sender = Sender(settings)
    if args.once:
        sender.run_once(db.connect(settings.db_path))
    else:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sender.stop())
        sender.run()
    applog.flush()
    return 0
