"""Users (`/admin/users`): who may use the GPUs and how much; create, disable, reset, promote, limit."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from dash_app.components.admin_common import error_alert, fmt_time, ok_alert, page_header
from dash_app.context import conn, require_account, settings
from dash_app.ids import page_id
from services.jobs import UserLimits
from services.jobs.rules import quota
from services.operations import admin, approvals, retention
from services.operations.admin import UserSummary
from services.people import cluster_identity, users
from services.platform.errors import FoldDeckError, UserError

dash.register_page(__name__, path="/admin/users", name="Users", order=51, icon="bi-people", admin=True)

GRID = page_id(__name__, "grid")
ALERT = page_id(__name__, "alert")
REFRESH = page_id(__name__, "refresh")
NEW_NAME = page_id(__name__, "new-name")
NEW_PASSWORD = page_id(__name__, "new-password")
NEW_ROLE = page_id(__name__, "new-role")
CREATE = page_id(__name__, "create")
CREATE_ALERT = page_id(__name__, "create-alert")  # in the create card: the answer shows where the person looks
MANAGE = page_id(__name__, "manage")
MANAGE_TITLE = page_id(__name__, "manage-title")
STATE_BADGE = page_id(__name__, "state-badge")
TOGGLE = page_id(__name__, "toggle")
ROLE = page_id(__name__, "role")
SET_ROLE = page_id(__name__, "set-role")
PASSWORD = page_id(__name__, "password")
RESET = page_id(__name__, "reset")
MAX_RUNNING = page_id(__name__, "max-running")
MAX_QUEUED = page_id(__name__, "max-queued")
MAX_TOKENS = page_id(__name__, "max-tokens")
SAVE_LIMITS = page_id(__name__, "save-limits")
APPROVAL_FLAG = page_id(__name__, "approval-flag")  # issue 18: every job of this user waits for an admin
ERASED = page_id(__name__, "erased")
QUOTA = page_id(__name__, "quota")  # issue 22: disk per user, MB; empty: FOLDDECK_USER_QUOTA_MB
SAVE_QUOTA = page_id(__name__, "save-quota")
CLUSTER_USER = page_id(__name__, "cluster-user")  # issue 25: the person on the lab's Slurm clusters
CLUSTER_ACCOUNT = page_id(__name__, "cluster-account")
CLUSTER_KEY = page_id(__name__, "cluster-key")
SAVE_CLUSTER = page_id(__name__, "save-cluster")

ROLE_OPTIONS = [{"label": "User", "value": "user"}, {"label": "Admin", "value": "admin"}]
COLUMNS = [
    {"field": "username", "headerName": "User", "minWidth": 140, "flex": 1},
    {"field": "role", "headerName": "Role", "width": 100},
    {"field": "state", "headerName": "State", "width": 110,
     "cellClassRules": {"text-danger fw-bold": "params.value === 'disabled'"}},
    {"field": "last_login", "headerName": "Last login", "width": 180},
    {"field": "jobs_run", "headerName": "Jobs run", "width": 110, "type": "numericColumn"},
    {"field": "gpu_hours", "headerName": "GPU hours", "width": 120, "type": "numericColumn"},
    {"field": "running", "headerName": "Running", "width": 110, "type": "numericColumn"},
    {"field": "queued", "headerName": "Queued", "width": 105, "type": "numericColumn"},
    {"field": "max_running", "headerName": "Max running", "width": 130},
    {"field": "max_queued", "headerName": "Max queued", "width": 130},
    {"field": "max_tokens", "headerName": "Max tokens/job", "width": 145},
    {"field": "disk", "headerName": "Disk used", "width": 120},  # measured by the sampler (issue 18)
    {"field": "quota", "headerName": "Disk quota", "width": 150},
    {"field": "approval", "headerName": "Approval", "width": 120},
]


def user_row(s: UserSummary) -> dict:
    """Return the grid row for one user."""
    def limit(v: int | None, empty: str = "default") -> str:
        return empty if v is None else str(v)

    return {"id": s.id, "username": s.username, "role": s.role.value, "state": "active" if s.active else "disabled",
            "last_login": fmt_time(s.last_login_at), "jobs_run": s.jobs_run, "gpu_hours": round(s.gpu_hours, 2),
            "running": s.running, "queued": s.queued, "max_running": limit(s.limits.max_running, "unlimited"),
            "max_queued": limit(s.limits.max_queued), "max_tokens": limit(s.limits.max_tokens)}


def _labelled(label: str, control, help_text: str | None = None) -> html.Div:
    return html.Div([dbc.Label(label, html_for=control.id, className="small fw-semibold mb-1"), control,
                     dbc.FormText(help_text) if help_text else None], className="mb-2")


def _create_card() -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-person-plus me-2"), "Create a user"]),
        dbc.CardBody([
            _labelled("Username", dbc.Input(id=NEW_NAME, autoComplete="off")),
            _labelled("Password", dbc.Input(id=NEW_PASSWORD, type="password", autoComplete="new-password"),
                      f"At least {users.MIN_PASSWORD_LENGTH} characters; tell the person in person."),
            _labelled("Role", dbc.Select(id=NEW_ROLE, options=ROLE_OPTIONS, value="user")),
            html.Div(id=CREATE_ALERT, **{"aria-live": "polite"}),
            dbc.Button([html.I(className="bi bi-plus-lg me-1"), "Create user"], id=CREATE, color="primary"),
        ]),
    ], className="mb-3 shadow-sm")


def _manage_card() -> dbc.Card:
    limit_input = {"type": "number", "min": 0, "step": 1, "placeholder": "unlimited"}
    return dbc.Card([
        dbc.CardHeader([html.I(className="bi bi-person-gear me-2"), html.Span("Select a user", id=MANAGE_TITLE),
                        dbc.Badge("", id=STATE_BADGE, className="ms-2")]),
        dbc.CardBody(html.Fieldset([
            dbc.Button("Disable", id=TOGGLE, color="danger", outline=True, className="mb-3 w-100"),
            dbc.Label("Role", html_for=ROLE, className="visually-hidden"),
            dbc.InputGroup([dbc.Select(id=ROLE, options=ROLE_OPTIONS),
                            dbc.Button("Change role", id=SET_ROLE, color="secondary")], className="mb-3"),
            dbc.Label("New password", html_for=PASSWORD, className="visually-hidden"),
            dbc.InputGroup([dbc.Input(id=PASSWORD, type="password", placeholder="New password",
                                      autoComplete="new-password"),
                            dbc.Button("Reset password", id=RESET, color="secondary")], className="mb-1"),
            dbc.FormText("Disabling or resetting the password ends the user's sessions and revokes their "
                         "API tokens.", className="d-block mb-3"),
            html.H2("Limits", className="h6"),
            _labelled("Max running jobs", dbc.Input(id=MAX_RUNNING, **limit_input), "Empty means no limit."),
            _labelled("Max queued jobs", dbc.Input(id=MAX_QUEUED, **{**limit_input, "placeholder": "default"})),
            _labelled("Max tokens per job", dbc.Input(id=MAX_TOKENS, **{**limit_input, "placeholder": "default"}),
                      "Empty means the default (Admin → Queue → Limits)."),
            dbc.Button([html.I(className="bi bi-save me-1"), "Save limits"], id=SAVE_LIMITS, color="primary"),
            _labelled("Disk quota (MB)", dbc.Input(id=QUOTA, **{**limit_input, "placeholder": "default"}),
                      "Empty means the default (FOLDDECK_USER_QUOTA_MB); 0 means no quota."),
            dbc.Button([html.I(className="bi bi-hdd me-1"), "Save quota"], id=SAVE_QUOTA, color="primary"),
            dbc.Button("Require approval for every job (toggle)", id=APPROVAL_FLAG, color="secondary",
                       outline=True, className="mt-3 w-100"),
            _cluster_fields(),
        ], id=MANAGE, disabled=True)),
    ], className="mb-3 shadow-sm")


def _cluster_fields() -> html.Div:
    """The person's identity on the Slurm clusters: their account always, their own user where a host says so."""
    return html.Div([
        html.H2("On the Slurm cluster", className="h6 mt-3"),
        _labelled("Cluster user", dbc.Input(id=CLUSTER_USER, placeholder="the host's own user", autoComplete="off"),
                  "Their jobs run as this user on hosts with submit_as = \"sudo\" or \"own_key\"."),
        _labelled("Slurm account", dbc.Input(id=CLUSTER_ACCOUNT, placeholder="the host's account", autoComplete="off"),
                  "sacct, sreport and fairshare count their GPU-hours here."),
        _labelled("SSH key file", dbc.Input(id=CLUSTER_KEY, placeholder="/etc/folddeck/keys/NAME", autoComplete="off"),
                  "Only for submit_as = \"own_key\": their private key on this server."),
        dbc.Button([html.I(className="bi bi-hdd-network me-1"), "Save cluster identity"], id=SAVE_CLUSTER,
                   color="primary"),
    ])


