"""Account (`/account`): your e-mail and notification choices, limits and usage, password, API
tokens and webhooks (admins also keep the webhook host allow-list here)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from flask import request
from flask_login import login_user

from dash_app.auth import LoginUser
from dash_app.components.admin_common import error_alert, fmt_time, ok_alert, page_header
from dash_app.context import conn, require_account
from dash_app.ids import page_id
from services.notify import outbox, webhooks
from services.notify.prefs import NotifyPrefs, get_prefs, set_prefs
from services.operations import account as account_service
from services.people import api_tokens
from services.platform.errors import FoldDeckError, LoginThrottled

dash.register_page(__name__, path="/account", name="Account", nav=False, title="Account · FoldDeck")

EMAIL = page_id(__name__, "email")
CHOICES = page_id(__name__, "choices")
SAVE_NOTIFY = page_id(__name__, "save-notify")
NOTIFY_ALERT = page_id(__name__, "notify-alert")
USAGE = page_id(__name__, "usage")
PW_CURRENT = page_id(__name__, "pw-current")
PW_NEW = page_id(__name__, "pw-new")
PW_REPEAT = page_id(__name__, "pw-repeat")
PW_SAVE = page_id(__name__, "pw-save")
PW_ALERT = page_id(__name__, "pw-alert")
TOKEN_NAME = page_id(__name__, "token-name")
TOKEN_SCOPE = page_id(__name__, "token-scope")
TOKEN_EXPIRY = page_id(__name__, "token-expiry")
TOKEN_CREATE = page_id(__name__, "token-create")
TOKEN_ALERT = page_id(__name__, "token-alert")
TOKEN_LIST = page_id(__name__, "token-list")
TOKEN_REVOKE = "account-token-revoke"  # pattern-matching: {"type": TOKEN_REVOKE, "index": token id}
HOOK_URL = page_id(__name__, "hook-url")
HOOK_LAB = page_id(__name__, "hook-lab")
HOOK_ADD = page_id(__name__, "hook-add")
HOOK_ALERT = page_id(__name__, "hook-alert")
HOOK_LIST = page_id(__name__, "hook-list")
HOOK_REMOVE = "account-hook-remove"
HOST_NAME = page_id(__name__, "host-name")
HOST_ADD = page_id(__name__, "host-add")
HOST_LIST = page_id(__name__, "host-list")
HOST_REMOVE = "account-host-remove"
SENT = page_id(__name__, "sent")

CHOICE_OPTIONS = [{"label": "a job succeeded", "value": "succeeded"},
                  {"label": "a job failed", "value": "failed"},
                  {"label": "an admin cancelled a job of mine", "value": "cancelled"}]
SCOPE_OPTIONS = [{"label": "Read only (list, status, log, results)", "value": "read"},
                 {"label": "Read and write (also submit, cancel, retry)", "value": "write"}]
NEVER = "never"  # the expiry select's value for a token that does not expire
EXPIRY_OPTIONS = [{"label": f"{d} days" if d else "never (not recommended)", "value": str(d) if d else NEVER}
                  for d in api_tokens.EXPIRY_DAYS]


def _card(title: str, icon: str, body: list) -> dbc.Card:
    return dbc.Card([dbc.CardHeader([html.I(className=f"bi {icon} me-2"), title]), dbc.CardBody(body)],
                    className="mb-3 shadow-sm")


def _field(label: str, control, help_text: str | None = None) -> html.Div:
    return html.Div([dbc.Label(label, html_for=control.id, className="small fw-semibold mb-1"), control,
                     dbc.FormText(help_text) if help_text else None], className="mb-2")


def layout(**_kwargs) -> html.Div:
    """Return the account page of the logged-in user."""
    user = require_account()
    c = conn()
    prefs = get_prefs(c, user.id)
    chosen = [k for k in ("succeeded", "failed", "cancelled") if getattr(prefs, f"on_{k}")]
    left = [
        _card("E-mail notifications", "bi-envelope", [
            _field("E-mail address", dbc.Input(id=EMAIL, type="email", value=prefs.email,
                                               placeholder="you@lab.example"),
                   "Leave empty for no mail."),
            dbc.Label("Send me a mail when", className="small fw-semibold mb-1"),
            dbc.Checklist(id=CHOICES, options=CHOICE_OPTIONS, value=chosen, className="mb-2"),
            dbc.Button("Save", id=SAVE_NOTIFY, color="primary"), html.Div(id=NOTIFY_ALERT, className="mt-2"),
            html.Div(sent_table(user.id), id=SENT, className="mt-3"),
        ]),
        _card("Limits and usage", "bi-speedometer2", [html.Div(usage_table(user.id), id=USAGE)]),
        _card("Password", "bi-key", [
            _field("Current password", dbc.Input(id=PW_CURRENT, type="password", autoComplete="current-password")),
            _field("New password", dbc.Input(id=PW_NEW, type="password", autoComplete="new-password")),
            _field("New password again", dbc.Input(id=PW_REPEAT, type="password", autoComplete="new-password"),
                   "Changing it logs out your other browsers and revokes all your API tokens."),
            dbc.Button("Change password", id=PW_SAVE, color="primary"), html.Div(id=PW_ALERT, className="mt-2"),
        ]),
    ]
    right = [
        _card("API tokens", "bi-braces", [
            html.P(["Scripts use a token as ", html.Code("Authorization: Bearer <token>"), " with the ",
                    html.A("REST API", href="/api/v1/openapi.json"), "."], className="small text-muted"),
            dbc.Row([dbc.Col(_field("Name", dbc.Input(id=TOKEN_NAME, placeholder="e.g. screening script")), md=5),
                     dbc.Col(_field("Access", dbc.Select(id=TOKEN_SCOPE, options=SCOPE_OPTIONS, value="read")),
                             md=7)]),
            _field("Expires after", dbc.Select(id=TOKEN_EXPIRY, options=EXPIRY_OPTIONS,
                                               value=str(api_tokens.DEFAULT_EXPIRY_DAYS)),
                   "An expired token gets 401 \"token expired\". Changing your password, or an admin resetting "
                   "it or disabling your account, revokes all your tokens."),
            dbc.Button("Create token", id=TOKEN_CREATE, color="primary"), html.Div(id=TOKEN_ALERT, className="mt-2"),
            html.Div(token_table(user.id), id=TOKEN_LIST, className="mt-2"),
        ]),
        _card("Webhooks", "bi-broadcast", [
            html.P("FoldDeck POSTs a signed JSON event to these addresses when a job ends (see the README for "
                   "checking the signature).", className="small text-muted"),
            _field("URL", dbc.Input(id=HOOK_URL, placeholder="https://hooks.lab.example/folddeck")),
            dbc.Checkbox(id=HOOK_LAB, label="Lab-wide: every user's jobs (admins)", value=False,
                         disabled=not user.is_admin, className="mb-2"),
            dbc.Button("Add webhook", id=HOOK_ADD, color="primary"), html.Div(id=HOOK_ALERT, className="mt-2"),
            html.Div(hook_table(user), id=HOOK_LIST, className="mt-2"),
        ]),
    ]
    if user.is_admin:
        right.append(_card("Webhook addresses allowed (admins)", "bi-shield-check", [
            html.P(["Scheme, host and port: ", html.Code("https://hooks.lab.example"), " allows port 443 there "
                    "and no other; a bare host name means https on 443."], className="small text-muted"),
            dbc.InputGroup([dbc.Input(id=HOST_NAME, placeholder="https://hooks.lab.example or http://10.0.0.5:8080"),
                            dbc.Button("Allow", id=HOST_ADD, color="secondary")], className="mb-2"),
            html.Div(host_list(), id=HOST_LIST)]))
    return html.Div([page_header("Your account", "bi-person-circle", f"Signed in as {user.username}."),
                     dbc.Row([dbc.Col(left, lg=6), dbc.Col(right, lg=6)])])


def usage_table(user_id: int) -> dbc.Table:
    """Return the limits and usage table."""
    u = account_service.usage(conn(), user_id)

    def limit(v: int | None) -> str:
        return "no limit" if v is None else f"{v:,}"

    rows = [("Running now", f"{u.running:,}", limit(u.max_running)), ("Queued", f"{u.queued:,}", limit(u.max_queued)),
            ("Submitted today", f"{u.submitted_today:,}", ""), ("Tokens per job", "", limit(u.max_tokens))]
    return dbc.Table([html.Thead(html.Tr([html.Th(""), html.Th("yours"), html.Th("limit")])),
                      html.Tbody([html.Tr([html.Td(a), html.Td(b), html.Td(c)]) for a, b, c in rows])],
                     size="sm", className="mb-0")


def sent_table(user_id: int) -> html.Div:
    """Return the user's latest mails and webhook calls with how their delivery went."""
    rows = outbox.recent(conn(), user_id, limit=10)
    if not rows:
        return html.P("Nothing sent yet.", className="text-muted small mb-0")

    def status(r: outbox.OutboxRow) -> html.Span:
        if r.sent_at:
            return html.Span(f"sent {fmt_time(r.sent_at)}", className="text-success")
        if r.gave_up_at:
            return html.Span(f"not delivered: {r.last_error}", className="text-danger")
        return html.Span(f"waiting ({r.attempts} tries{': ' + r.last_error if r.last_error else ''})",
                         className="text-warning")

    return html.Div([html.Div("Recent messages", className="small fw-semibold mb-1"), dbc.Table(html.Tbody([
        html.Tr([html.Td(f"job {r.job_id} {r.event}"), html.Td(r.target if r.kind == "email" else "webhook"),
                 html.Td(status(r))]) for r in rows]), size="sm", className="mb-0 small")])


