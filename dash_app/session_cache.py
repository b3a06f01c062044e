"""Flask's signed-cookie sessions, with the cookies a web worker has already verified remembered.

Every poll carries the same session cookie; verifying its signature and decoding it again on each
poll was a tenth of a poll's cost. A cookie is remembered only after it verified with the current
key, and its age is checked against the session lifetime on every request, so the outcome is the
one a full check would give: the same bytes under the same key carry the same signature.
"""
from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

from services.platform import defaults


class CachedCookieSessions(SecureCookieSessionInterface):
    """SecureCookieSessionInterface that skips re-verifying a cookie this worker verified before."""

    def __init__(self, size: int = defaults.SESSION_CACHE_SIZE):
        self.size = size
        self._seen: OrderedDict[tuple, tuple[dict, int]] = OrderedDict()  # guarded by _lock
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        val = request.cookies.get(self.get_cookie_name(app))
        if not val or not app.secret_key:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (val, app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        with self._lock:
            hit = self._seen.get(key)
            if hit is not None:
                self._seen.move_to_end(key)
        if hit is not None and 0 <= int(time.time()) - hit[1] <= max_age:  # itsdangerous's own age test
            return self.session_class(_copy(hit[0]))
        try:
            data, signed_at = self.get_signing_serializer(app).loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            self._seen[key] = (_copy(data), int(signed_at.timestamp()))
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return self.session_class(data)


def _copy(data: dict) -> dict:
    """Return a copy a request may change without touching the remembered one."""
    return {k: copy.deepcopy(v) if isinstance(v, (dict, list)) else v for k, v in data.items()}
