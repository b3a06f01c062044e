"""Login, logout and the one deny-by-default gate in front of every route.

- `/login` is a plain Flask form (CSRF-checked with Flask-WTF); failures are throttled by the
  users service.
- `gate()` runs before every request: public endpoints pass; a page load without a session is
  redirected to `/login?next=…`; any `/_dash-*` or `/api/*` request without one gets 401 JSON;
  admin pages and the callbacks that update admin components (ids starting `admin-`) get 403
  for non-admins.
- Dash callbacks carry the CSRF token the dash-renderer copies from the `_csrf_token` cookie into
  the `X-CSRFToken` header, so one CSRFProtect covers forms and callbacks alike.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, redirect, render_template_string, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf, validate_csrf
from wtforms import ValidationError

from dash_app.ids import ADMIN_ID_PREFIX
from services import db, users
from services.errors import LoginThrottled, UserNotFound

PUBLIC_PATHS = frozenset({"/login", "/healthz", "/_favicon.ico", "/metrics"})  # /metrics checks its own token
PUBLIC_PREFIXES = ("/assets/",)
API_PREFIXES = ("/_dash-", "/_reload-hash", "/api/")
ADMIN_PAGE_PREFIX = "/admin"
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads
csrf = CSRFProtect()


class LoginUser(UserMixin):
    """Flask-Login's view of a FoldDeck user. The cookie id embeds the session token, so
    rotating the token (disable, password change) ends every session of that user."""

    def __init__(self, account: users.User):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_token}"

    @property
    def is_admin(self) -> bool:
        return self.account.is_admin


def _conn():
    return db.connect(current_app.config["FOLDDECK_SETTINGS"].db_path)


def load_user(cookie_id: str) -> LoginUser | None:
    """Return the session's user if it still exists, is active and the token still matches."""
    user_id, _, token = (cookie_id or "").partition(":")
    try:
        account = users.get_user(_conn(), int(user_id))
    except (ValueError, UserNotFound):
        return None
    if not account.active or account.session_token != token:
        return None
    return LoginUser(account)


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


def _is_admin_callback() -> bool:
    """True if this Dash callback request updates any admin component."""
    body = request.get_json(silent=True) or {}
    outputs = body.get("outputs")
    # Walk a private stack: the parsed body is cached and Dash reads it after the gate.
    pending = list(outputs) if isinstance(outputs, list) else [outputs]
    while pending:
        out = pending.pop()
        if isinstance(out, list):  # wildcard outputs arrive as nested lists
            pending.extend(out)
            continue
        cid = out.get("id") if isinstance(out, dict) else None
        if isinstance(cid, dict):
            cid = str(cid.get("type", ""))
        if isinstance(cid, str) and cid.startswith(ADMIN_ID_PREFIX):
            return True
    # Older style single-output string "id.prop" / "..a.b...c.d.."
    output = str(body.get("output", ""))
    return any(part.lstrip(".").startswith(ADMIN_ID_PREFIX) for part in output.split("..") if part)


def gate() -> Response | None:
    """Deny by default: let public routes pass, send everyone else to log in or refuse them."""
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if not current_user.is_authenticated:
        if path.startswith(API_PREFIXES):
            return _json_error(401, "Your session has ended; please log in again.", login="/login")
        nxt = request.full_path.rstrip("?") if request.query_string else path
        return redirect(url_for("login", next=nxt))
    if not current_user.is_admin:
        if path.startswith(ADMIN_PAGE_PREFIX) or (path == "/_dash-update-component" and _is_admin_callback()):
            return _json_error(403, "This is for admins only.") if path.startswith(API_PREFIXES) else \
                (render_template_string(FORBIDDEN_HTML), 403)
    return None


def _json_error(status: int, message: str, **extra) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def set_csrf_cookie(response: Response) -> Response:
    """Give the browser the CSRF token dash-renderer sends back as `X-CSRFToken`."""
    # page loads only: a callback's 204 is text/html too, and re-signing a token per poll costs ~0.2 ms
    if request.method == "GET" and response.mimetype == "text/html" and current_user.is_authenticated:
        secure = current_app.config["SESSION_COOKIE_SECURE"]
        response.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Lax", secure=secure, httponly=False)
    return response


