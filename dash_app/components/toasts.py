"""Toasts for the user's own jobs ending (and, for admins, hosts going down).

One slow interval in the navbar (registered per app by `init_toasts`) reads `toasts_since` with
a cursor kept in session storage: a tick with nothing new is one indexed read and answers
`no_update`. New toasts are appended with a Patch and fade by themselves.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, Patch, State, dcc, html, no_update
from flask import has_request_context

from dash_app.context import account, conn
from services.notify.toasts import Toast, latest_id, toasts_since
from services.platform import defaults

TICK = "toast-tick"
CURSOR = "toast-cursor"
AREA = "toast-area"
ICONS = {"success": "bi-check-circle-fill", "danger": "bi-x-octagon-fill", "warning": "bi-exclamation-triangle-fill"}


def toast_host() -> html.Div:
    """Return the interval, the cursor store and the corner the toasts appear in.

    The cursor starts at the newest toast when the page is rendered (a cursor this browser tab
    already holds in session storage wins), so a job ending before the first tick is not missed.
    """
    start = latest_id(conn()) if has_request_context() else None
    return html.Div([
        dcc.Interval(id=TICK, interval=defaults.TOAST_POLL_MS),
        dcc.Store(id=CURSOR, storage_type="session", data=start),
        html.Div([], id=AREA, className="fd-toasts position-fixed bottom-0 end-0 p-3",
                 style={"zIndex": 1090, "width": "22rem"}, **{"aria-live": "polite"}),
    ])


def toast(item: Toast) -> dbc.Toast:
    """Return one toast; a job's links to its page."""
    text = html.A(item.text, href=f"/jobs/{item.job_id}", className="text-reset") if item.job_id else item.text
    return dbc.Toast(text, header=[html.I(className=f"bi {ICONS.get(item.level, 'bi-info-circle-fill')} "
                                                    f"text-{item.level} me-2"), "FoldDeck"],
                     id={"type": "toast", "index": item.id}, className="fd-toast mb-2", dismissable=True,
                     duration=defaults.TOAST_POLL_MS * 3, is_open=True)


def show_toasts(_n, cursor):
    """Append the toasts that arrived since the cursor (the first call only sets the cursor)."""
    user = account()
    if user is None:
        return no_update, no_update
    if cursor is None:
        return no_update, latest_id(conn())
    found, more, new_cursor = toasts_since(conn(), user, int(cursor))
    if not found:
        return no_update, no_update
    patch = Patch()
    patch.extend([toast(t) for t in found])
    if more:
        patch.append(dbc.Toast(f"…and {more} more: see your jobs.", header="FoldDeck", className="fd-toast mb-2",
                               dismissable=True, duration=defaults.TOAST_POLL_MS * 3))
    return patch, new_cursor


def init_toasts(app) -> None:
    """Register `show_toasts` on this app (the navbar is the shell's, not a page's: Dash hands module-level
    `@callback`s only to the first app a process creates)."""
    app.callback(Output(AREA, "children"), Output(CURSOR, "data"), Input(TICK, "n_intervals"),
                 State(CURSOR, "data"))(show_toasts)
