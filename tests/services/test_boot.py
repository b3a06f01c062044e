"""services/platform/boot.py (issue 23): every entry point boots the same way, from the same env file.

The oracle for the CCD is `python -m services.af3 validate` with the same `.env` (tests/services/test_af3_ccd.py):
`python -m services.jobs submit` used to ignore FOLDDECK_AF3_CCD_PATH there and queue a ligand that validate refused.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from services.platform import db
from tests.conftest import ROOT
from tests.services.test_af3_ccd import USER_LIG


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    return dict(env, PYTHONPATH=str(ROOT), **extra)


def _run(args: list[str], cwd, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(**extra), capture_output=True, text=True,
                          timeout=180)


def _ligand_job(name: str, code: str) -> dict:
    return {"dialect": "alphafold3", "version": 1, "name": name, "modelSeeds": [1],
            "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}},
                          {"ligand": {"id": "B", "ccdCodes": [code]}}]}


@pytest.fixture
def site(tmp_path):
    """A deployment folder whose env file names a CCD holding only ZQ1 (so ATP is unknown there)."""
    cif = tmp_path / "components.cif.gz"
    cif.write_bytes(gzip.compress(USER_LIG.replace("LIG-1", "ZQ1").encode()))
    env_file = tmp_path / "folddeck.env"
    env_file.write_text(f"FOLDDECK_AF3_CCD_PATH={cif}\nFOLDDECK_DATA_DIR={tmp_path / 'data'}\n")
    for code in ("ZQ1", "ATP"):
        (tmp_path / f"{code}.json").write_text(json.dumps(_ligand_job(code.lower(), code)))
    return tmp_path


@pytest.mark.parametrize("how", [".env in the working folder", "FOLDDECK_ENV_FILE"])
def test_jobs_submit_judges_ligands_with_the_env_files_ccd_as_validate_does(site, tmp_path_factory, how):
    if how == "FOLDDECK_ENV_FILE":
        cwd, extra = tmp_path_factory.mktemp("elsewhere"), {"FOLDDECK_ENV_FILE": str(site / "folddeck.env")}
    else:
        (site / ".env").write_text((site / "folddeck.env").read_text())
        cwd, extra = site, {}
    for code, verdict in (("ATP", 1), ("ZQ1", 0)):
        validate = _run(["-m", "services.af3", "validate", str(site / f"{code}.json")], cwd, **extra)
        submit = _run(["-m", "services.jobs", "submit", str(site / f"{code}.json"), "--accept-terms"], cwd, **extra)
        assert validate.returncode == verdict, validate.stdout + validate.stderr
        assert submit.returncode == verdict, submit.stdout + submit.stderr
        if verdict:
            assert "'ATP' is not in" in validate.stdout and "'ATP' is not in" in submit.stderr
    queued = db.connect(site / "data" / "folddeck.db").execute("SELECT name FROM jobs").fetchall()
    assert [r[0] for r in queued] == ["zq1"]


ENTRY_POINTS = {  # every command the README names, and each process of services/platform/processes.py
    "jobs": ["-m", "services.jobs", "list"],
    "af3": ["-m", "services.af3", "validate", "x.json"],
    "users": ["-m", "services.people.users", "list"],
    "msa_cache": ["-m", "services.msa.msa_cache", "stats"],
    "backup": ["-m", "services.operations.backup", "backup-folder"],
    "worker": ["-m", "services.running.worker", "--once"],
    "sampler": ["-m", "services.operations.sampler", "--once"],
    "sender": ["-m", "services.notify", "--once"],
    "preflight": ["-m", "services.preflight"],
    "make run": ["-m", "dash_app"],
    "web (gunicorn's wsgi)": ["-c", "import dash_app.wsgi"],
}


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_every_entry_point_reads_the_named_env_file(name, tmp_path):
    """Each one boots through the same code: a FOLDDECK_ENV_FILE that is not there stops it with that sentence."""
    out = _run(ENTRY_POINTS[name], tmp_path, FOLDDECK_ENV_FILE=str(tmp_path / "gone.env"),
               FOLDDECK_DATA_DIR=str(tmp_path / "data"))
    assert out.returncode != 0
    assert f"FOLDDECK_ENV_FILE={tmp_path / 'gone.env'}: no such file" in out.stderr, out.stderr
    assert not (tmp_path / "data" / "folddeck.db").exists()  # stopped before touching anything
