import subprocess
import sys

import pytest

from services.people import users
from services.platform.errors import UserError


def test_password_is_stored_as_hash(conn):
    users.create_user(conn, "bob", "correct horse", users.Role.USER)
    stored = conn.execute("SELECT password_hash FROM users WHERE username='bob'").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_authenticate_and_last_login(conn):
    assert users.authenticate(conn, "alice", "wrong-password", "10.0.0.1") is None
    user = users.authenticate(conn, "alice", "user-password-1", "10.0.0.1")
    assert user and user.username == "alice" and user.last_login_at


def test_disabled_user_cannot_log_in(conn):
    alice = users.get_by_name(conn, "alice")
    users.set_active(conn, alice.id, False)
    assert users.authenticate(conn, "alice", "user-password-1", "1.2.3.4") is None


# Login throttling: tests/services/test_throttle.py


def test_last_admin_cannot_be_disabled_or_demoted(conn):
    admin = users.get_by_name(conn, "admin")
    with pytest.raises(UserError, match="last active admin"):
        users.set_active(conn, admin.id, False)
    with pytest.raises(UserError, match="last active admin"):
        users.set_role(conn, admin.id, users.Role.USER)
    second = users.create_user(conn, "root2", "another-pass", users.Role.ADMIN)
    users.set_active(conn, admin.id, False)
    with pytest.raises(UserError):
        users.set_role(conn, second.id, "user")


def test_disable_and_password_change_rotate_session_token(conn):
    alice = users.get_by_name(conn, "alice")
    users.set_password(conn, alice.id, "a-new-password")
    assert users.get_user(conn, alice.id).session_token != alice.session_token


def test_usernames_and_passwords_checked(conn):
    with pytest.raises(UserError, match="already exists"):
        users.create_user(conn, "ALICE", "whatever-123")
    with pytest.raises(UserError, match="letters, digits"):
        users.create_user(conn, "../etc", "whatever-123")
    with pytest.raises(UserError, match="at least 8"):
        users.create_user(conn, "carol", "short")


def test_ensure_admin_only_on_empty_db(tmp_path):
    from services.platform import db

    path = tmp_path / "e.db"
    db.migrate(path)
    c = db.connect(path)
    password = users.ensure_admin(c)
    assert password and users.authenticate(c, "admin", password, "x").is_admin
    assert users.ensure_admin(c) is None


def test_cli_add_list_disable_enable(tmp_path):
    env = {"FOLDDECK_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def cli(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "services.people.users", *args], input=stdin, text=True,
                              capture_output=True, env=env, cwd=str(tmp_path.parent), timeout=60)

    import os
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert cli("add", "dora", "--admin", "--password-stdin", stdin="dora-password\n").returncode == 0
    r = cli("disable", "dora")
    assert r.returncode == 1 and "last active admin" in r.stderr
    assert cli("add", "eve", "--password-stdin", stdin="eve-password\n").returncode == 0
    out = cli("list").stdout
    assert "dora" in out and "admin" in out and "eve" in out and "active" in out
    assert "disabled" in cli("disable", "eve").stdout
    assert "disabled" in cli("list").stdout
    assert "active" in cli("enable", "eve").stdout
    r = cli("add", "dora", "--password-stdin", stdin="dora-password\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    assert cli("passwd", "dora", "--password-stdin", stdin="x\n").returncode == 1
