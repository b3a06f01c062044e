"""Login, logout and the one deny-by-default gate in front of every route.

- `/login` is a plain Flask form (CSRF-checked with Flask-WTF); failures are throttled by the
  users service. Each login is a row in `user_sessions` whose id is part of the signed cookie:
  `/logout` deletes it, so a copied cookie stops working there and then, while the user's other
  browsers stay logged in. A password change or disable ends all of them (users service).
  The form's password goes to LDAP first where one is configured; the institution's OpenID Connect
  button and routes, and the login page itself, are `dash_app.signin` (decisions: services.people.signin).
- `gate()` runs before every request: public endpoints pass; a page load without a session is
  redirected to `/login?next=…`; any `/_dash-*` or `/api/*` request without one gets 401 JSON;
  admin pages and the callbacks that update admin components (ids starting `admin-`) get 403
  for non-admins.
- Dash callbacks carry the CSRF token the dash-renderer copies from the `_csrf_token` cookie into
  the `X-CSRFToken` header, so one CSRFProtect covers forms and callbacks alike.
"""
from __future__ import annotations

import json
import logging

from flask import (
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf, validate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import ValidationError

from dash_app.ids import ADMIN_ID_PREFIX
from dash_app.signin import OIDC_PATHS, init_signin
from dash_app.signin.login_page import config, render_login, safe_next
from dash_app.signin.oidc_routes import provider_logout_url
from dash_app.signin.templates import FORBIDDEN_HTML, LOGOUT_HTML
from services.operations.group_limits import apply_group_limits
from services.people import api_tokens, users
from services.people.signin import password
from services.platform import db, defaults, heartbeat
from services.platform.errors import LoginThrottled, SignInRefused, SignInUnavailable, TokenExpired, UserNotFound

PUBLIC_PATHS = frozenset({"/login", "/healthz", "/_favicon.ico", "/metrics",  # /metrics checks its own token
                          "/api/v1/openapi.json"}) | OIDC_PATHS
PUBLIC_PREFIXES = ("/assets/",)
API_PREFIXES = ("/_dash-", "/_reload-hash", "/api/")
ADMIN_PAGE_PREFIX = "/admin"
TOKEN_PREFIX = "/api/v1/"  # the only paths an API token opens (never pages or Dash callbacks)
READ_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads
DASH_APP_KEY = "folddeck_dash"  # server.extensions[...]: the Dash app, to resolve callbacks and pages
ROUTER_OUTPUT = "_pages_content.children"  # the dash pages router: renders the layout of a pathname
NOTICE_KEY = "fd_notice"  # why the session ended, shown once on the login page
NOTICES = {"disabled": "This account has been disabled by an administrator. Ask them if you think this is a mistake.",
           "ended": "Your session has ended (your password was changed or you were logged out). Please log in again."}
csrf = CSRFProtect()
signin_log = logging.getLogger("folddeck.signin")


class LoginUser(UserMixin):
    """Flask-Login's view of a FoldDeck user. The cookie id is `user:session_token:session_id`:
    rotating the token (disable, password change) ends every session of that user, deleting the
    session row (logout) ends this one."""

    def __init__(self, account: users.User, session_id: str | None = None):
        self.account = account
        self.session_id = session_id

    def get_id(self) -> str:
        """Return the cookie id; logging in a user without a session (`login_user`) starts one here."""
        if self.session_id is None:
            self.session_id = users.start_session(_conn(), self.account.id, request.remote_addr or "",
                                                  current_app.permanent_session_lifetime.total_seconds())
        return f"{self.account.id}:{self.account.session_token}:{self.session_id}"

    @property
    def is_admin(self) -> bool:
        return self.account.is_admin


def _conn():
    return db.connect(current_app.config["FOLDDECK_SETTINGS"].db_path)


def load_user(cookie_id: str) -> LoginUser | None:
    """Return the session's user if the session is live, the account active and the token still matches."""
    parts = (cookie_id or "").split(":")
    if len(parts) != 3 or not parts[0].isdigit():  # ids from before per-session rows log in again
        return None
    account = users.session_user(_conn(), int(parts[0]), parts[1], parts[2])
    return LoginUser(account, parts[2]) if account else None


def load_token_user(req) -> LoginUser | None:
    """Return the user of a valid `Authorization: Bearer` API token on /api/v1 (no session is made)."""
    if not req.path.startswith(TOKEN_PREFIX):
        return None
    scheme, _, secret = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    try:
        found = api_tokens.authenticate(_conn(), secret.strip())
    except TokenExpired as exc:
        g.api_token_refused = str(exc)  # the gate says why
        return None
    if found is None:
        return None
    g.api_token = found[1]
    return LoginUser(found[0])


def _is_admin_id(cid) -> bool:
    """True for a component id of an admin page (a string, or a pattern-matching dict with such a value)."""
    if isinstance(cid, dict):
        return any(isinstance(v, str) and v.startswith(ADMIN_ID_PREFIX) for v in cid.values())
    return isinstance(cid, str) and cid.startswith(ADMIN_ID_PREFIX)


def _output_ids(key: str) -> list:
    """Return the component ids in a callback key ("id.prop", "..a.b...c.d..", "@hash" suffixes, JSON ids)."""
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    found = []
    for part in parts:
        cid = part.split("@", 1)[0].rsplit(".", 1)[0]
        if cid.startswith("{"):
            try:
                cid = json.loads(cid)
            except ValueError:
                pass
        found.append(cid)
    return found


def admin_callbacks(app) -> frozenset[str]:
    """Return the keys of the registered callbacks that read or update any admin component (cached)."""
    cache = current_app.extensions.setdefault("folddeck_admin_callbacks", {})
    if cache.get("n") != len(app.callback_map):
        keys = set()
        for key, spec in app.callback_map.items():
            ids = _output_ids(key) + [d.get("id") for d in [*spec.get("inputs", []), *spec.get("state", [])]]
            if any(_is_admin_id(cid) for cid in ids):
                keys.add(key)
        cache.update(n=len(app.callback_map), keys=frozenset(keys))
    return cache["keys"]


def _claimed_outputs_admin(body: dict) -> bool:
    """True if the body's own `outputs` list names an admin component (wildcards arrive as nested lists)."""
    outputs = body.get("outputs")
    pending = list(outputs) if isinstance(outputs, list) else [outputs]
    while pending:
        out = pending.pop()
        if isinstance(out, list):
            pending.extend(out)
        elif isinstance(out, dict) and _is_admin_id(out.get("id")):
            return True
    return False


def _admin_page_of(app, value) -> bool:
    """True if `value`, read as a pathname, is an admin page for the pages router."""
    from dash._pages import _path_to_page

    if not isinstance(value, str) or not value.startswith("/"):
        return False
    page, _ = _path_to_page(app.strip_relative_path(value))
    return bool(page) and (bool(page.get("admin")) or str(page.get("path", "")).startswith(ADMIN_PAGE_PREFIX))


def _is_admin_callback(body: dict | None = None) -> bool:
    """True if this Dash callback request reaches admin components or renders an admin page.

    The callback is looked up by the key Dash itself dispatches on (`output`), so what the body
    claims in `outputs` cannot hide an admin callback; for the pages router every string input is
    resolved as Dash's router would (it takes inputs by position, not by name).
    """
    body = body if body is not None else (request.get_json(silent=True) or {})
    key = body.get("output")
    if _claimed_outputs_admin(body):
        return True
    if not isinstance(key, str):
        return False  # Dash cannot dispatch it either
    app = current_app.extensions.get(DASH_APP_KEY)
    if app is None:  # no Dash app registered (plain Flask tests): fall back to the key's own ids
        return any(_is_admin_id(cid) for cid in _output_ids(key))
    if key in admin_callbacks(app) or any(_is_admin_id(cid) for cid in _output_ids(key)):
        return True
    if ROUTER_OUTPUT in key:
        values = [d.get("value") for d in [*(body.get("inputs") or []), *(body.get("state") or [])]
                  if isinstance(d, dict)]
        return any(_admin_page_of(app, v) for v in values)
    return False


def _too_deep(value, limit: int) -> bool:
    """True if `value` (parsed JSON) nests deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _check_json_body() -> Response | None:
    """Refuse a JSON body nested too deep to handle (a RecursionError would be a 500) with 400."""
    if request.method != "POST" or not request.is_json:
        return None
    limit = defaults.MAX_REQUEST_JSON_DEPTH
    raw = request.get_data(cache=True)
    if raw.count(b"[") + raw.count(b"{") <= limit:  # cannot nest deeper than it has brackets: skip the walk
        return None
    try:
        body = request.get_json(silent=True)  # parsed once: Dash reads the cached value
    except RecursionError:
        body = None
        deep = True
    else:
        deep = _too_deep(body, limit)
    if deep:
        return _json_error(400, f"The request nests deeper than {limit} levels; it was not processed.")
    return None


def _remember_why_logged_out() -> str | None:
    """If the session names a user it no longer logs in, note why for the login page; return the notice."""
    cookie_id = session.get("_user_id")
    if not cookie_id:
        return None
    user_id, _, _token = str(cookie_id).partition(":")
    try:
        account = users.get_user(_conn(), int(user_id))
    except (ValueError, UserNotFound):
        notice = "ended"
    else:
        notice = "ended" if account.active else "disabled"
    session.pop("_user_id", None)
    session[NOTICE_KEY] = notice
    return notice


def gate() -> Response | None:
    """Deny by default: let public routes pass, send everyone else to log in or refuse them."""
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if path.startswith(API_PREFIXES) and (refused := _check_json_body()) is not None:
        return refused
    if not current_user.is_authenticated:
        if path.startswith(TOKEN_PREFIX) and "Authorization" in request.headers:
            response = _json_error(401, g.get("api_token_refused")
                                   or "The API token is wrong, revoked, or its account is disabled.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="FoldDeck"'
            return response
        notice = _remember_why_logged_out()
        if path.startswith(API_PREFIXES):
            message = NOTICES[notice] if notice else "Your session has ended; please log in again."
            return _json_error(401, message, login="/login")
        nxt = request.full_path.rstrip("?") if request.query_string else path
        return redirect(url_for("login", next=nxt))
    token = g.get("api_token")
    if token is not None and not token.can_write and request.method not in READ_METHODS:
        return _json_error(403, f"The token {token.name!r} is read-only; create a read-write token on your "
                                "account page to submit, cancel or retry.")
    if not current_user.is_admin:
        if path.startswith(ADMIN_PAGE_PREFIX) or (not path.startswith(API_PREFIXES) and _admin_page_load(path)):
            return forbidden_page()
        if path == "/_dash-update-component" and _is_admin_callback():
            return _json_error(403, "This is for admins only.")
    return None


def _admin_page_load(path: str) -> bool:
    """True if the router would render an admin page for this page address (e.g. `//admin/users`)."""
    app = current_app.extensions.get(DASH_APP_KEY)
    return app is not None and _admin_page_of(app, path)


def forbidden_page() -> tuple[str, int]:
    """Return the "admins only" page inside the app's navbar, with status 403."""
    from dash_app.components.navbar import nav_pages

    account = current_user.account
    links = [{"href": p["relative_path"], "name": p["name"], "icon": p.get("icon", "bi-circle"),
              "id": "nav-" + p["module"].rsplit(".", 1)[-1]} for p in nav_pages(account)]
    return render_template_string(FORBIDDEN_HTML, links=links, username=account.username, role=account.role.value,
                                  csrf_token=generate_csrf()), 403


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
    """Show the login page; on POST check the CSRF token, throttle, then log the user in (LDAP, local account)."""
    nxt = safe_next(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(nxt)
        notice = NOTICES.get(session.pop(NOTICE_KEY, None) or "")
        return render_login(notice=notice, next_url=nxt)
    username = request.form.get("username", "")
    address = request.remote_addr or "unknown"
    try:
        account = password.sign_in(_conn(), config(), username, request.form.get("password", ""), address)
    except LoginThrottled as exc:
        return render_login(error=str(exc), username=username, next_url=nxt, status=429)
    except SignInUnavailable as exc:  # the admin's detail is in the log already (signin.password)
        return render_login(error=str(exc), username=username, next_url=nxt, status=503)
    except SignInRefused as exc:
        signin_log.warning("sign-in refused for %s from %s: %s", username, address, exc,
                           extra={"source": "auth", "username": username, "address": address})
        return render_login(error=str(exc), username=username, next_url=nxt, status=403)
    if account is None:
        return render_login(error="Wrong username or password, or the account is disabled.", username=username,
                            next_url=nxt, status=401)
    _log_in(account)
    return redirect(nxt)


def _log_in(account: users.User) -> None:
    """Start a FoldDeck session for the account (a session row: LoginUser.get_id), with the limits its
    provider groups give it (a local account has none)."""
    settings = current_app.config["FOLDDECK_SETTINGS"]
    apply_group_limits(_conn(), account.id, settings.sso_approval_group, settings.sso_quota_groups)
    login_user(LoginUser(account))


def logout():
    """End the session (POST with a CSRF token) and go to the login page; GET asks to confirm."""
    if request.method == "GET":
        return render_template_string(LOGOUT_HTML, csrf_token=generate_csrf())
    if current_user.is_authenticated and current_user.session_id:
        users.end_session(_conn(), current_user.session_id)  # the cookie, wherever copied, is dead now
    logout_user()
    return redirect(provider_logout_url() or url_for("login"))  # the provider's session ends too, where it can


def healthz():
    """Report the web, its database and each background process's heartbeat; 503 when one is down.

    Public: load balancers and monitors call it, so it names processes and ages, nothing about jobs or users.
    """
    found = heartbeat.health(_conn())
    body = {"status": "ok" if all(p.ok for p in found) else "failing",
            "processes": {p.role: {"ok": p.ok, "running": p.alive,
                                   "heartbeat_age_s": None if p.age_s is None else round(p.age_s, 1),
                                   "says": p.words} for p in found}}
    return jsonify(body), 200 if body["status"] == "ok" else 503


def _csrf_error(exc: CSRFError):
    if request.path.startswith(API_PREFIXES):
        return _json_error(400, f"Security token missing or invalid ({exc.description}). Reload the page.")
    return render_login(error="The form expired or was not sent by this site; please try again.", status=400)


def init_auth(server: Flask) -> None:
    """Install Flask-Login, the gate, CSRF protection and the login/logout/health routes."""
    manager = LoginManager()
    manager.user_loader(load_user)
    manager.request_loader(load_token_user)  # API tokens, for /api/v1 only
    manager.init_app(server)
    hops = server.config["FOLDDECK_SETTINGS"].trusted_proxies
    if hops:  # only then is X-Forwarded-For the proxy's word and not the client's
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops)
    server.before_request(gate)  # before CSRFProtect's hook: anonymous callers get 401, not 400
    server.config.update(WTF_CSRF_HEADERS=["X-CSRFToken"], WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=False)
    csrf.init_app(server)
    server.after_request(set_csrf_cookie)
    server.register_error_handler(CSRFError, _csrf_error)
    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
    server.add_url_rule("/healthz", "healthz", healthz)
    init_signin(server, _log_in)  # checks the sign-in settings; the institution's routes where configured


def check_csrf_value(token: str) -> bool:
    """Return True if `token` is a valid CSRF token for this session (used by tests and forms)."""
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True
