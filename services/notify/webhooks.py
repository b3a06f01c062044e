"""Webhooks: signed JSON POSTs about finished jobs, only to origins the admins allow.

Signature (documented in README): header `X-FoldDeck-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, "<t>.<raw body>"). A receiver recomputes it with the secret it was
shown when the webhook was created, compares in constant time and rejects old timestamps.
`X-FoldDeck-Delivery` (also the body's "delivery" field, so the signature covers it) is the same
on every retry of one message and new for the next: a receiver drops a replay by it.

The allow-list holds origins (scheme, host, port): allowing https://hooks.lab.example allows port
443 there and nothing else, so a webhook cannot probe other ports of an allowed host.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import secrets
import sqlite3
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from services.notify.deadline import Deadline
from services.people.users import User
from services.platform import defaults
from services.platform.errors import InvalidInput, PermissionDenied

SIGNATURE_HEADER = "X-FoldDeck-Signature"
EVENT_HEADER = "X-FoldDeck-Event"
DELIVERY_HEADER = "X-FoldDeck-Delivery"
DEFAULT_PORTS = {"http": 80, "https": 443}
# Printable ASCII only: a CR/LF (or any control character or space) could split the request line.
_URL_CHARS = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class Webhook:
    id: int
    user_id: int | None  # None: lab-wide
    url: str
    created_by: str
    created_at: float
    active: bool


@dataclass(frozen=True, order=True)
class Origin:
    """Where a webhook may point: scheme, host (lower case, IPv6 without brackets) and port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}")


class NotAllowed(InvalidInput):
    """The webhook's origin is not on the admins' allow-list (or the webhook is gone)."""


def _split(url: str, example: str) -> tuple[SplitResult, Origin]:
    """Return the parts and origin of an http(s) URL, refusing anything a request line could not carry."""
    if not _URL_CHARS.fullmatch(url):
        raise InvalidInput(f"{url!r} is not a web address like {example} (no spaces, line breaks or "
                           "other control characters; percent-encode anything else).")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None or port == 0:
        raise InvalidInput(f"{url!r} is not a web address like {example}.")
    return parts, Origin(parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme])


def parse_origin(text: str) -> Origin:
    """Return the origin an allow-list entry names: `https://host[:port]`, `http://host[:port]`, or a bare
    host (https, port 443).

    Raises:
        InvalidInput: not an origin (a path, query or user name in it, a bad port, control characters).
    """
    text = (text or "").strip(" ")
    bare = "://" not in text
    example = "https://hooks.lab.example or http://10.0.0.5:8080"
    parts, origin = _split("https://" + text if bare else text, example)
    if bare and parts.port is not None:
        raise InvalidInput(f"With a port, give the scheme too (like {example}).")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidInput(f"Give a scheme, host and port only (like {example}), without a path.")
    return origin


def allowed_origins(conn: sqlite3.Connection) -> list[Origin]:
    """Return the origins webhooks may point at, sorted."""
    return [Origin(*r) for r in conn.execute("SELECT scheme, host, port FROM webhook_origins "
                                             "ORDER BY host, scheme, port")]


def allow_origin(conn: sqlite3.Connection, admin: User, text: str) -> Origin:
    """Add an origin to the allow-list (admins only); return it.

    Raises:
        PermissionDenied: the caller is not an admin.
        InvalidInput: see `parse_origin`.
    """
    if not admin.is_admin:
        raise PermissionDenied("Only admins change where webhooks may point.")
    origin = parse_origin(text)
    conn.execute("INSERT OR IGNORE INTO webhook_origins (scheme, host, port, added_by, added_at) "
                 "VALUES (?, ?, ?, ?, ?)", (origin.scheme, origin.host, origin.port, admin.username, time.time()))
    return origin


def disallow_origin(conn: sqlite3.Connection, admin: User, text: str) -> None:
    """Remove an origin from the allow-list; webhooks to it stop being delivered (admins only)."""
    if not admin.is_admin:
        raise PermissionDenied("Only admins change where webhooks may point.")
    origin = parse_origin(text)
    conn.execute("DELETE FROM webhook_origins WHERE scheme = ? AND host = ? AND port = ?",
                 (origin.scheme, origin.host, origin.port))


