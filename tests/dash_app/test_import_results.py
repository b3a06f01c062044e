"""POST /api/jobs/import through the real server: the form's zip becomes the caller's job, errors come back
to /import in words, and the CSRF token is still required."""
from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import unquote

from services import users
from tests.conftest import ROOT, dash_post, login

SERVER = ROOT / "tests" / "fixtures" / "af3_outputs" / "server_fold_5b8c" / "Example"


def _server_zip() -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in SERVER.iterdir():
            zf.writestr(f"fold_5b8c/{p.name}", p.read_bytes())
    buf.seek(0)
    return buf


def _post(client, data: io.BytesIO, name: str, token: str | None = "cookie"):
    client.get("/")
    if token == "cookie":
        token = client.get_cookie("_csrf_token").value
    form = {"file": (data, name)}
    if token:
        form["csrf_token"] = token
    return client.post("/api/jobs/import", data=form, content_type="multipart/form-data")


def test_import_opens_the_new_job_and_only_its_owner_sees_it(app, user_client, conn):
    r = _post(user_client, _server_zip(), "fold_5b8c.zip")
    assert r.status_code == 302 and r.headers["Location"].startswith("/jobs/")
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert user_client.get(f"/api/jobs/{job_id}/files/fold_5b8c/fold_5b8c_model_0.cif").status_code == 200
    users.create_user(conn, "bob", "bob-password-1", users.Role.USER)
    bob = app.server.test_client()
    assert login(bob, "bob", "bob-password-1").status_code == 302
    assert bob.get(f"/api/jobs/{job_id}/archive").status_code == 404


def test_bad_zips_come_back_with_the_reason_and_no_job(user_client, conn):
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    bad.seek(0)
    r = _post(user_client, bad, "bad.zip")
    assert r.status_code == 302 and "outside the folder" in unquote(r.headers["Location"])
    assert r.headers["Location"].startswith("/import?error=")
    r = _post(user_client, _server_zip(), "fold.zip", token=None)
    assert r.status_code == 302 and "expired" in unquote(r.headers["Location"])
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_import_page_has_the_form_and_shows_the_error(user_client):
    from tests.dash_app.test_job_page import page_payload

    page = dash_post(user_client, page_payload("/import")).get_data(as_text=True)
    form = json.loads(page)["response"]["_pages_content"]["children"]["props"]["children"][-1]["props"]["srcDoc"]
    assert 'action="/api/jobs/import"' in form and 'name="csrf_token"' in form and 'type="file"' in form
    assert "AlphaFold Server" in page
    payload = page_payload("/import")
    payload["inputs"][1]["value"] = "?error=The%20zip%20is%20bad"
    assert "The zip is bad" in dash_post(user_client, payload).get_data(as_text=True)
