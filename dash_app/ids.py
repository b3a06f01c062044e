"""Component ids, written once. A typo is then an ImportError, not a silent dead callback.

Every component of an admin page starts with ADMIN_ID_PREFIX: the gate refuses callbacks that
update such components to non-admins, on the server.
"""
from __future__ import annotations

ADMIN_ID_PREFIX = "admin-"


def page_id(module: str, name: str) -> str:
    """Return a page-scoped id, e.g. page_id(__name__, "grid") -> "dashboard-grid"."""
    page = module.rsplit(".", 1)[-1].replace("_", "-")
    return f"{page}-{name}"


# shell
URL = "shell-url"
NAVBAR = "shell-navbar"
ALERTS = "shell-alerts"
