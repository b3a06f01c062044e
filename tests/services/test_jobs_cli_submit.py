"""`python -m services.jobs submit` on what people really hand it: binary, non-UTF-8, huge, broken, too many jobs.

Each refusal is a one-line message and an exit status (2: the file cannot be read, 1: invalid or
refused), never a traceback or a dump of `Problem(...)` objects; nothing is queued.
"""
from __future__ import annotations

import json

from services.people import users
from services.platform import db, defaults
from tests.services.test_jobs_cli import cli


def protein(name: str, seq: str = "MKVLAAGIVALLLA") -> dict:
    return {"name": name, "modelSeeds": [1], "sequences": [{"proteinChain": {"sequence": seq, "count": 1}}]}


def job_count(settings) -> int:
    return db.connect(settings.db_path).execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def assert_clean_refusal(out, code: int) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and "Problem(" not in out.stderr + out.stdout
    assert out.stderr.startswith("error: ")


def test_binary_file_exits_2_with_a_message(settings, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    out = cli(settings, "submit", str(path), "--accept-terms")
    assert_clean_refusal(out, 2)
    assert f"{path}: This looks like a binary file" in out.stderr
    assert job_count(settings) == 0


def test_non_utf8_file_exits_2_naming_the_byte(settings, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps([protein("café")], ensure_ascii=False).encode("latin-1"))
    out = cli(settings, "submit", str(path), "--accept-terms")
    assert_clean_refusal(out, 2)
    assert "not valid UTF-8" in out.stderr and "(0xe9)" in out.stderr


def test_missing_file_exits_2(settings, tmp_path):
    out = cli(settings, "submit", str(tmp_path / "nope.json"), "--accept-terms")
    assert_clean_refusal(out, 2)
    assert "cannot read: No such file or directory" in out.stderr


def test_file_over_the_byte_cap_exits_2_before_reading_it(settings, tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:  # sparse: the cap is checked on the size, not by reading it
        fh.truncate(defaults.CLI_SUBMIT_MAX_BYTES + 1)
    out = cli(settings, "submit", str(path), "--accept-terms")
    assert_clean_refusal(out, 2)
    assert f"more than the {defaults.CLI_SUBMIT_MAX_BYTES:,} allowed" in out.stderr


def test_many_problems_print_as_path_and_message_capped(settings, tmp_path):
    doc = {"name": "bad", "dialect": "alphafold3", "version": 1, "modelSeeds": [1],
           "sequences": [{"protein": {"id": f"A{i}", "sequence": "MKV"}} for i in range(300)]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    out = cli(settings, "submit", str(path), "--accept-terms")
    assert_clean_refusal(out, 1)
    problems = [line for line in out.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == defaults.CLI_MAX_PROBLEMS_SHOWN + 1
    assert problems[0].startswith("  - sequences[0].protein.id: ")
    assert problems[-1].startswith("  - … and ") and problems[-1].endswith(" more")
    assert job_count(settings) == 0


def test_too_many_jobs_in_one_file_is_refused_fast_and_whole(settings, tmp_path):
    path = tmp_path / "screen.json"
    path.write_text(json.dumps([protein(f"p{i}") for i in range(defaults.MAX_JOBS_PER_SUBMIT + 1)]))
    out = cli(settings, "submit", str(path), "--accept-terms")
    assert_clean_refusal(out, 1)
    assert (f"This file has {defaults.MAX_JOBS_PER_SUBMIT + 1:,} jobs; the limit is "
            f"{defaults.MAX_JOBS_PER_SUBMIT:,} per submission") in out.stderr and "ask an admin" in out.stderr
    assert job_count(settings) == 0


def test_submit_without_accept_terms_is_refused_and_with_it_recorded(settings, conn, tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps([protein("one")]))
    refused = cli(settings, "submit", str(path))  # admin accepted on the web before: the CLI still asks
    assert_clean_refusal(refused, 1)
    assert "accept the AlphaFold 3 model-parameter terms" in refused.stderr and "--accept-terms" in refused.stderr
    assert job_count(settings) == 0

    bob = users.create_user(conn, "bob", "bob-password-1")
    out = cli(settings, "submit", str(path), "--user", "bob", "--accept-terms")
    assert out.returncode == 0, out.stderr
    row = conn.execute("SELECT j.terms_accepted_at, j.terms_via, u.accepted_terms_at FROM jobs j "
                       "JOIN users u ON u.id = j.owner_id WHERE u.id = ?", (bob.id,)).fetchone()
    assert row[0] is not None and row[1] == "cli" and row[2] == row[0]


def test_a_fresh_install_submits_from_the_command_line_before_the_first_start(tmp_path):
    """A newcomer's first command on a clean clone, no settings, no `make run` yet: the ligand/ion sample is
    queued (the admin it acts as is created, its password shown once) and a worker runs it to succeeded."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env["FOLDDECK_DATA_DIR"] = str(tmp_path / "data")  # stands for the clone's own ./data

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=120)

    out = run("services.jobs", "submit", "data/samples/protein_ligand_ion.json", "--accept-terms")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("submitted job 1 (Kinase fragment with ATP and Mg")
    assert "no worker is running yet" in out.stderr and "password: " in out.stderr
    assert "password: " not in run("services.jobs", "list").stderr  # created once
    assert run("services.running.worker", "--once").returncode == 0
    assert "state            succeeded" in run("services.jobs", "show", "1").stdout
