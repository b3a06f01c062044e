"""Login throttling per (account, address) with a slower ceiling per address (issue 11 item 4)."""
from __future__ import annotations

import pytest

from services.people import users
from services.platform import defaults
from services.platform.errors import LoginThrottled

RIGHT = "user-password-1"  # alice's password (tests/conftest.py)
ADMIN_RIGHT = "admin-password-1"


def fail(conn, name: str, address: str, times: int, now: float) -> None:
    for _ in range(times):
        assert users.authenticate(conn, name, "wrong-guess", address, now=now) is None


def test_five_failures_close_the_door_for_that_account_from_that_address(conn):
    fail(conn, "alice", "1.1.1.1", defaults.LOGIN_MAX_FAILURES, 1000.0)
    with pytest.raises(LoginThrottled) as exc:
        users.authenticate(conn, "alice", RIGHT, "1.1.1.1", now=1001.0)
    assert "wait" in str(exc.value) and 0 < exc.value.retry_after <= defaults.LOGIN_FAILURE_WINDOW_S
    # after the window the right password works again
    assert users.authenticate(conn, "alice", RIGHT, "1.1.1.1", now=1000.0 + defaults.LOGIN_FAILURE_WINDOW_S + 1)


def test_other_accounts_behind_the_same_address_still_log_in(conn):
    """One person's five typos must not lock out the whole lab behind the proxy."""
    users.create_user(conn, "bob", "bob-password-1")
    fail(conn, "alice", "10.0.0.1", defaults.LOGIN_MAX_FAILURES, 1000.0)
    assert users.authenticate(conn, "bob", "bob-password-1", "10.0.0.1", now=1001.0).username == "bob"
    assert users.authenticate(conn, "admin", ADMIN_RIGHT, "10.0.0.1", now=1001.0).username == "admin"


def test_nobody_can_lock_the_admin_out_from_elsewhere(conn):
    fail(conn, "admin", "6.6.6.6", defaults.LOGIN_MAX_FAILURES, 1000.0)
    with pytest.raises(LoginThrottled):
        users.authenticate(conn, "admin", "another-guess", "6.6.6.6", now=1001.0)
    assert users.authenticate(conn, "admin", ADMIN_RIGHT, "192.168.1.5", now=1001.0).username == "admin"


def test_address_ceiling_stops_spraying_but_lets_a_first_correct_login_through(conn):
    """Many accounts guessed from one address: that address waits; a colleague who has not failed gets in."""
    n = defaults.LOGIN_ADDRESS_MAX_FAILURES
    for i in range(n):
        fail(conn, f"ghost{i}", "6.6.6.6", 1, 1000.0 + i)
    now = 1000.0 + n
    # a new wrong guess from the sprayed address is answered with the wait
    with pytest.raises(LoginThrottled, match="from your address"):
        users.authenticate(conn, "someone", "guess", "6.6.6.6", now=now)
    # an account already guessed from there waits even with the right password
    fail(conn, "alice", "6.6.6.7", 1, now)  # (another address: unaffected by the ceiling)
    assert users.authenticate(conn, "alice", RIGHT, "6.6.6.6", now=now).username == "alice"
    users.create_user(conn, "bob", "bob-password-1")
    with pytest.raises(LoginThrottled):
        users.authenticate(conn, "bob", "typo-here", "6.6.6.6", now=now)  # recorded: bob has now failed there
    with pytest.raises(LoginThrottled, match="from your address"):
        users.authenticate(conn, "bob", "bob-password-1", "6.6.6.6", now=now + 1)
    # another address is not affected at all
    assert users.authenticate(conn, "bob", "bob-password-1", "7.7.7.7", now=now + 1).username == "bob"
    # the ceiling lifts after its window
    later = now + defaults.LOGIN_ADDRESS_WINDOW_S + 1
    assert users.authenticate(conn, "bob", "bob-password-1", "6.6.6.6", now=later).username == "bob"


def test_success_clears_only_that_pair(conn):
    fail(conn, "alice", "1.1.1.1", defaults.LOGIN_MAX_FAILURES - 1, 1000.0)
    fail(conn, "alice", "2.2.2.2", defaults.LOGIN_MAX_FAILURES - 1, 1000.0)
    assert users.authenticate(conn, "alice", RIGHT, "1.1.1.1", now=1001.0)
    fail(conn, "alice", "1.1.1.1", defaults.LOGIN_MAX_FAILURES - 1, 1002.0)  # counts from zero again
    assert users.authenticate(conn, "alice", RIGHT, "1.1.1.1", now=1003.0)
    fail(conn, "alice", "2.2.2.2", 1, 1002.0)  # the other address kept its count: this is its fifth
    with pytest.raises(LoginThrottled):
        users.authenticate(conn, "alice", RIGHT, "2.2.2.2", now=1003.0)