def layout(**_query) -> html.Div:
    return html.Div([
        page_header("Users", "bi-people", "Who can use the GPUs and how much. Select a row to manage that user."),
        html.Div(id=ALERT),
        dbc.Row([
            dbc.Col(dag.AgGrid(id=GRID, columnDefs=COLUMNS, rowData=[], getRowId="'' + params.data.id",
                               defaultColDef={"sortable": True, "resizable": True, "filter": True},
                               dashGridOptions={
                                   "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                    "enableClickSelection": True},
                                   "animateRows": False,
                                   "localeText": {"noRowsToShow": "No users yet: create one on the right."}},
                               className="ag-theme-alpine", style={"height": "70vh", "width": "100%"}),
                    xs=12, xl=8, className="mb-3"),
            dbc.Col([_manage_card(), _create_card()], xs=12, xl=4),
        ]),
        html.P(id=ERASED, className="small text-muted"),
        dcc.Store(id=REFRESH, data=0),
    ])


def _selected_id(rows) -> int | None:
    return rows[0]["id"] if rows else None


def fmt_bytes(n: int | None) -> str:
    """Return "1.2 GB" style sizes ("—" when not measured yet)."""
    if n is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


@callback(Output(GRID, "rowData"), Output(ERASED, "children"), Input(REFRESH, "data"))
def refresh_users(_n):
    """List every user with usage, limits, disk use and approval flag; count erased accounts."""
    summaries = admin.user_summaries(conn(), require_account())
    disk, flagged = retention.disk_use(conn()), approvals.flagged_users(conn())
    rows = [{**user_row(s), "disk": fmt_bytes(disk.get(s.id)), "quota": quota_text(s.id),
             "approval": "every job" if s.id in flagged else "large jobs"} for s in summaries]
    accounts, erased_jobs = retention.erased_counts(conn())
    return rows, (f"{accounts} account(s) erased themselves (\"delete my data\") with {erased_jobs} jobs."
                  if accounts else "")


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(APPROVAL_FLAG, "n_clicks"), State(GRID, "selectedRows"), State(REFRESH, "data"), prevent_initial_call=True,
)
def toggle_approval(_n, rows, n):
    """Make every job of the selected user wait for an admin's approval, or stop doing so."""
    try:
        target = users.get_user(conn(), _selected_id(rows) or 0)
        flag = target.id not in approvals.flagged_users(conn())
        approvals.flag_user(conn(), require_account(), target.id, flag)
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    return _done(f"{target.username}: {'every job now waits for approval' if flag else 'only large jobs wait'}.", n)


