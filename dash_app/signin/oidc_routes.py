"""The OpenID Connect routes: `/login/oidc` sends the browser to the provider, `/login/oidc/callback` takes it
back, checks everything (services.people.signin.oidc) and lets the person in (admission). A failure is logged
for the admin with what to check and shown to the person as the plain login page, never a traceback."""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, redirect, request, session

from dash_app.signin.login_page import config, render_login, safe_next
from services.people.signin import admission, oidc
from services.platform import db
from services.platform.errors import SignInRefused, SignInUnavailable

log = logging.getLogger("folddeck.signin")
PENDING_KEY = "fd_oidc_pending"  # state, nonce and PKCE verifier between the two routes (signed cookie)
NEXT_KEY = "fd_oidc_next"
OIDC_PATHS = frozenset({"/login/oidc", "/login/oidc/callback"})  # public: the gate lets them pass
LOGOUT_KEY = "fd_oidc_logout"  # the provider's end-session URL for this sign-in, used by /logout


def _redirect_uri() -> str:
    base = current_app.config["FOLDDECK_SETTINGS"].base_url or request.url_root.rstrip("/")
    return base.rstrip("/") + "/login/oidc/callback"


def _failed(exc: SignInUnavailable | SignInRefused) -> tuple[str, int]:
    """Log why (the admin's words) and return the plain login page with the person's words."""
    if isinstance(exc, SignInUnavailable):
        log.error("%s", exc.detail, extra={"source": "auth", "address": request.remote_addr or ""})
        return render_login(error=str(exc), status=400 if str(exc) == oidc.RESTART else 503)
    log.warning("OIDC sign-in refused: %s", exc, extra={"source": "auth", "address": request.remote_addr or ""})
    return render_login(error=str(exc), status=403)


def begin():
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
    try:
        url, pending = oidc.begin(config().oidc, _redirect_uri())
    except SignInUnavailable as exc:
        return _failed(exc)
    session[PENDING_KEY] = pending
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    return redirect(url)


def callback(log_in: Callable):
    """Finish the provider's sign-in and start the FoldDeck session, or show why not."""
    cfg = config()
    pending = session.pop(PENDING_KEY, None)  # one use: a replayed callback finds nothing
    nxt = session.pop(NEXT_KEY, "/")
    settings = current_app.config["FOLDDECK_SETTINGS"]
    try:
        identity, id_token, meta = oidc.finish(cfg.oidc, _redirect_uri(), pending, request.args.to_dict())
        account = admission.admit(db.connect(settings.db_path), identity, cfg.policy)
    except (SignInUnavailable, SignInRefused) as exc:
        return _failed(exc)
    log_in(account)
    after = (settings.base_url or request.url_root.rstrip("/")) + "/login"
    end = oidc.logout_url(meta, id_token, cfg.oidc.client_id, after)
    if end:
        session[LOGOUT_KEY] = end
    return redirect(nxt)


def provider_logout_url() -> str | None:
    """Return (and forget) where to end the provider's session after FoldDeck's, if it offers that."""
    return session.pop(LOGOUT_KEY, None)


def add_oidc_routes(server: Flask, log_in: Callable) -> None:
    server.add_url_rule("/login/oidc", "oidc_begin", begin)
    server.add_url_rule("/login/oidc/callback", "oidc_callback", lambda: callback(log_in))
