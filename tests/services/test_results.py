"""The results reader on real simulator output: files, scores and the confidence arrays for plotting."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from services import results
from services.results import pae_image
from tests.conftest import ROOT
from tests.support.pae_png import decoded_pae

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
    shown = decoded_pae(conf.pae_png)
    assert shown.shape == (n, n)  # every token pair is one pixel
    assert np.abs(shown - np.minimum(np.array(full["pae"]), pae_image.PAE_MAX)).max() < 1e-4
    assert [c for c, _ in conf.chain_starts] == list(dict.fromkeys(full["token_chain_ids"]))
    assert conf.chain_starts[0] == (full["token_chain_ids"][0], 0)


def test_a_reduced_pae_keeps_each_blocks_minimum_never_the_mean():
    """A one-token low-error stripe (an ion at an interface) must survive any reduction."""
    m = np.full((5, 5), 30.0, dtype=np.float32)
    m[3, :] = 1.0  # row 3: one token aligned well to everything
    reduced, block = pae_image.min_reduce(m, max_side=3)
    assert block == 2 and reduced.shape == (3, 3)
    assert reduced[1].tolist() == [1.0, 1.0, 1.0] and reduced[0].tolist() == [30.0, 30.0, 30.0]
    assert reduced[2, 2] == 30.0  # the partial edge block holds one value
    assert pae_image.min_reduce(m, max_side=5)[1] == 1  # within the cap: untouched


def test_the_image_caps_its_side_and_each_pixel_is_the_block_minimum(job_dir):
    full = json.loads(next(p for p in job_dir.glob("*_confidences.json") if "summary" not in p.name).read_text())
    pae = np.array(full["pae"], dtype=np.float32)
    conf = results.best_confidences(job_dir, max_cells=16)
    shown = decoded_pae(conf.pae_png)
    b = conf.pae_block
    assert b > 1 and shown.shape[0] <= 16 and shown.shape[0] == -(-len(pae) // b)
    assert abs(shown[0, 1] - min(pae[:b, b:2 * b].min(), pae_image.PAE_MAX)) < 1e-4


def test_the_palette_gives_every_level_its_own_colour():
    """The page reads a hovered pixel's colour back as Å: two levels sharing a colour would lie."""
    assert len({tuple(c) for c in pae_image.PALETTE}) == pae_image.LEVELS
    assert pae_image.levels(np.array([0.0, 0.04, 0.06, 12.4, 25.5, 99.9, np.nan])).tolist() == [
        0, 0, 1, 124, 255, 255, 255]  # AF3's one-decimal values are exact levels


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
    image = pae_figure(conf).data[0]
    assert image.type == "image" and image.dx == 1 and image.x0 == 0
    traces = plddt_figure(conf).data
    assert sum(len(d.y) for d in traces) == len(conf.tokens)
    assert [d.name for d in traces] == ["residues (polymer)", "ligand / per-atom"]
