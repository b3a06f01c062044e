"""Shared fixtures: settings on a temp data dir, the app and a logged-in client, a real sshd on
loopback, and headless Debian Chromium for dash_duo (offline flag set from the team recipe)."""
from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from services.people import users
from services.platform import db
from services.platform.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "admin-password-1"
USER_PASSWORD = "user-password-1"


def free_port() -> int:
    """Return a free loopback port (dash's runner counts up from 58050 and collides across runs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A migrated database with `admin` and `alice` (both past the terms), made once per test process.

    Every `settings` starts from a copy: hashing two passwords and applying every migration for each of ~800
    tests cost minutes of CPU. Migrations from scratch and password hashing have tests of their own."""
    s = load_settings(environ={}, dotenv=None, data_dir=tmp_path_factory.mktemp("template") / "data")
    db.migrate(s.db_path)
    conn = db.connect(s.db_path)
    for name, password, role in (("admin", ADMIN_PASSWORD, users.Role.ADMIN),
                                 ("alice", USER_PASSWORD, users.Role.USER)):
        # Both accepted the AlphaFold 3 terms: every submission needs that (issue 11); tests of the rule make others.
        users.accept_terms(conn, users.create_user(conn, name, password, role).id)
    db.close_all()
    return s.db_path


@pytest.fixture
def settings(tmp_path, template_db) -> Settings:
    """Settings on a fresh data dir, migrated, with `admin` and `alice` accounts."""
    s = load_settings(environ={}, dotenv=None, data_dir=tmp_path / "data")
    with closing(sqlite3.connect(template_db)) as src:
        src.backup(db.connect(s.db_path))  # opened by FoldDeck first: the file gets its owner-only mode and WAL
    yield s
    db.close_all()


@pytest.fixture
def conn(settings):
    return db.connect(settings.db_path)


@pytest.fixture
def alice(conn) -> users.User:
    """The plain user `alice` of the `settings` fixture."""
    return users.get_by_name(conn, "alice")


@pytest.fixture
def admin(conn) -> users.User:
    """The `admin` account of the `settings` fixture."""
    return users.get_by_name(conn, "admin")


BOB_PASSWORD = "bob-password-1"


@pytest.fixture
def bob(conn) -> users.User:
    """A second plain user who has accepted the AF3 terms (every submission needs them)."""
    bob = users.create_user(conn, "bob", BOB_PASSWORD, users.Role.USER)
    users.accept_terms(conn, bob.id)
    return bob


