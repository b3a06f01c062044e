"""The top navigation bar: only pages that exist (and that the user may open), the user, logout."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import has_request_context
from flask_wtf.csrf import generate_csrf

from dash_app import ids
from dash_app.components.toasts import toast_host
from services.people.users import User


def nav_pages(user: User | None) -> list[dict]:
    """Return the registered pages to list in the navbar for this user, in order."""
    pages = [p for p in dash.page_registry.values() if p.get("nav", True) and p.get("path") != "/login"]
    if user is None or not user.is_admin:
        pages = [p for p in pages if not p.get("admin")]
    return sorted(pages, key=lambda p: (p.get("order") if p.get("order") is not None else 999, p["name"]))


def navbar(user: User | None) -> dbc.Navbar:
    """Return the navbar for `user` (None: brand only)."""
    links = [dbc.NavItem(dbc.NavLink([html.I(className=f"bi {p.get('icon', 'bi-circle')} me-1"), p["name"]],
                                     href=p["relative_path"], active="exact",
                                     id=f"nav-{p['module'].rsplit('.', 1)[-1]}"))
             for p in nav_pages(user)]
    right = []
    if user is not None:
        token = generate_csrf() if has_request_context() else ""
        right = [
            html.A([html.I(className="bi bi-person-circle me-1"), html.Span(user.username, id="nav-username"),
                    dbc.Badge(user.role.value, color="light", text_color="dark", className="ms-2", id="nav-role")],
                   href="/account", title="Your account: e-mail, notifications, password, API tokens",
                   className="navbar-text text-white text-decoration-none me-3", id="nav-account"),
            html.Form([dcc.Input(type="hidden", name="csrf_token", value=token, id="nav-csrf"),
                       html.Button([html.I(className="bi bi-box-arrow-right me-1"), "Log out"], type="submit",
                                   className="btn btn-outline-light btn-sm", id="nav-logout")],
                      method="POST", action="/logout", className="d-inline m-0"),
        ]
    return dbc.Navbar(dbc.Container([
        dbc.NavbarBrand([html.Img(src="/assets/favicon.ico", height="24", className="me-2"), "FoldDeck"], href="/"),
        dbc.NavbarToggler(id="nav-toggler"),
        dbc.Collapse([dbc.Nav(links, navbar=True, className="me-auto"),
                      html.Div(right, className="d-flex align-items-center")],
                     id="nav-collapse", navbar=True),
        toast_host() if user is not None else None,
    ], fluid=True), color="primary", dark=True, className="mb-3", id=ids.NAVBAR)
