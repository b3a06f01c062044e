"""Upload parsing: one row per job, clear messages for unreadable files, server-side re-validation."""
import base64
import json
from pathlib import Path

from dash_app import upload_state as U

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def data_url(data: bytes) -> str:
    return "data:application/json;base64," + base64.b64encode(data).decode()


def test_server_file_with_two_jobs_and_one_broken_file():
    server = (SAMPLES / "server_two_jobs.json").read_bytes()
    broken = b'{"name": "x",\n  "sequences": [,]}'
    results = U.read_uploads(["two.json", "broken.json"], [data_url(server), data_url(broken)], 10_000_000)
    assert [r.name for r in results[0].rows] == ["Server job 1: dimer with ATP", "Server job 2: protein-DNA"]
    assert all(r.valid for r in results[0].rows)
    assert results[0].rows[0].entities == 3
    assert results[0].rows[0].tokens == 2 * (32 + 10 - 1) + 31 + 2  # SEP: 10 in-chain atoms
    assert results[1].rows == [] and "line 2, column" in results[1].error
    assert [r.key for r in U.valid_rows(results)] == ["0:0", "0:1"]
    assert [r.key for r in U.valid_rows(results, ["0:1", "1:0"])] == ["0:1"]


def test_invalid_job_lists_problems_with_paths():
    doc = json.loads((SAMPLES / "protein_only.json").read_text())
    doc["sequences"][0]["protein"]["sequence"] = "MK1"
    [f] = U.read_uploads(["bad.json"], [data_url(json.dumps(doc).encode())], 10_000_000)
    [row] = f.rows
    assert not row.valid and row.af3 is None
    assert row.table_row()["status"].startswith("sequences[0].protein.sequence:")


def test_size_binary_utf8_and_extension_refused():
    big = U.read_uploads(["big.json"], [data_url(b"[" + b" " * 2000 + b"]")], 1000)[0]
    assert "more than the" in big.error
    binary = U.read_uploads(["b.json"], [data_url(b"\x00\x01\x02{}")], 1000)[0]
    assert "binary" in binary.error
    latin = U.read_uploads(["l.json"], [data_url('{"name": "caf\xe9"}'.encode("latin-1"))], 1000)[0]
    assert "UTF-8" in latin.error and "byte 13" in latin.error
    fasta = U.read_uploads(["x.fasta"], [data_url(b">a\nMK\n")], 1000)[0]
    assert ".json" in fasta.error
    damaged = U.read_uploads(["d.json"], ["data:application/json;base64,@@@"], 1000)[0]
    assert "damaged" in damaged.error
