"""The stand-ins write each engine's own layout: the real readers (tested on real outputs) read them back."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gemmi

from services.af3.model import FoldJob
from services.engines import registry

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protein_ligand_ion.json"


def _write(engine: str, job: FoldJob, folder: Path) -> tuple[Path, dict[str, str]]:
    written = registry.get(engine).write_input(job)
    for name, data in written.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder / written.main, written.chains


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.engines.sims", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_boltz_stand_in_writes_boltz_layout_with_affinity(tmp_path):
    job = FoldJob.from_af3(json.loads(SAMPLE.read_text()))
    main, names = _write("boltz", job, tmp_path)
    done = _run("boltz", "predict", str(main), "--out_dir", str(tmp_path / "out"), "--diffusion_samples", "3")
    assert done.returncode == 0, done.stderr
    assert "Running structure prediction" in done.stdout
    out = registry.get("boltz").read_outputs(tmp_path / "out", names)
    assert out.folder == tmp_path / "out" / f"boltz_results_{main.stem}" / "predictions" / main.stem
    assert [s.score.key for s in out.samples] == ["model-0", "model-1", "model-2"]  # Boltz numbers best first
    assert out.samples[0].chains == job.chain_ids()
    assert set(out.affinity) >= {"affinity_pred_value", "affinity_probability_binary"}
    st = gemmi.read_structure(str(out.samples[0].model))  # an mmCIF another reader accepts
    assert [c.name for c in st[0]] == job.chain_ids()
    conf = out.confidences(out.samples[0])
    assert conf.note == "" and conf.chain_starts[0] == ("A", 0)


def test_chai_stand_in_writes_chai_layout_and_chains_map_back(tmp_path):
    job = FoldJob.from_af3({"dialect": "alphafold3", "version": 1, "name": "c", "modelSeeds": [1], "sequences": [
        {"protein": {"id": ["P", "Q"], "sequence": "MKTAYIAKQRQISFVK",
                     "modifications": [{"ptmType": "SEP", "ptmPosition": 3}]}},
        {"ligand": {"id": "Z", "smiles": "CC(=O)O"}}]})
    main, names = _write("chai", job, tmp_path)
    done = _run("chai", "fold", str(main), str(tmp_path / "out"), "--num-diffn-samples", "2")
    assert done.returncode == 0, done.stderr
    out = registry.get("chai").read_outputs(tmp_path / "out", names)
    assert len(out.samples) == 2 and out.samples[0].chains == ["P", "Q", "Z"]
    assert out.samples[0].score.has_clash is False


def test_stand_in_fails_with_a_message_on_bad_input(tmp_path):
    (tmp_path / "bad.yaml").write_text("version: 1\nsequences:\n- protein: {id: [A]}\n")
    done = _run("boltz", "predict", str(tmp_path / "bad.yaml"), "--out_dir", str(tmp_path / "out"))
    assert done.returncode == 1 and "ERROR" in done.stderr


def test_protenix_stand_in_writes_protenix_layout_read_back_with_chain_names(tmp_path):
    job = FoldJob.from_af3(json.loads(SAMPLE.read_text()))
    main, names = _write("protenix", job, tmp_path)
    done = _run("protenix", "predict", "--input", str(main), "--out_dir", str(tmp_path / "out"), "--sample", "2",
                "--seed", "101")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "out" / job.name / "seed_101" / "predictions"
    assert (folder / f"{job.name}_sample_0.cif").is_file()
    out = registry.get("protenix").read_outputs(tmp_path / "out", names)
    assert [s.score.key for s in out.samples] == ["seed-101_sample-0", "seed-101_sample-1"]  # rank order
    assert out.samples[0].chains == job.chain_ids() and out.samples[0].score.best


def test_openfold3_stand_in_writes_what_the_reader_of_real_openfold3_output_reads(tmp_path):
    job = FoldJob.from_af3(json.loads(SAMPLE.read_text()))
    main, names = _write("openfold3", job, tmp_path)
    done = _run("openfold3", "predict", "--query_json", str(main), "--output_dir", str(tmp_path / "out"),
                "--num_diffusion_samples", "2", "--seed", "42")
    assert done.returncode == 0, done.stderr
    out = registry.get("openfold3").read_outputs(tmp_path / "out", names)
    assert {s.score.key for s in out.samples} == {"seed-42_sample-1", "seed-42_sample-2"}
    best = out.samples[0]
    assert best.chains == job.chain_ids() and set(best.chain_ptm) == set(job.chain_ids())
    assert best.score.chain_pair_iptm[0][1] == best.score.chain_pair_iptm[1][0] is not None
