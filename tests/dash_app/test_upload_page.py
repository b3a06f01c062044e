"""The upload page's server side: files the browser held back, and over-cap files sent anyway, queue nothing."""
import base64
import json
from pathlib import Path

from dash_app import upload_state as U
from services import jobs
from services.people import users
from tests.conftest import dash_post

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def data_url(data: bytes) -> str:
    return "data:application/json;base64," + base64.b64encode(data).decode()


def payload(app, first_output, inputs, state=()):
    """Return a callback's request body as dash-renderer sends it (its output key taken from the map)."""
    key = next(k for k in app.callback_map if k.startswith(f"..{first_output}"))
    outputs = [o.split("@")[0].split(".") for o in key.strip(".").split("...")]
    as_props = lambda items: [{"id": i, "property": p, "value": v} for i, p, v in items]  # noqa: E731
    return {"output": key, "outputs": [{"id": i, "property": p} for i, p in outputs], "inputs": as_props(inputs),
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"], "state": as_props(state)}


def test_read_batch_names_held_back_files_and_rechecks_the_cap():
    job = (SAMPLES / "protein_only.json").read_bytes()
    batch = [{"name": "ok.json", "bytes": len(job), "contents": data_url(job), "skipped": None},
             {"name": "big.json", "bytes": 12_345_678, "contents": None, "skipped": "size"},
             {"name": "late.json", "bytes": 900, "contents": None, "skipped": "batch"},
             {"name": "sneaky.json", "bytes": 10, "contents": data_url(b"[" + b" " * 5000 + b"]"), "skipped": None}]
    ok, big, late, sneaky = U.read_batch(batch, 4096, 21 * 1024 * 1024)
    assert ok.error is None and [r.valid for r in ok.rows] == [True]
    assert big.error == ("The file is 11.8 MB, more than the 4 KB allowed per file. It was not uploaded and nothing "
                         "from it is queued.") and big.rows == []
    assert late.error.startswith("Not uploaded: the files dropped together pass 21 MB") and late.rows == []
    assert sneaky.error == "The file is 5 KB, more than the 4 KB allowed per file. Nothing from it is queued."
    assert sneaky.rows == []  # the browser's figure is not trusted
    assert [r.key for r in U.valid_rows([ok, big, late, sneaky])] == ["0:0"]


def test_review_over_http_lists_held_back_files_and_submit_queues_only_valid(user_client, app, conn):
    job = json.loads((SAMPLES / "protein_only.json").read_text())
    cap = app.server.config["FOLDDECK_SETTINGS"].upload_max_bytes
    huge = data_url(b"[" + b" " * (cap + 1) + b"]")
    batch = [{"name": "ok.json", "bytes": 1, "contents": data_url(json.dumps(job).encode()), "skipped": None},
             {"name": "huge.json", "bytes": 1, "contents": huge, "skipped": None},
             {"name": "big.json", "bytes": cap + 1, "contents": None, "skipped": "size"}]
    r = dash_post(user_client, payload(app, "upload-files.children", [("upload-batch", "data", batch)]))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    out = r.json["response"]
    text = json.dumps(out["upload-files"]["children"])
    assert "huge.json" in text and "big.json" in text and text.count("more than the 10 MB allowed per file") == 2
    assert text.count("It was not uploaded") == 1  # big.json: held back by the browser
    assert [row["file"] for row in out["upload-grid"]["rowData"]] == ["ok.json"]
    submit = payload(app, "upload-result.children", [("upload-submit-all", "n_clicks", 1),
                                                     ("upload-submit-selected", "n_clicks", None)],
                     [("upload-batch", "data", batch), ("upload-grid", "selectedRows", None),
                      ("upload-key", "data", "k"), ("upload-terms", "value", True),
                      ("upload-search-again", "value", False), ("upload-engines", "value", ["af3"])])
    out = dash_post(user_client, submit).json["response"]
    assert "1 job(s) queued" in json.dumps(out["upload-result"]["children"])
    found, total = jobs.list_jobs(conn, users.get_by_name(conn, "alice"))
    assert total == 1 and found[0].name == job["name"]


def test_an_msa_dropped_beside_the_json_is_sent_with_it_and_a_server_path_is_refused_at_review(user_client, app,
                                                                                                conn, settings):
    """Issue 22: the job's unpairedMsaPath names a file dropped with it (by file name, wherever the
    user's JSON said it lived); another job naming the server's secret key is not valid at review and
    is never queued."""
    from tests.services.test_input_files import MSA, doc

    ok = doc("unpairedMsaPath", "/home/alice/msas/a.a3m", name="with msa")
    bad = doc("pairedMsaPath", str(settings.data_dir / "secret_key"), name="thief")
    batch = [{"name": "ok.json", "bytes": 1, "contents": data_url(json.dumps(ok).encode()), "skipped": None},
             {"name": "bad.json", "bytes": 1, "contents": data_url(json.dumps(bad).encode()), "skipped": None},
             {"name": "a.a3m", "bytes": 1, "contents": data_url(MSA.encode()), "skipped": None}]
    out = dash_post(user_client, payload(app, "upload-files.children", [("upload-batch", "data", batch)])).json
    rows = {r["name"]: r["status"] for r in out["response"]["upload-grid"]["rowData"]}
    assert rows["with msa"] == "valid" and "pairedMsaPath" in rows["thief"] and "is not a file of this job" in \
        rows["thief"]
    assert "sent with the jobs whose input names it" in json.dumps(out["response"]["upload-files"]["children"])
    submit = payload(app, "upload-result.children", [("upload-submit-all", "n_clicks", 1),
                                                     ("upload-submit-selected", "n_clicks", None)],
                     [("upload-batch", "data", batch), ("upload-grid", "selectedRows", None),
                      ("upload-key", "data", "k2"), ("upload-terms", "value", True),
                      ("upload-search-again", "value", False), ("upload-engines", "value", ["af3"])])
    out = dash_post(user_client, submit).json["response"]
    assert "1 job(s) queued" in json.dumps(out["upload-result"]["children"])
    found, total = jobs.list_jobs(conn, users.get_by_name(conn, "alice"))
    assert total == 1 and found[0].read_input()["sequences"][0]["protein"]["unpairedMsaPath"] == "files/a.a3m"
    assert (settings.jobs_dir / str(found[0].id) / "files" / "a.a3m").read_text() == MSA