def _expiry(token: api_tokens.ApiToken) -> html.Span:
    """Return when the token expires (or that it has)."""
    if token.expires_at is None:
        return html.Span("never expires", className="text-warning")
    if token.expired():
        return html.Span(f"expired {fmt_time(token.expires_at)}", className="text-danger")
    return html.Span(f"expires {fmt_time(token.expires_at)}")


def _expiry_days(value) -> int | None:
    """Return the lifetime in days chosen in the select (None: never); the service checks it."""
    if value is None or value == "":
        return api_tokens.DEFAULT_EXPIRY_DAYS
    if value == NEVER:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1  # refused by the service with the list of lifetimes


def token_table(user_id: int) -> html.Div:
    """Return the list of the user's tokens with their expiry, each with a revoke button."""
    tokens = api_tokens.list_tokens(conn(), user_id)
    if not tokens:
        return html.P("No tokens yet.", className="text-muted small mb-0")
    return dbc.Table(html.Tbody([html.Tr([
        html.Td(t.name), html.Td(html.Code(t.prefix + "…")), html.Td(t.scope.value),
        html.Td(_expiry(t), className="small"),
        html.Td(f"used {fmt_time(t.last_used_at)}", className="small text-muted"),
        html.Td(dbc.Button("Revoke", id={"type": TOKEN_REVOKE, "index": t.id}, color="outline-danger", size="sm"))])
        for t in tokens]), size="sm", className="mb-0")