@callback(
    Output(MANAGE_TITLE, "children"), Output(STATE_BADGE, "children"), Output(STATE_BADGE, "color"),
    Output(TOGGLE, "children"), Output(TOGGLE, "color"), Output(ROLE, "value"), Output(MAX_RUNNING, "value"),
    Output(MAX_QUEUED, "value"), Output(MAX_TOKENS, "value"), Output(MANAGE, "disabled"),
    Input(GRID, "selectedRows"), Input(REFRESH, "data"),
)
def show_selected_user(rows, _n):
    """Fill the manage card with the selected user's current state, read fresh from the database."""
    user_id = _selected_id(rows)
    summary = next((s for s in admin.user_summaries(conn(), require_account()) if s.id == user_id), None)
    if summary is None:
        return "Select a user", "", "secondary", "Disable", "danger", None, None, None, None, True
    lim = summary.limits
    return (summary.username, "active" if summary.active else "disabled",
            "success" if summary.active else "danger", "Disable" if summary.active else "Enable",
            "danger" if summary.active else "success", summary.role.value, lim.max_running, lim.max_queued,
            lim.max_tokens, False)


def _done(message: str, n: int):
    return ok_alert(message), (n or 0) + 1


@callback(
    Output(CREATE_ALERT, "children"), Output(REFRESH, "data", allow_duplicate=True),
    Output(NEW_NAME, "value"), Output(NEW_PASSWORD, "value"),
    Input(CREATE, "n_clicks"), State(NEW_NAME, "value"), State(NEW_PASSWORD, "value"), State(NEW_ROLE, "value"),
    State(REFRESH, "data"), prevent_initial_call=True,
)
def create_user(_n, name, password, role, n):
    """Create the account described in the form."""
    try:
        user = admin.create_user(conn(), require_account(), name or "", password or "", role or "user")
    except FoldDeckError as exc:
        return error_alert(exc), no_update, no_update, no_update
    return *_done(f"Created {user.username} ({user.role.value}).", n), "", ""


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(TOGGLE, "n_clicks"), State(GRID, "selectedRows"), State(REFRESH, "data"), prevent_initial_call=True,
)
def toggle_user(_n, rows, n):
    """Disable an active user (ending their sessions, revoking their tokens) or enable a disabled one."""
    try:
        target = users.get_user(conn(), _selected_id(rows) or 0)
        user = admin.set_active(conn(), require_account(), target.id, not target.active)
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    done = "active" if user.active else "disabled; their sessions ended and API tokens were revoked"
    return _done(f"{user.username} is now {done}.", n)


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(SET_ROLE, "n_clicks"), State(GRID, "selectedRows"), State(ROLE, "value"), State(REFRESH, "data"),
    prevent_initial_call=True,
)
def change_role(_n, rows, role, n):
    """Make the selected user an admin or a plain user."""
    try:
        user = admin.set_role(conn(), require_account(), _selected_id(rows) or 0, role or "user")
    except (FoldDeckError, ValueError) as exc:
        return error_alert(exc if isinstance(exc, FoldDeckError) else UserError("Choose a role.")), no_update
    return _done(f"{user.username} is now {'an admin' if user.is_admin else 'a user'}.", n)


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Output(PASSWORD, "value"),
    Input(RESET, "n_clicks"), State(GRID, "selectedRows"), State(PASSWORD, "value"), State(REFRESH, "data"),
    prevent_initial_call=True,
)
def reset_password(_n, rows, password, n):
    """Give the selected user a new password (their sessions end)."""
    try:
        user = admin.reset_password(conn(), require_account(), _selected_id(rows) or 0, password or "")
    except FoldDeckError as exc:
        return error_alert(exc), no_update, no_update
    return *_done(f"New password set for {user.username}; their sessions ended and API tokens were revoked.", n), ""


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(SAVE_LIMITS, "n_clicks"), State(GRID, "selectedRows"), State(MAX_RUNNING, "value"),
    State(MAX_QUEUED, "value"), State(MAX_TOKENS, "value"), State(REFRESH, "data"), prevent_initial_call=True,
)
def save_limits(_n, rows, max_running, max_queued, max_tokens, n):
    """Store the selected user's limits; the queue enforces them at the next submission."""
    try:
        limits = UserLimits(admin.parse_limit("Max running jobs", max_running),
                            admin.parse_limit("Max queued jobs", max_queued),
                            admin.parse_limit("Max tokens per job", max_tokens))
        target = users.get_user(conn(), _selected_id(rows) or 0)
        admin.set_limits(conn(), require_account(), target.id, limits)
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    return _done(f"Limits saved for {target.username}.", n)