def login():
    """Show the login form; on POST check the CSRF token, throttle, then log the user in."""
    nxt = safe_next(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(nxt)
        return render_template_string(LOGIN_HTML, error=None, username="", next=nxt, csrf_token=generate_csrf())
    username = request.form.get("username", "")
    address = request.remote_addr or "unknown"
    try:
        account = users.authenticate(_conn(), username, request.form.get("password", ""), address)
    except LoginThrottled as exc:
        return render_template_string(LOGIN_HTML, error=str(exc), username=username, next=nxt,
                                      csrf_token=generate_csrf()), 429
    if account is None:
        return render_template_string(LOGIN_HTML, error="Wrong username or password, or the account is disabled.",
                                      username=username, next=nxt, csrf_token=generate_csrf()), 401
    login_user(LoginUser(account))
    return redirect(nxt)


def logout():
    """End the session (POST with a CSRF token) and go to the login page; GET asks to confirm."""
    if request.method == "GET":
        return render_template_string(LOGOUT_HTML, csrf_token=generate_csrf())
    logout_user()
    return redirect(url_for("login"))


def healthz():
    """Report that the app is up and its database answers (public: load balancers call it)."""
    _conn().execute("SELECT 1").fetchone()
    return jsonify({"status": "ok"})


def _csrf_error(exc: CSRFError):
    if request.path.startswith(API_PREFIXES):
        return _json_error(400, f"Security token missing or invalid ({exc.description}). Reload the page.")
    return render_template_string(LOGIN_HTML, error="The form expired or was not sent by this site; please try again.",
                                  username="", next="/", csrf_token=generate_csrf()), 400


def init_auth(server: Flask) -> None:
    """Install Flask-Login, the gate, CSRF protection and the login/logout/health routes."""
    manager = LoginManager()
    manager.user_loader(load_user)
    manager.init_app(server)
    server.before_request(gate)  # before CSRFProtect's hook: anonymous callers get 401, not 400
    server.config.update(WTF_CSRF_HEADERS=["X-CSRFToken"], WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=False)
    csrf.init_app(server)
    server.after_request(set_csrf_cookie)
    server.register_error_handler(CSRFError, _csrf_error)
    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
    server.add_url_rule("/healthz", "healthz", healthz)


def check_csrf_value(token: str) -> bool:
    """Return True if `token` is a valid CSRF token for this session (used by tests and forms)."""
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


FORBIDDEN_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Forbidden · FoldDeck</title>
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css"></head>
<body class="bg-light"><main class="container py-5" style="max-width:32rem">
<h1 class="h3">Admins only</h1><p>This page is for FoldDeck administrators.</p>
<a class="btn btn-primary" href="/">Back to your jobs</a></main></body></html>"""

LOGOUT_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log out · FoldDeck</title>
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css"></head>
<body class="bg-light"><main class="container py-5" style="max-width:32rem">
<h1 class="h3">Log out of FoldDeck?</h1>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button class="btn btn-primary" type="submit" id="logout-confirm">Log out</button>
<a class="btn btn-link" href="/">Stay</a></form></main></body></html>"""

LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · FoldDeck</title>
<link rel="icon" href="/assets/favicon.ico">
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css">
<link rel="stylesheet" href="/assets/folddeck.css">
</head><body class="fd-login-body">
<main class="fd-login card shadow-sm">
  <div class="card-body p-4">
    <h1 class="h4 mb-1">FoldDeck</h1>
    <p class="text-muted mb-4">AlphaFold 3 on your lab's GPUs</p>
    {% if error %}<div class="alert alert-danger" role="alert" id="login-error">{{ error }}</div>{% endif %}
    <form method="post" action="/login" novalidate>
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <div class="mb-3"><label class="form-label" for="username">Username</label>
        <input class="form-control" id="username" name="username" value="{{ username }}" autocomplete="username"
               autofocus required></div>
      <div class="mb-3"><label class="form-label" for="password">Password</label>
        <input class="form-control" id="password" name="password" type="password" autocomplete="current-password"
               required></div>
      <button class="btn btn-primary w-100" id="login-submit" type="submit">Log in</button>
    </form>
  </div>
</main></body></html>"""
