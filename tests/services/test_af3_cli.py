"""The `python -m services.af3` command line, run as a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(autouse=True)
def data_dir(ccd_data_dir, monkeypatch):
    """The command boots as every entry point does (settings, migrations): on the run's CCD data dir, never on the
    checkout's own ./data (a folddeck.db left there made `.ci/first_run.sh` refuse the checkout as not fresh)."""
    monkeypatch.setenv("FOLDDECK_DATA_DIR", str(ccd_data_dir))


def af3(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.af3", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_validate_exit_codes(tmp_path):
    good = SAMPLES / "protein_only.json"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dialect": "alphafold3", "version": 1, "name": "x", "modelSeeds": [1],
                               "sequences": [{"protein": {"id": "a", "sequence": "MKB"}}]}))
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": 1,\n}')
    assert af3("validate", good).returncode == 0
    out = af3("validate", good, bad)
    assert out.returncode == 1
    assert f"{bad}: sequences[0].protein.sequence: Protein sequence has 'B' at position 3" in out.stdout
    assert f"{bad}: sequences[0].protein.id: Chain id 'a'" in out.stdout
    out = af3("validate", good, bad, broken, tmp_path / "missing.json")
    assert out.returncode == 2 and "line 2, column 1" in out.stderr and "missing.json: cannot read" in out.stderr


def test_convert_server_file_to_af3_files(tmp_path):
    out = af3("convert", SAMPLES / "server_two_jobs.json", "--out-dir", tmp_path)
    assert out.returncode == 0, out.stderr
    files = sorted(tmp_path.glob("*.json"))
    assert [f.name for f in files] == ["Server_job_1_dimer_with_ATP.json", "Server_job_2_protein-DNA.json"]
    first = json.loads(files[0].read_text())
    assert first["sequences"][2] == {"ligand": {"id": ["D", "E"], "ccdCodes": ["MG"]}}
    assert 0 <= first["modelSeeds"][0] < 2**32
    assert af3("validate", *files).returncode == 0


def test_convert_to_server_and_blocked(tmp_path):
    out = af3("convert", SAMPLES / "protein_only.json", "--to", "alphafoldserver")
    assert out.returncode == 0
    (job,) = json.loads(out.stdout)
    assert job["sequences"] == [{"proteinChain": {"sequence": job["sequences"][0]["proteinChain"]["sequence"],
                                                  "count": 2}}]
    out = af3("convert", SAMPLES / "protein_ligand_ion.json", "--to", "alphafoldserver")
    assert out.returncode == 1 and "no SMILES ligands" in out.stderr


def test_size_prints_tokens_bucket_and_time():
    out = af3("size", SAMPLES / "protein_only.json")
    assert out.returncode == 0
    assert "Ubiquitin homodimer: 152 tokens, bucket 256" in out.stdout and "for 2 seed(s)" in out.stdout


def test_fasta_to_af3_json(tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">h1\nMKTAYIAKQR\n>h2\nMKTAYIAKQR\n>dna\nACGTTGCA\n")
    out = af3("fasta", fasta, "--name", "from fasta", "--seeds", "1,2")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["modelSeeds"] == [1, 2] and doc["sequences"][0]["protein"]["id"] == ["A", "B"]
    fasta.write_text(">bad\nMKJ\n")
    out = af3("fasta", fasta, "--name", "x")
    assert out.returncode == 1 and "'J' at position 3" in out.stderr


@pytest.mark.parametrize("command", ["convert", "size"])
def test_convert_and_size_refuse_invalid_or_unreadable_files(tmp_path, command):
    bad = tmp_path / "bad.json"
    bad.write_text('{"dialect": "alphafold3", "version": 1, "name": "x", "modelSeeds": [1], '
                   '"sequences": [{"protein": {"id": "A", "sequence": "MKJ"}}]}')
    out = af3(command, bad)
    assert out.returncode == 1 and "sequences[0].protein.sequence" in out.stdout + out.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": }')
    out = af3(command, broken)
    assert out.returncode == 2 and "line 1, column" in out.stderr and out.stdout == ""