def quota_text(user_id: int) -> str:
    """Return the user's disk quota as the grid shows it ("100.0 GB (default)", "5.0 GB", "none")."""
    own = quota.own_quota_mb(conn(), user_id)
    limit = quota.quota_bytes(conn(), settings(), user_id)
    shown = quota.size_text(limit) if limit else "none"
    return f"{shown} (default)" if own is None else shown


@callback(Output(QUOTA, "value"), Input(GRID, "selectedRows"), Input(REFRESH, "data"))
def show_selected_quota(rows, _n):
    """Fill the quota field with the selected user's own quota (empty: the default)."""
    user_id = _selected_id(rows)
    return quota.own_quota_mb(conn(), user_id) if user_id is not None else None


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(SAVE_QUOTA, "n_clicks"), State(GRID, "selectedRows"), State(QUOTA, "value"), State(REFRESH, "data"),
    prevent_initial_call=True,
)
def save_quota(_n, rows, value, n):
    """Store the selected user's disk quota; submissions and imports check it from now on."""
    try:
        mb = admin.parse_limit("Disk quota", value)
        target = users.get_user(conn(), _selected_id(rows) or 0)
        quota.set_quota_mb(conn(), require_account(), target.id, mb)
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    return _done(f"Disk quota saved for {target.username}: {quota_text(target.id)}.", n)


@callback(Output(CLUSTER_USER, "value"), Output(CLUSTER_ACCOUNT, "value"), Output(CLUSTER_KEY, "value"),
          Input(GRID, "selectedRows"), Input(REFRESH, "data"))
def show_cluster_identity(rows, _n):
    """Fill the cluster fields with the selected user's mapping (empty: the host's own user and account)."""
    user_id = _selected_id(rows)
    if user_id is None:
        return "", "", ""
    found = cluster_identity.get(conn(), user_id)
    return found.cluster_user, found.account, found.key_file


@callback(
    Output(ALERT, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(SAVE_CLUSTER, "n_clicks"), State(GRID, "selectedRows"), State(CLUSTER_USER, "value"),
    State(CLUSTER_ACCOUNT, "value"), State(CLUSTER_KEY, "value"), State(REFRESH, "data"), prevent_initial_call=True,
)
def save_cluster_identity(_n, rows, cluster_user, account, key_file, n):
    """Store the selected user's cluster identity; their next Slurm jobs carry it."""
    try:
        found = admin.set_cluster_identity(conn(), require_account(), _selected_id(rows) or 0,
                                           cluster_user=cluster_user or "", account=account or "",
                                           key_file=key_file or "")
    except FoldDeckError as exc:
        return error_alert(exc), no_update
    what = ", ".join(f"{k} {v}" for k, v in (("cluster user", found.cluster_user), ("account", found.account),
                                             ("key", found.key_file)) if v) or "the host's own user and account"
    return _done(f"{found.username} on the cluster: {what}.", n)
