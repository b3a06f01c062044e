"""`describe_folder` and the readers on every real AF3 output layout (tests/fixtures/af3_outputs, copied
unchanged from /work/shared/af3_outputs; SOURCE.md there names where each came from) and on the simulator."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from services import results
from services.results import Layout, confidences, pae_image
from tests.conftest import ROOT
from tests.support.pae_png import decoded_pae

REAL = ROOT / "tests" / "fixtures" / "af3_outputs"
SIM_INPUT = ROOT / "tests" / "fixtures" / "af3" / "protein_ligand.json"

# folder -> (layout, sample keys best first, tokens, chain starts, ranking, ptm, iptm)
EXPECTED = {
    "local_v300_7rce_best_only": (Layout.BEST_ONLY, ["best"], 330,
                                  [("A", 0), ("B", 300), ("C", 326), ("D", 327), ("E", 328), ("F", 329)],
                                  0.79, 0.92, 0.76),
    "local_v301_pdl1_binder": (Layout.AF3_V30, ["seed-1_sample-0", "seed-1_sample-1", "seed-1_sample-2"], 209,
                               [("A", 0), ("B", 94)], 0.8990917334740582, 0.91, 0.9),
    "server_fold_5b8c": (Layout.SERVER, ["model-0"], 370, [("A", 0), ("B", 139), ("C", 259)], 0.86, 0.87, 0.82),
}


def test_every_real_folder_is_covered():
    """A folder added to the fixtures (copied from /work/shared/af3_outputs) must get expectations here."""
    assert sorted(p.name for p in REAL.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reader_on_each_real_output_folder(name):
    layout, keys, tokens, starts, ranking, ptm, iptm = EXPECTED[name]
    contents = results.describe_folder(REAL / name)
    assert contents.layout is layout
    scores = results.sample_scores(contents)
    assert [s.key for s in scores] == keys and scores[0].best and not any(s.best for s in scores[1:])
    assert (scores[0].ranking_score, scores[0].ptm, scores[0].iptm) == (ranking, ptm, iptm)
    assert scores[0].has_clash is False and scores[0].fraction_disordered is not None
    conf = results.sample_confidences(results.find_sample(contents, keys[0]), max_cells=10_000)
    full = json.loads(results.find_sample(contents, keys[0]).confidences.read_text())
    assert conf.note == "" and len(conf.tokens) == tokens and conf.pae_block == 1
    shown = decoded_pae(conf.pae_png)
    assert shown.shape == (tokens, tokens)  # every cell, nothing averaged
    assert np.abs(shown - np.minimum(np.array(full["pae"]), pae_image.PAE_MAX)).max() < 1e-4
    assert conf.chain_starts == starts
    assert all(t.plddt is not None and 0 <= t.plddt <= 100 for t in conf.tokens)
    n_chains = len(starts)
    assert len(scores[0].chain_pair_iptm) == n_chains and len(scores[0].chain_pair_pae_min) == n_chains


def test_read_results_on_the_attempt_folder_finds_the_scores():
    """The job page passes the attempt's output folder; the v3.0.0 best-only copy used to show no score row."""
    res = results.read_results(REAL / "local_v300_7rce_best_only")
    assert [s.ranking_score for s in res.samples] == [0.79]
    res = results.read_results(REAL / "server_fold_5b8c")
    assert res.contents.layout is Layout.SERVER and res.samples[0].iptm == 0.82


def test_best_only_ions_are_per_atom_tokens_and_polymers_per_residue():
    contents = results.describe_folder(REAL / "local_v300_7rce_best_only")
    conf = results.sample_confidences(contents.samples[0])
    assert [(t.chain, t.name, t.atom) for t in conf.tokens[-4:]] == [
        ("C", "CA", "CA"), ("D", "CA", "CA"), ("E", "CA", "CA"), ("F", "NA", "NA")]
    assert conf.tokens[0].atom == "" and conf.tokens[0].chain == "A" and conf.tokens[0].number == 1
    # an ion's pLDDT is its atom's B-factor in the model file
    assert conf.tokens[-1].plddt == 82.56


def test_v301_samples_each_have_their_own_files():
    contents = results.describe_folder(REAL / "local_v301_pdl1_binder" / "pdl1_binder")
    assert contents.data_json.name == "pdl1_binder_data.json"
    models = {s.key: s.model.parent.name for s in contents.samples}
    assert models == {k: k for k in ("seed-1_sample-0", "seed-1_sample-1", "seed-1_sample-2")}
    a, b = (results.sample_confidences(s) for s in contents.samples[:2])
    assert [t.plddt for t in a.tokens] != [t.plddt for t in b.tokens]