def hook_table(user) -> html.Div:
    """Return the user's webhooks (and the lab-wide ones for an admin), each with a remove button."""
    hooks = webhooks.list_webhooks(conn(), user)
    if not hooks:
        return html.P("No webhooks.", className="text-muted small mb-0")
    return dbc.Table(html.Tbody([html.Tr([
        html.Td(html.Code(h.url)), html.Td("lab-wide" if h.user_id is None else "yours", className="small"),
        html.Td(dbc.Button("Remove", id={"type": HOOK_REMOVE, "index": h.id}, color="outline-danger", size="sm"))])
        for h in hooks]), size="sm", className="mb-0")


def host_list() -> html.Div:
    """Return the allow-list (scheme, host, port) with a remove button per entry."""
    origins = [str(o) for o in webhooks.allowed_origins(conn())]
    if not origins:
        return html.P("No address is allowed yet: nobody can add a webhook.", className="text-muted small mb-0")
    return html.Div([dbc.Badge([o, html.Span(" ×", id={"type": HOST_REMOVE, "index": o}, role="button",
                                             n_clicks=0, title=f"Remove {o}")],
                               color="light", text_color="dark", className="me-2 mb-1") for o in origins])


def _secret_alert(what: str, secret: str) -> dbc.Alert:
    return dbc.Alert([html.Div(f"{what} Copy it now: it is shown only this once."),
                      html.Div([html.Code(secret, id=page_id(__name__, "secret"), className="user-select-all"),
                                dcc.Clipboard(target_id=page_id(__name__, "secret"), className="ms-2 d-inline")],
                               className="mt-1")], color="success", className="mb-0")


@callback(Output(NOTIFY_ALERT, "children"), Input(SAVE_NOTIFY, "n_clicks"), State(EMAIL, "value"),
          State(CHOICES, "value"), prevent_initial_call=True)
def save_notifications(_n, email, choices):
    """Store the e-mail address and choices."""
    choices = choices or []
    try:
        prefs = set_prefs(conn(), require_account().id, NotifyPrefs(email or "", "succeeded" in choices,
                                                                    "failed" in choices, "cancelled" in choices))
    except FoldDeckError as exc:
        return error_alert(exc)
    return ok_alert(f"Saved. Mail goes to {prefs.email}." if prefs.email else "Saved. No mail will be sent.")


