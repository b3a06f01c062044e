"""Webhooks: signed JSON POSTs about finished jobs, only to hosts the admins allow.

Signature (documented in README): header `X-FoldDeck-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, "<t>.<raw body>"). A receiver recomputes it with the secret it was
shown when the webhook was created, compares in constant time and rejects old timestamps.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from services import defaults
from services.errors import InvalidInput, PermissionDenied
from services.users import User

SIGNATURE_HEADER = "X-FoldDeck-Signature"
EVENT_HEADER = "X-FoldDeck-Event"


@dataclass(frozen=True)
class Webhook:
    id: int
    user_id: int | None  # None: lab-wide
    url: str
    created_by: str
    created_at: float
    active: bool


class NotAllowed(InvalidInput):
    """The webhook's host is not on the admins' allow-list."""


def allowed_hosts(conn: sqlite3.Connection) -> list[str]:
    """Return the hosts webhooks may point at, sorted."""
    return [r[0] for r in conn.execute("SELECT host FROM webhook_hosts ORDER BY host")]


def allow_host(conn: sqlite3.Connection, admin: User, host: str) -> None:
    """Add a host to the allow-list (admins only).

    Raises:
        PermissionDenied: the caller is not an admin.
        InvalidInput: not a host name.
    """
    if not admin.is_admin:
        raise PermissionDenied("Only admins change which hosts webhooks may call.")
    host = (host or "").strip().lower()
    if not host or any(c in host for c in "/:@ ?#"):
        raise InvalidInput("Give a host name or address only (like hooks.lab.example), without scheme or port.")
    conn.execute("INSERT OR IGNORE INTO webhook_hosts (host, added_by, added_at) VALUES (?, ?, ?)",
                 (host, admin.username, time.time()))


def disallow_host(conn: sqlite3.Connection, admin: User, host: str) -> None:
    """Remove a host from the allow-list; webhooks to it stop being delivered (admins only)."""
    if not admin.is_admin:
        raise PermissionDenied("Only admins change which hosts webhooks may call.")
    conn.execute("DELETE FROM webhook_hosts WHERE host = ?", (host.strip().lower(),))


def check_url(conn: sqlite3.Connection, url: str) -> str:
    """Return the URL if it is http(s) to an allowed host.

    Raises:
        NotAllowed: the host is not on the allow-list.
        InvalidInput: not an http(s) URL.
    """
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise InvalidInput(f"{url!r} is not a web address like https://hooks.lab.example/folddeck.")
    if parts.hostname.lower() not in allowed_hosts(conn):
        raise NotAllowed(f"Webhooks to {parts.hostname} are not allowed; ask an admin to add the host to the "
                         "webhook allow-list.")
    return url


def add_webhook(conn: sqlite3.Connection, caller: User, url: str, lab_wide: bool = False) -> tuple[Webhook, str]:
    """Register a webhook for the caller's jobs (or, for an admin, every job); return it and its secret.

    Raises:
        NotAllowed / InvalidInput: see `check_url`.
        PermissionDenied: a lab-wide webhook asked for by a non-admin.
    """
    if lab_wide and not caller.is_admin:
        raise PermissionDenied("Only admins register lab-wide webhooks.")
    url = check_url(conn, url)
    secret = "whsec_" + secrets.token_urlsafe(24)
    hook_id = conn.execute("INSERT INTO webhooks (user_id, url, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                           (None if lab_wide else caller.id, url, secret, caller.username, time.time())).lastrowid
    return _get(conn, hook_id), secret


def _get(conn: sqlite3.Connection, hook_id: int) -> Webhook:
    row = conn.execute("SELECT id, user_id, url, created_by, created_at, active FROM webhooks WHERE id = ?",
                       (hook_id,)).fetchone()
    if row is None:
        raise InvalidInput(f"Webhook {hook_id} was not found.")
    return Webhook(*row[:5], bool(row[5]))


def list_webhooks(conn: sqlite3.Connection, caller: User) -> list[Webhook]:
    """Return the caller's active webhooks, and for an admin the lab-wide ones too."""
    sql = "SELECT id, user_id, url, created_by, created_at, active FROM webhooks WHERE active = 1 AND (user_id = ?"
    sql += " OR user_id IS NULL)" if caller.is_admin else ")"
    return [Webhook(*r[:5], bool(r[5])) for r in conn.execute(sql + " ORDER BY id", (caller.id,))]


def remove_webhook(conn: sqlite3.Connection, caller: User, hook_id: int) -> None:
    """Stop a webhook (its own user's, or a lab-wide one by an admin).

    Raises:
        InvalidInput: no such webhook the caller may change.
    """
    hook = _get(conn, hook_id)
    if not (hook.user_id == caller.id or (hook.user_id is None and caller.is_admin)):
        raise InvalidInput(f"Webhook {hook_id} was not found.")
    conn.execute("UPDATE webhooks SET active = 0 WHERE id = ?", (hook_id,))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance_s: float = 300, now: float | None = None) -> bool:
    """Return True if `header` signs `body` with `secret` and is recent (what a receiver does)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(expected, fields.get("v1", ""))


def event_body(payload: dict, link: str, scores: list[dict]) -> bytes:
    """Return the JSON a receiver gets for one finished job."""
    job = {k: payload.get(k) for k in ("job_id", "name", "state", "error", "owner", "host", "submitted_at",
                                       "started_at", "finished_at")}
    return json.dumps({"event": f"job.{payload['state']}", "job": {**job, "url": link, "scores": scores}},
                      separators=(",", ":")).encode()


def deliver(conn: sqlite3.Connection, hook_id: int, body: bytes, event: str) -> None:
    """POST one signed event to a webhook.

    Raises:
        NotAllowed: the webhook is gone or its host left the allow-list (retrying will not help).
        OSError: the receiver is down or answered with an error status (retry later).
    """
    row = conn.execute("SELECT url, secret, active FROM webhooks WHERE id = ?", (hook_id,)).fetchone()
    if row is None or not row[2]:
        raise NotAllowed(f"Webhook {hook_id} was removed.")
    url = check_url(conn, row[0])
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "FoldDeck-Webhook/1",
        EVENT_HEADER: event, SIGNATURE_HEADER: sign(row[1], int(time.time()), body)})
    # No redirects (one could lead off the allow-list) and no proxy from the environment (hooks are lab-internal).
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=defaults.WEBHOOK_TIMEOUT_S) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise OSError(f"the receiver answered HTTP {exc.code}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401, ANN001
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} not followed", headers, fp)