def test_server_download_with_several_models_and_a_job_request(tmp_path):
    src = REAL / "server_fold_5b8c" / "Example"
    folder = tmp_path / "fold_5b8c"
    folder.mkdir()
    for n in (0, 1):
        for stem, ext in (("model", "cif"), ("full_data", "json"), ("summary_confidences", "json")):
            shutil.copy(src / f"fold_5b8c_{stem}_0.{ext}", folder / f"fold_5b8c_{stem}_{n}.{ext}")
    summary = json.loads((folder / "fold_5b8c_summary_confidences_1.json").read_text())
    (folder / "fold_5b8c_summary_confidences_1.json").write_text(json.dumps({**summary, "ranking_score": 0.99}))
    (folder / "fold_5b8c_job_request.json").write_text(json.dumps([{"name": "5b8c", "modelSeeds": ["42"]}]))
    contents = results.describe_folder(tmp_path)
    assert contents.layout is Layout.SERVER and contents.job_request is not None
    scores = results.sample_scores(contents)
    assert [s.key for s in scores] == ["model-1", "model-0"] and scores[0].best and scores[0].seed == 42


def test_trouble_words_for_clash_low_iptm_and_disorder():
    base = results.SampleScore("k", "k", 1, 0, 0.5, 0.8, 0.9, 0.1, False)
    assert results.trouble(base) == []
    bad = results.SampleScore("k", "k", 1, 0, 0.5, 0.8, 0.55, 0.6, True)
    words = " ".join(results.trouble(bad))
    assert "clash" in words and "ipTM 0.55" in words and "60% of the model is disordered" in words


def test_an_empty_or_foreign_folder_has_no_samples(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    assert results.describe_folder(tmp_path).layout is Layout.NONE
    assert results.describe_folder(tmp_path / "missing").samples == []
    assert results.read_results(None).samples == []


@pytest.fixture(scope="module")
def sim_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    subprocess.run([sys.executable, "-m", "services.af3sim", f"--json_path={SIM_INPUT}", f"--output_dir={out}",
                    "--speed=0"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    return out


def test_reader_on_simulator_output(sim_out):
    contents = results.describe_folder(sim_out)
    assert contents.layout is Layout.AF3
    (job_dir,) = results.job_folders(sim_out)
    csv_rows = (job_dir / f"{contents.name}_ranking_scores.csv").read_text().splitlines()[1:]
    scores = results.sample_scores(contents)
    assert len(scores) == len(csv_rows) == 5
    assert scores[0].ranking_score == max(float(r.split(",")[2]) for r in csv_rows)
    for score in scores[:2]:
        files = results.find_sample(contents, score.key)
        full = json.loads(files.confidences.read_text())
        conf = results.sample_confidences(files)
        assert len(conf.tokens) == len(full["token_chain_ids"]) == len(full["pae"])
        assert conf.chain_ids == list(dict.fromkeys(full["token_chain_ids"]))
        assert conf.chain_starts == [(c, full["token_chain_ids"].index(c)) for c in conf.chain_ids]
        assert np.abs(decoded_pae(conf.pae_png) - np.minimum(np.array(full["pae"]), pae_image.PAE_MAX)).max() < 1e-4
        ligand = [t for t in conf.tokens if t.atom]
        assert ligand and all(t.plddt is not None for t in conf.tokens)


def test_fast_pae_reader_matches_json_and_the_cache_serves_the_second_visit(sim_out, tmp_path, monkeypatch):
    contents = results.describe_folder(sim_out)
    files = contents.samples[0]
    pae, chains, res = confidences._read_arrays(files.confidences)
    full = json.loads(files.confidences.read_text())
    assert pae.shape == (len(full["pae"]), len(full["pae"])) and chains == full["token_chain_ids"]
    assert np.allclose(pae, np.array(full["pae"]), atol=1e-4) and res == full["token_res_ids"]
    spaced = tmp_path / "spaced_confidences.json"
    for text in (json.dumps(full), json.dumps(full, indent=1)):  # not AF3's compact text: slower paths
        spaced.write_text(text)
        assert np.array_equal(confidences._read_arrays(spaced)[0], pae)
    first = results.sample_confidences(files, cache_dir=tmp_path / "cache")

    def boom(*_a):
        raise AssertionError("parsed again")

    monkeypatch.setattr(confidences, "_reduce", boom)
    assert results.sample_confidences(files, cache_dir=tmp_path / "cache") == first


def test_concurrent_first_visits_parse_a_sample_once(sim_out, tmp_path, monkeypatch):
    import threading
    import time

    files = results.describe_folder(sim_out).samples[1]
    calls, real = [], confidences._reduce

    def slow_reduce(*args):
        calls.append(1)
        time.sleep(0.3)  # long enough for the other visitor to arrive while this one parses
        return real(*args)

    monkeypatch.setattr(confidences, "_reduce", slow_reduce)
    out = []
    visitors = [threading.Thread(target=lambda: out.append(results.sample_confidences(files, cache_dir=tmp_path)))
                for _ in range(3)]
    for v in visitors:
        v.start()
    for v in visitors:
        v.join()
    assert len(calls) == 1 and len(out) == 3 and out[0] == out[1] == out[2]