def check_url(conn: sqlite3.Connection, url: str) -> str:
    """Return the URL if it is http(s) to an allowed origin (scheme, host and port all match).

    Raises:
        NotAllowed: the origin is not on the allow-list.
        InvalidInput: not an http(s) URL, or it holds control characters (CR/LF) or a user name.
    """
    url = (url or "").strip(" ")
    _, origin = _split(url, "https://hooks.lab.example/folddeck")
    if not conn.execute("SELECT 1 FROM webhook_origins WHERE scheme = ? AND host = ? AND port = ?",
                        (origin.scheme, origin.host, origin.port)).fetchone():
        raise NotAllowed(f"Webhooks to {origin} are not allowed; ask an admin to add it to the webhook "
                         "allow-list.")
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


def event_body(payload: dict, link: str, scores: list[dict], delivery_id: str) -> bytes:
    """Return the JSON a receiver gets for one finished job (`delivery_id`: the outbox message's)."""
    job = {k: payload.get(k) for k in ("job_id", "name", "state", "error", "owner", "host", "submitted_at",
                                       "started_at", "finished_at")}
    return json.dumps({"event": f"job.{payload['state']}", "delivery": delivery_id,
                       "job": {**job, "url": link, "scores": scores}}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Target:
    """A webhook as a delivery needs it: where, and the key it signs with."""

    url: str
    secret: str


def target(conn: sqlite3.Connection, hook_id: int) -> Target:
    """Return where a webhook's delivery goes, checked against the allow-list now.

    Raises:
        NotAllowed: the webhook is gone, its URL is not valid, or its origin left the allow-list (retrying
            will not help).
    """
    row = conn.execute("SELECT url, secret, active FROM webhooks WHERE id = ?", (hook_id,)).fetchone()
    if row is None or not row[2]:
        raise NotAllowed(f"Webhook {hook_id} was removed.")
    try:
        return Target(check_url(conn, row[0]), row[1])
    except NotAllowed:
        raise
    except InvalidInput as exc:  # stored before the URL rules tightened (CR/LF): it cannot be sent
        raise NotAllowed(str(exc)) from None


def post(hook: Target, body: bytes, event: str, delivery_id: str,
         deadline_s: float = defaults.NOTIFY_DEADLINE_S) -> None:
    """POST one signed event; the whole exchange ends within `deadline_s`, however slowly the receiver answers.

    Raises:
        TimeoutError: the receiver did not answer within `deadline_s` (retry later).
        OSError: the receiver is down or answered with an error status (retry later).
    """
    parts = urlsplit(hook.url)
    port = parts.port or DEFAULT_PORTS[parts.scheme]  # explicit: http.client would misparse a bare IPv6 host
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "User-Agent": "FoldDeck-Webhook/1", EVENT_HEADER: event,
               DELIVERY_HEADER: delivery_id, SIGNATURE_HEADER: sign(hook.secret, int(time.time()), body)}
    with Deadline(deadline_s) as deadline:
        timeout = deadline.timeout(defaults.WEBHOOK_TIMEOUT_S)
        # http.client: no redirects (one could lead off the allow-list), no proxy from the environment.
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = _HTTPS(parts.hostname, port, timeout=timeout,
                                                            context=ssl.create_default_context())
        else:
            connection = _HTTP(parts.hostname, port, timeout=timeout)
        connection.deadline = deadline
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(1024)
        finally:
            connection.close()
    if not 200 <= response.status < 300:
        raise OSError(f"the receiver answered HTTP {response.status}")


class _HTTP(http.client.HTTPConnection):
    """An HTTP connection whose socket the delivery's deadline watches from the moment it connects."""

    deadline: Deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _HTTPS(http.client.HTTPSConnection, _HTTP):
    """HTTPS: `_HTTP.connect` runs inside `HTTPSConnection.connect`, so the TLS handshake is watched too."""
