"""Signing in on the web: the login page (FoldDeck's accounts, LDAP, the institution's OpenID Connect button)
and the OIDC routes. The decisions live in services.people.signin; this package holds cookies and pages.
`dash_app.auth` keeps the gate and the session cookie, and calls `init_signin`."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from dash_app.signin.login_page import SIGNIN_KEY
from dash_app.signin.oidc_routes import OIDC_PATHS, add_oidc_routes
from services.people.signin.config import signin_config

__all__ = ["OIDC_PATHS", "init_signin"]


def init_signin(server: Flask, log_in: Callable) -> None:
    """Check the sign-in settings (a half-configured provider stops start-up) and add the OIDC routes.

    `log_in(account)` starts the FoldDeck session (dash_app.auth owns the cookie).
    """
    cfg = signin_config(server.config["FOLDDECK_SETTINGS"])
    server.extensions[SIGNIN_KEY] = cfg
    if cfg.oidc is not None:
        add_oidc_routes(server, log_in)
