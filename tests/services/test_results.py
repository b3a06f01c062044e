"""The results reader on real simulator output: files, scores and the confidence arrays for plotting."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from services import results
from services.results import confidences
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "af3" / "protein_ligand.json"


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    subprocess.run([sys.executable, "-m", "services.af3sim", f"--json_path={FIXTURE}", f"--output_dir={out}",
                    "--speed=0"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    (folder,) = results.job_folders(out)
    return folder


def test_best_confidences_match_the_best_models_file(job_dir):
    full = json.loads(next(p for p in job_dir.glob("*_confidences.json") if "summary" not in p.name).read_text())
    conf = results.best_confidences(job_dir)
    n = len(full["token_chain_ids"])
    assert conf.note == "" and len(conf.tokens) == n and conf.pae_block == 1
    assert np.allclose(conf.pae, np.round(np.array(full["pae"], dtype=float), 1))
    assert [c for c, _ in conf.chain_starts] == list(dict.fromkeys(full["token_chain_ids"]))
    assert conf.chain_starts[0] == (full["token_chain_ids"][0], 0)


def test_large_pae_is_block_averaged_nan_aware():
    m = np.arange(25, dtype=float).reshape(5, 5)
    m[0, 0] = np.nan
    reduced, block = confidences._block_mean(m, max_cells=3)
    assert block == 2 and reduced.shape == (3, 3)
    assert reduced[0, 0] == np.mean([1, 5, 6])  # NaN ignored
    assert reduced[2, 2] == 24  # the partial edge block holds one value


def test_reduced_sizes_respect_the_caps(job_dir):
    conf = results.best_confidences(job_dir, max_cells=16)
    assert len(conf.pae) <= 16 and all(len(row) <= 16 for row in conf.pae) and conf.pae_block > 1


def test_too_large_or_broken_files_give_a_note_not_an_error(job_dir, tmp_path):
    assert "download it" in results.best_confidences(job_dir, max_bytes=10).note
    (tmp_path / "x_summary_confidences.json").write_text("{}")
    (tmp_path / "x_confidences.json").write_text('{"pae": [[1, 2]], "atom_plddts": []')
    assert "could not be read" in results.best_confidences(tmp_path).note
    (tmp_path / "x_confidences.json").write_text(json.dumps(
        {"pae": [[1, 2]], "atom_plddts": [], "token_chain_ids": ["A"], "token_res_ids": [1], "atom_chain_ids": []}))
    assert "not tokens x tokens" in results.best_confidences(tmp_path).note
    assert results.best_confidences(tmp_path / "missing-dir") is None


def test_plots_are_built_from_the_reduced_arrays(job_dir):
    from dash_app.components.results.results_plots import pae_figure, plddt_figure

    conf = results.best_confidences(job_dir)
    heat = pae_figure(conf).data[0]
    assert heat.type == "heatmap" and len(heat.z) == len(conf.tokens)
    traces = plddt_figure(conf).data
    assert sum(len(d.y) for d in traces) == len(conf.tokens)
    assert [d.name for d in traces] == ["residues (polymer)", "ligand / per-atom"]
