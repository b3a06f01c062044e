"""Files on disk (issue 22, item 11): whatever umask a deployment forgets to set, FoldDeck's own processes
create the database, job inputs and outputs, the MSA cache and backups unreadable to other users, and the
systemd units set UMask=0027 as well."""
from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys

import pytest

from services.platform import db, defaults
from services.platform.settings import load_settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run `python -m ARGS` as a deployment without UMask= would: umask 022, files 0644 by default."""
    out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=180, umask=0o022)
    assert out.returncode == 0, out.stderr
    return out


def _open_to_others(top) -> list[str]:
    """Return every path under `top` (itself included) that other users may read, write or enter."""
    paths = [top, *top.rglob("*")]
    return [f"{p} {stat.filemode(p.lstat().st_mode)}" for p in paths
            if not p.is_symlink() and p.lstat().st_mode & 0o007]


def test_processes_create_every_file_owner_only_under_umask_022(tmp_path):
    """Submit (CLI, fresh install), run it (worker: input, output, MSA cache), back it up: nothing is 0644."""
    data, dest = tmp_path / "data", tmp_path / "backups" / "today"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env["FOLDDECK_DATA_DIR"] = str(data)
    _run(env, "services.jobs", "submit", "data/samples/protein_only.json", "--accept-terms")
    _run(env, "services.running.worker", "--once")
    assert "state            succeeded" in _run(env, "services.jobs", "show", "1").stdout
    _run(env, "services.operations.backup", str(dest))

    job = data / "jobs" / "1"
    assert (job / "input.json").is_file() and any(p.suffix == ".cif" for p in job.rglob("*"))
    assert any(p.is_file() for p in (data / defaults.MSA_CACHE_DIR).rglob("*")), "no MSA cache file was written"
    for name in (defaults.DB_FILE, defaults.DB_FILE + "-wal", defaults.DB_FILE + "-shm"):
        if (data / name).exists():
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((dest / defaults.DB_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert (dest / "jobs" / "1" / "input.json").is_file()
    assert _open_to_others(data) == [] and _open_to_others(dest) == []


def test_an_existing_world_readable_database_is_closed_on_the_next_open(tmp_path):
    """An install from before this change: its 0644 database and 0755 data dir lose the others' access."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    path = data / defaults.DB_FILE
    path.touch()
    path.chmod(0o644)
    settings = load_settings(environ={}, dotenv=None, data_dir=data, secret_key="k")
    db.migrate(settings.db_path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(data.stat().st_mode) & 0o007 == 0
    finally:
        db.close_all()


@pytest.mark.parametrize("unit", sorted(p.name for p in DEPLOY.glob("*.service")))
def test_every_unit_sets_umask_0027(unit):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(DEPLOY / unit)
    assert cp["Service"].get("UMask") == "0027", unit
