"""Delete my data leaves no name behind in the application log (issue 22, item 11): the user's name becomes
erased-user-<n> and their job names "job #<id>" (also names from before a rename, also in admins' audit
lines and in the search index), while other users' entries stay as they were."""
from __future__ import annotations

import json

from services import jobs
from services.jobs import UserLimits
from services.operations import admin as admin_actions
from services.people import users
from services.platform import applog
from services.platform.applog import LogFilters
from tests.conftest import ROOT, USER_PASSWORD, dash_post, login
from tests.dash_app.test_delete_data import BODY

DOC = json.loads((ROOT / "tests/fixtures/af3/protein_only.json").read_text())


def _submit(conn, settings, owner, name: str) -> jobs.Job:
    return jobs.submit_document(conn, settings, owner, {**DOC, "name": name})[0]


def _everything(conn) -> str:
    return json.dumps([tuple(r) for r in conn.execute("SELECT username, message FROM app_log")])


def test_delete_my_data_pseudonymises_the_application_log(app, client, conn, settings, alice, admin, bob):
    old = _submit(conn, settings, alice, "Kinase secret draft")
    jobs.rename_job(conn, alice, old.id, "Kinase secret final")
    other = _submit(conn, settings, bob, "bob control run")
    admin_actions.set_limits(conn, admin, alice.id, UserLimits(max_running=2))  # audit line: "... of 'alice': ..."
    assert users.authenticate(conn, "alice", "wrong password", "10.0.0.7") is None  # an auth line with her name
    assert applog.flush()
    assert "alice" in _everything(conn) and "Kinase secret" in _everything(conn)

    assert login(client, "alice", USER_PASSWORD).status_code == 302
    done = dash_post(client, {**BODY, "state": [{"id": "delete-data-name", "property": "value", "value": "alice"}]})
    assert done.get_json()["response"]["delete-data-nav"]["href"] == "/login"
    assert applog.flush()

    text = _everything(conn)
    assert "alice" not in text and "Kinase secret" not in text, text
    assert "erased-user-1" in text and f"job #{old.id}" in text
    assert applog.query(conn, LogFilters(text="alice"))[1] == 0  # nor through the search index
    assert applog.query(conn, LogFilters(text="Kinase"))[1] == 0
    assert applog.query(conn, LogFilters(username="erased-user-1"))[1] >= 2
    bob_lines = [e.message for e in applog.query(conn, LogFilters(job_id=other.id))[0]]
    assert any("(bob control run) submitted by bob" in m for m in bob_lines)
    assert applog.query(conn, LogFilters(text="bob control"))[1] >= 1
