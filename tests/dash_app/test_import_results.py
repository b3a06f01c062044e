"""POST /api/jobs/import through the real server: the form's zip becomes the caller's job, errors come back
to /import in words (only words the route signed for that user: issue 22), and the CSRF token is still required."""
from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import quote

from services.people import users
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


def _import_page(client, search: str = "") -> str:
    from tests.dash_app.test_job_page import page_payload

    payload = page_payload("/import")
    payload["inputs"][1]["value"] = search
    return dash_post(client, payload).get_data(as_text=True)


def _shown_after(client, response) -> str:
    """Follow the route's redirect to /import as the browser does; return the rendered page."""
    location = response.headers["Location"]
    assert response.status_code == 302 and location.startswith("/import?error=")
    return _import_page(client, location[len("/import"):])


def test_bad_zips_come_back_with_the_reason_and_no_job(user_client, conn):
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    bad.seek(0)
    assert "outside the folder" in _shown_after(user_client, _post(user_client, bad, "bad.zip"))
    assert "expired" in _shown_after(user_client, _post(user_client, _server_zip(), "fold.zip", token=None))
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_import_page_has_the_form_and_shows_the_error(user_client):
    from tests.dash_app.test_job_page import page_payload

    page = dash_post(user_client, page_payload("/import")).get_data(as_text=True)
    form = json.loads(page)["response"]["_pages_content"]["children"]["props"]["children"][-1]["props"]["srcDoc"]
    assert 'action="/api/jobs/import"' in form and 'name="csrf_token"' in form and 'type="file"' in form
    assert "AlphaFold Server" in page


def test_import_page_shows_only_refusals_the_route_signed_for_the_caller(app, user_client, bob):
    """A crafted /import?error=… link shows nothing; a real refusal shows for its user only, not for bob."""
    spoof = "Your account is locked. Call +1 555 0100 with your password."
    assert "locked" not in _import_page(user_client, "?error=" + quote(spoof))
    response = _post(user_client, io.BytesIO(b"{not a zip}"), "Your account is locked.zip")
    assert "Your account is locked.zip is not a zip file" in _shown_after(user_client, response)
    other = app.server.test_client()
    assert login(other, "bob", "bob-password-1").status_code == 302
    assert "locked" not in _shown_after(other, response)  # alice's signed text, sent to bob as a link


def test_a_zip_with_several_jobs_imports_each_and_says_how_many(user_client, conn):
    """A zipped AF3 output folder holding two jobs (the real v3.0.0 and v3.0.1 runs side by side)."""
    from tests.dash_app.test_job_page import page_payload

    real = ROOT / "tests" / "fixtures" / "af3_outputs"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for job in (real / "local_v301_pdl1_binder" / "pdl1_binder", real / "local_v300_7rce_best_only" /
                    "protein-dna-ion_pdb_7rce"):
            for p in job.rglob("*"):
                if p.is_file():
                    zf.writestr(f"af_output/{job.name}/{p.relative_to(job).as_posix()}", p.read_bytes())
    buf.seek(0)
    r = _post(user_client, buf, "af_output.zip")
    assert r.status_code == 302, r.headers
    path, _, query = r.headers["Location"].partition("?")
    ids = [int(x) for x in query.removeprefix("imported=").split(",")]
    assert path == f"/jobs/{ids[0]}" and len(ids) == 2
    rows = conn.execute("SELECT id, tokens, output_path FROM jobs WHERE id IN (?, ?) ORDER BY id", ids).fetchall()
    assert [r["tokens"] for r in rows] == [209, 330]  # folder-name order; each job holds its own folder only
    assert rows[0]["output_path"] != rows[1]["output_path"]
    payload = page_payload(path)
    payload["inputs"][1]["value"] = "?" + query
    page = dash_post(user_client, payload).get_data(as_text=True)
    assert "The zip held 2 AlphaFold 3 results" in page and all(f"#{i}" in page for i in ids)