@pytest.fixture
def done_job(conn, settings, tmp_path):
    """Return alice's succeeded job whose output folder is the real AF3 v3.0.1 run (1 seed x 3 samples)."""
    import shutil

    from services import jobs
    from services.af3 import load_json_text

    alice = users.get_by_name(conn, "alice")
    doc = load_json_text((ROOT / "tests/fixtures/af3/protein_only.json").read_text())
    job = jobs.submit_document(conn, settings, alice, doc)[0]
    out = tmp_path / "out"
    shutil.copytree(ROOT / "tests/fixtures/af3_outputs/local_v301_pdl1_binder", out)
    conn.execute("UPDATE jobs SET state = 'succeeded', output_path = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                 (str(out), time.time(), time.time(), job.id))
    conn.commit()
    return jobs.get_job(conn, alice, job.id)


def alive(pid: int) -> bool:
    """Return True if the process exists and is not a zombie (this sandbox's PID 1 reaps late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(pred, timeout: float = 20, what: str = "condition"):
    """Poll `pred` every 50 ms until it returns something truthy; return that, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@pytest.fixture
def app(settings):
    from dash_app import create_app

    dash_app = create_app(settings)
    dash_app.server.config.update(TESTING=True)
    return dash_app


@pytest.fixture
def client(app):
    return app.server.test_client()


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "login form has no CSRF token"
    return m.group(1)


def login(client, username: str, password: str, next_url: str | None = None):
    """Log in through the real form (CSRF token included); return the POST response."""
    page = client.get("/login" + (f"?next={next_url}" if next_url else ""))
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login" + (f"?next={next_url}" if next_url else ""),
                       data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": "127.0.0.1"})


def dash_post(client, payload: dict):
    """POST a callback request the way dash-renderer does: the CSRF cookie's token as X-CSRFToken.

    `payload` is the JSON body of /_dash-update-component (output, outputs, inputs, state,
    changedPropIds). The client must be logged in.
    """
    client.get("/")  # a page load sets the _csrf_token cookie
    cookie = client.get_cookie("_csrf_token")
    headers = {"X-CSRFToken": cookie.value} if cookie else {}
    return client.post("/_dash-update-component", json=payload, headers=headers)


@pytest.fixture
def admin_client(client):
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


@pytest.fixture
def user_client(client):
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    return client


@pytest.fixture
def running_worker():
    """Return start(settings, **kwargs): a real Worker in a thread; every one is stopped at the end."""
    import threading

    from services.running.worker import Worker

    started = []

    def start(s: Settings, poll: float = 0.05, **kwargs) -> Worker:
        w = Worker(s, poll=poll, **kwargs)
        t = threading.Thread(target=w.run, daemon=True)
        t.start()
        started.append((w, t))
        return w

    yield start
    for w, t in started:
        w.stop()
        t.join(30)


# -- a real OpenSSH server on loopback -------------------------------------------------------


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """Start a throw-away sshd (tests/support/sshd_ci.sh) on a free loopback port.

    Yields a dict with host, port, user, key, known_hosts, root (the server's folder; its bin/
    holds the fake nvidia-smi that is first on the remote PATH).
    """
    if not (Path("/usr/sbin/sshd").exists() or os.geteuid() == 0):
        pytest.skip("openssh-server is not installed and cannot be installed without root")
    root = tmp_path_factory.mktemp("sshd")
    env = dict(os.environ, SSHD_ROOT=str(root), SSHD_PORT=str(free_port()))
    script = ROOT / "tests" / "support" / "sshd_ci.sh"
    out = subprocess.run(["bash", str(script), "start"], env=env, check=True, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL).stdout
    facts = dict(line.split("=", 1) for line in out.split())
    yield {"host": facts["SSH_TEST_HOST"], "port": int(facts["SSH_TEST_PORT"]), "user": facts["SSH_TEST_USER"],
           "key": facts["SSH_TEST_KEY"], "known_hosts": facts["SSH_TEST_KNOWN_HOSTS"], "root": str(root),
           "env": env}
    subprocess.run(["bash", str(script), "stop"], env=env, check=False, stdin=subprocess.DEVNULL)


# -- headless Chromium for dash_duo ---------------------------------------------------------

CHROMIUM_BINARY = os.environ.get("CHROMIUM_BINARY", "/usr/lib/chromium/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1366,900",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--no-default-browser-check", "--disable-default-apps", "--disable-extensions",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--disable-breakpad",
    "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
    # Each of these stops a request Chromium 156 otherwise sends off the machine (team recipe, netlog-checked).
    "--disable-features=NetworkTimeServiceQuerying,Translate,OptimizationHints,MediaRouter,"
    "DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
    "InterestFeedContentSuggestions",
    "--component-updater=url-source=http://127.0.0.1:9/",
    "--gaia-url=http://127.0.0.1:9/",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def pytest_setup_options():
    """dash.testing hook: the Chrome options dash_duo starts from."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM_BINARY
    for flag in CHROMIUM_FLAGS + os.environ.get("CHROMIUM_EXTRA_FLAGS", "").split():
        options.add_argument(flag)
    return options


@pytest.fixture(scope="session", autouse=True)
def ccd_data_dir(tmp_path_factory) -> Path:
    """A data dir holding the CCD index, built once and kept across runs beside pytest's numbered temp dirs
    (a build takes seconds); the whole run, and subprocesses given FOLDDECK_DATA_DIR=it, share it."""
    from services.af3.chem import ccd

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # xdist: <root>/pytest-N/popen-gwK; the file lock shares one build
        base = base.parent
    data_dir = base.parent / "folddeck-ccd"
    data_dir.mkdir(exist_ok=True)
    ccd.configure(data_dir)
    ccd.try_ccd()  # built once here; without biotite only the tests that need a CCD fail
    return data_dir


# -- real services: marked, and never skipped where they can be installed ---------------------

# A test that uses one of these fixtures talks to a real daemon on loopback: `make test-fast` leaves it out.
SERVICE_FIXTURES = frozenset({"sshd", "smtp", "slurm"})


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a real-service fixture as `service`, so no such test can forget its marker."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("service"):
            item.add_marker(pytest.mark.service)


def skips_must_fail() -> bool:
    """Return True where a skipped real-service or browser test is a failure: as root (`make test` installs
    every service then) or under CI. CI must never go green by skipping."""
    return os.geteuid() == 0 or bool(os.environ.get("CI"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn the skip of a `service` or `browser` test into a failure where skips_must_fail() says so."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not skips_must_fail():
        return
    if not (item.get_closest_marker("service") or item.get_closest_marker("browser")):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    who = "as root" if os.geteuid() == 0 else "under CI"
    report.outcome = "failed"
    report.longrepr = (f"{item.nodeid} needs a real service or browser and was skipped ({reason}); running {who}, "
                       "`make test` installs every one (make system-deps), so a skip here would hide an untested "
                       "path: install what is missing, or run without root and CI unset to allow the skip.")
