"""The sender: delivers the outbox (mail over SMTP, signed webhook POSTs) until stopped.

Run as its own process (`python -m services.notify`, which `make run` starts). Several senders
may run at once: each message is leased to one (outbox.claim_due) and marked sent after the
server accepted it, so it goes out once.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sqlite3
import threading
import time

from services import db, defaults, results
from services.notify import mailer, outbox, webhooks
from services.settings import Settings

log = logging.getLogger("folddeck.notify")


class Sender:
    """Delivers due outbox messages every `poll` seconds; `run()` blocks, `stop()` ends it."""

    def __init__(self, settings: Settings, poll: float = defaults.OUTBOX_POLL_S,
                 backoff_base: float = defaults.OUTBOX_BACKOFF_MIN_S, give_up_s: float = defaults.OUTBOX_GIVE_UP_S):
        self.settings = settings
        self.poll = poll
        self.backoff_base = backoff_base
        self.give_up_s = give_up_s
        self.id = f"{socket.gethostname()}-{os.getpid()}-sender"
        self.stopping = threading.Event()
        self._pruned_at = 0.0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        """Deliver until stopped."""
        conn = db.connect(self.settings.db_path)
        try:
            while not self.stopping.is_set():
                try:
                    self.run_once(conn)
                except sqlite3.Error:
                    log.exception("outbox: database busy; trying again")
                self.stopping.wait(self.poll)
        finally:
            db.close_all()

    def run_once(self, conn: sqlite3.Connection) -> int:
        """Deliver every due message once; return how many were delivered."""
        if time.time() - self._pruned_at > 3600:
            outbox.prune(conn)
            self._pruned_at = time.time()
        sent = 0
        # Without a mail server, mails wait unclaimed (no pointless tries); webhooks still go.
        kinds = ("email", "webhook") if self.settings.smtp_host else ("webhook",)
        for message in outbox.claim_due(conn, self.id, kinds=kinds):
            if self.stopping.is_set():
                break
            sent += self._deliver(conn, message)
        return sent

    def _deliver(self, conn: sqlite3.Connection, message: outbox.Message) -> int:
        """Send one message and record the outcome; return 1 if it went out."""
        if time.time() - message.created_at >= self.give_up_s:  # waited a day (e.g. no mail server): stale news
            outbox.mark_failed(conn, message, self.id, "not sent within a day", give_up_s=self.give_up_s)
            return 0
        try:
            if message.kind == "email":
                self._mail(message)
            else:
                self._post(conn, message)
        except webhooks.NotAllowed as exc:
            outbox.mark_failed(conn, message, self.id, str(exc), permanent=True)
            return 0
        except Exception as exc:  # noqa: BLE001  (any failure is retried; a bug must not stop the sender)
            permanent = message.kind == "email" and mailer.is_permanent(exc)
            outbox.mark_failed(conn, message, self.id, f"{type(exc).__name__}: {exc}", base=self.backoff_base,
                               give_up_s=self.give_up_s, permanent=permanent)
            log.debug("outbox %s: %s failed: %s", message.id, message.kind, exc)
            return 0
        outbox.mark_sent(conn, message, self.id)
        return 1

    def _mail(self, message: outbox.Message) -> None:
        mailer.send(self.settings, mailer.compose(self.settings, message.payload, message.target, message.id))

    def _post(self, conn: sqlite3.Connection, message: outbox.Message) -> None:
        try:
            samples = results.read_results(message.payload.get("output_path")).samples
        except (OSError, ValueError):
            samples = []
        scores = [{k: v for k, v in dataclasses.asdict(s).items()
                   if k in ("seed", "sample", "ranking_score", "ptm", "iptm")} for s in samples]
        body = webhooks.event_body(message.payload, mailer.job_link(self.settings, message.payload["job_id"]), scores)
        webhooks.deliver(conn, int(message.target), body, f"job.{message.event}")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    from services import applog
    from services.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m services.notify",
                                     description="Deliver FoldDeck's job e-mails and webhooks.")
    parser.add_argument("--once", action="store_true", help="deliver what is due now and exit")
    args = parser.parse_args(argv)
    settings = load_settings()
    db.migrate(settings.db_path)
    root = logging.getLogger("folddeck")
    root.setLevel(settings.log_level)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    applog.install(settings)
    sender = Sender(settings)
    if args.once:
        sender.run_once(db.connect(settings.db_path))
    else:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sender.stop())
        sender.run()
    applog.flush()
    return 0
