"""Delete my data from the browser side (issue 18): the real callback, confirmed by the typed user name."""
from __future__ import annotations

import pytest

from services.operations import retention
from services.people import users
from services.platform.errors import UserNotFound
from tests.conftest import USER_PASSWORD, dash_post, login
from tests.services.test_jobs_manage import finished

BODY = {"output": "..delete-data-alert.children...delete-data-nav.href..",
        "outputs": [{"id": "delete-data-alert", "property": "children"}, {"id": "delete-data-nav", "property": "href"}],
        "inputs": [{"id": "delete-data-confirm", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["delete-data-confirm.n_clicks"]}


def test_user_deletes_all_their_data(app, client, conn, settings, alice):
    job = finished(conn, settings, alice)
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    wrong = dash_post(client, {**BODY, "state": [{"id": "delete-data-name", "property": "value", "value": "admin"}]})
    assert "Type your user name exactly" in wrong.get_data(as_text=True)
    assert users.get_by_name(conn, "alice")
    done = dash_post(client, {**BODY, "state": [{"id": "delete-data-name", "property": "value", "value": "alice"}]})
    assert done.get_json()["response"]["delete-data-nav"]["href"] == "/login"
    with pytest.raises(UserNotFound):
        users.get_by_name(conn, "alice")
    assert not (settings.jobs_dir / str(job.id)).exists() and retention.erased_counts(conn) == (1, 1)
    assert client.get("/").status_code == 302  # the session ended with the account