@callback(Output(PW_ALERT, "children"), Output(PW_CURRENT, "value"), Output(PW_NEW, "value"),
          Output(PW_REPEAT, "value"), Output(TOKEN_LIST, "children", allow_duplicate=True),
          Input(PW_SAVE, "n_clicks"), State(PW_CURRENT, "value"), State(PW_NEW, "value"),
          State(PW_REPEAT, "value"), prevent_initial_call=True)
def change_password(_n, current, new, repeat):
    """Change the password; this browser gets a new session, every other one ends, every token is revoked."""
    try:
        account = account_service.change_password(conn(), require_account(), current or "", new or "",
                                                  repeat or "", request.remote_addr or "unknown")
    except (FoldDeckError, LoginThrottled) as exc:
        return error_alert(exc), "", no_update, no_update, no_update
    login_user(LoginUser(account))  # a new session (and the new session token) in this browser's cookie
    return (ok_alert("Password changed. Your other sessions have ended and your API tokens were revoked."),
            "", "", "", token_table(account.id))


@callback(Output(TOKEN_ALERT, "children"), Output(TOKEN_LIST, "children"), Output(TOKEN_NAME, "value"),
          Input(TOKEN_CREATE, "n_clicks"), Input({"type": TOKEN_REVOKE, "index": ALL}, "n_clicks"),
          State(TOKEN_NAME, "value"), State(TOKEN_SCOPE, "value"), State(TOKEN_EXPIRY, "value"),
          prevent_initial_call=True)
def update_tokens(_create, revokes, name, scope, expiry):
    """Create a token (its secret shown once) or revoke one."""
    user, c = require_account(), conn()
    trigger = ctx.triggered_id
    try:
        if trigger == TOKEN_CREATE:
            token, secret = api_tokens.create_token(c, user.id, name or "", scope or "read", _expiry_days(expiry))
            until = f"expires {fmt_time(token.expires_at)}" if token.expires_at else "never expires"
            alert = _secret_alert(f"Token {token.name!r} ({token.scope.value}, {until}) created.", secret)
            name = ""
        elif isinstance(trigger, dict) and any(revokes or []):
            api_tokens.revoke_token(c, user.id, int(trigger["index"]))
            alert = ok_alert("Token revoked: scripts using it now get 401.")
        else:
            return no_update, no_update, no_update
    except FoldDeckError as exc:
        return error_alert(exc), no_update, no_update
    return alert, token_table(user.id), name


@callback(Output(HOOK_ALERT, "children"), Output(HOOK_LIST, "children"), Input(HOOK_ADD, "n_clicks"),
          Input({"type": HOOK_REMOVE, "index": ALL}, "n_clicks"), State(HOOK_URL, "value"), State(HOOK_LAB, "value"),
          prevent_initial_call=True)
def update_webhooks(_add, removes, url, lab_wide):
    """Register a webhook (its signing secret shown once) or remove one."""
    user, c = require_account(), conn()
    trigger = ctx.triggered_id
    try:
        if trigger == HOOK_ADD:
            hook, secret = webhooks.add_webhook(c, user, url or "", lab_wide=bool(lab_wide))
            alert = _secret_alert(f"Webhook to {hook.url} added. Its signing secret:", secret)
        elif isinstance(trigger, dict) and any(removes or []):
            webhooks.remove_webhook(c, user, int(trigger["index"]))
            alert = ok_alert("Webhook removed.")
        else:
            return no_update, no_update
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    return alert, hook_table(user)


@callback(Output(HOST_LIST, "children"), Output(HOST_NAME, "value"), Output(HOOK_ALERT, "children",
                                                                             allow_duplicate=True),
          Input(HOST_ADD, "n_clicks"), Input({"type": HOST_REMOVE, "index": ALL}, "n_clicks"),
          State(HOST_NAME, "value"), prevent_initial_call=True)
def update_hosts(_add, removes, host):
    """Allow a webhook origin (scheme, host, port) or remove one (admins; the service checks)."""
    user, c = require_account(), conn()
    trigger = ctx.triggered_id
    try:
        if trigger == HOST_ADD:
            webhooks.allow_origin(c, user, host or "")
        elif isinstance(trigger, dict) and any(removes or []):
            webhooks.disallow_origin(c, user, str(trigger["index"]))
        else:
            return no_update, no_update, no_update
    except FoldDeckError as exc:
        return no_update, no_update, error_alert(exc)
    return host_list(), "", no_update
