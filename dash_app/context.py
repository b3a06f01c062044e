"""What a callback may know about its request: settings, a DB connection and the current user.

The user always comes from the server session (`current_user`), never from a Store, URL or Input.
"""
from __future__ import annotations

import sqlite3

from flask import current_app, has_request_context
from flask_login import current_user

from services.people.users import User
from services.platform import db
from services.platform.settings import Settings


def settings() -> Settings:
    """Return the app's settings."""
    return current_app.config["FOLDDECK_SETTINGS"]


def conn() -> sqlite3.Connection:
    """Return this thread's database connection."""
    return db.connect(settings().db_path)


def account() -> User | None:
    """Return the logged-in user, or None outside a request / when anonymous."""
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return None
    return current_user.account


def require_account() -> User:
    """Return the logged-in user (the gate guarantees one inside callbacks)."""
    user = account()
    if user is None:  # the gate makes this unreachable; refuse loudly rather than act anonymously
        raise PermissionError("no logged-in user")
    return user
