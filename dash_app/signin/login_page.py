"""The login page: the institution's OpenID Connect button first where one is configured, the username and
password form where FoldDeck's own accounts or LDAP take passwords; and where `?next=` may send people."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template_string
from flask_wtf.csrf import generate_csrf

from dash_app.signin.templates import LOGIN_HTML
from services.people.signin.config import SignInConfig

SIGNIN_KEY = "folddeck_signin"  # server.extensions[...]: the SignInConfig, checked once at start-up


def safe_next(target: str | None) -> str:
    """Return `target` if it is a local path, else `/` (no open redirect)."""
    if not target:
        return "/"
    target = target.replace("\\", "/").strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(ord(c) < 32 for c in target):
        return "/"
    return target


def config() -> SignInConfig:
    """Return this app's sign-in configuration."""
    return current_app.extensions[SIGNIN_KEY]


def render_login(error: str | None = None, notice: str | None = None, username: str = "", next_url: str = "/",
                 status: int = 200) -> tuple[str, int]:
    """Return the login page: the institution's button first where OIDC is on, the form where passwords are."""
    cfg = config()
    view = {"sso_label": cfg.oidc.label if cfg.oidc else "",
            "form": cfg.local_login or cfg.ldap is not None,
            "username_label": "Institution username" if cfg.ldap is not None else "Username"}
    return render_template_string(LOGIN_HTML, error=error, notice=notice, username=username, next=next_url,
                                  csrf_token=generate_csrf(), signin=view), status
