"""The AF3 simulator run as a real subprocess: AF3's output layout and shapes, AF3's error texts, pacing."""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import gemmi
import pytest

from services.af3.chem import ccd
from services.af3.chem.ccd import heavy_atoms_in_smiles
from services.af3.size import count_tokens
from services.af3sim.flags import FlagsError, Stage, parse_flags
from services.af3sim.loader import load_fold_inputs_from_path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "af3"
CAUSE = "The above exception was the direct cause of the following exception:"


def run_sim(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `python -m services.af3sim` with `args` from the repo root."""
    return subprocess.run([sys.executable, "-m", "services.af3sim", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, FOLDDECK_DATA_DIR=str(ccd.data_dir())))  # the run's CCD index


def heavy(code: str) -> int:
    """Return the heavy atoms of a CCD component."""
    return ccd.get_ccd().heavy_atoms(code)


def fold(tmp_path: Path, fixture: str, *extra: str) -> tuple[Path, subprocess.CompletedProcess]:
    """Run a fixture at --speed=0 and return its job folder and the finished process."""
    proc = run_sim(f"--json_path={FIXTURES / fixture}", f"--output_dir={tmp_path}", "--speed=0", *extra)
    assert proc.returncode == 0, proc.stderr
    (job,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return job, proc


def atom_sites(cif_path: Path) -> list[dict]:
    """Return the _atom_site rows of an mmCIF read by gemmi (fails on an invalid file)."""
    block = gemmi.cif.read(str(cif_path)).sole_block()
    table = block.find("_atom_site.", ["label_asym_id", "auth_asym_id", "label_seq_id", "auth_seq_id",
                                       "label_comp_id", "B_iso_or_equiv", "group_PDB"])
    return [{"chain": r[0], "auth_chain": r[1], "seq": r[2], "auth_seq": int(r[3]), "comp": r[4], "b": float(r[5]),
             "group": r[6]} for r in table]


def check_job(job: Path, seeds: list[int], samples: int, chain_ids: list[str], tokens: int) -> dict:
    """Check a job folder against reference §5 and return the best sample's confidences."""
    name = job.name
    for seed in seeds:
        for i in range(samples):
            folder = job / f"seed-{seed}_sample-{i}"
            for suffix in ("model.cif", "confidences.json", "summary_confidences.json"):
                assert (folder / f"{name}_seed-{seed}_sample-{i}_{suffix}").is_file()
    conf_text = (job / f"{name}_confidences.json").read_text()
    assert conf_text.startswith('{\n  "atom_chain_ids": [') and conf_text.count("\n") == 7  # one array per line
    conf = json.loads(conf_text)
    assert list(conf) == ["atom_chain_ids", "atom_plddts", "contact_probs", "pae", "token_chain_ids",
                          "token_res_ids"]
    assert len(conf["token_chain_ids"]) == len(conf["token_res_ids"]) == tokens
    assert len(conf["pae"]) == tokens and all(len(row) == tokens for row in conf["pae"])
    assert len(conf["contact_probs"]) == tokens and all(len(row) == tokens for row in conf["contact_probs"])
    assert list(dict.fromkeys(conf["token_chain_ids"])) == chain_ids
    assert all(0 <= x <= 99.99 for x in conf["atom_plddts"])
    assert all(0 <= x <= 1 for row in conf["contact_probs"] for x in row)

    sites = atom_sites(job / f"{name}_model.cif")
    assert len(sites) == len(conf["atom_plddts"]) == len(conf["atom_chain_ids"])
    assert [s["chain"] for s in sites] == [s["auth_chain"] for s in sites] == conf["atom_chain_ids"]
    assert [s["b"] for s in sites] == conf["atom_plddts"]  # B-factor is the pLDDT
    st = gemmi.read_structure(str(job / f"{name}_model.cif"))
    assert st.name == name and [ch.name for ch in st[0]] == chain_ids

    summary_text = (job / f"{name}_summary_confidences.json").read_text()
    summary = json.loads(summary_text)
    assert summary_text == json.dumps(summary, sort_keys=True, indent=1)
    k = len(chain_ids)
    assert summary["chain_ids"] == conf["token_chain_ids"]  # per token, as AF3 v3.0.4+ writes it
    for key in ("chain_pair_iptm", "chain_pair_pae_min"):
        assert len(summary[key]) == k and all(len(row) == k for row in summary[key])
    assert len(summary["chain_ptm"]) == len(summary["chain_iptm"]) == k
    assert (summary["iptm"] is None) == (k == 1)

    with open(job / f"{name}_ranking_scores.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["seed", "sample", "ranking_score"]
    assert [(int(s), int(i)) for s, i, _ in rows[1:]] == [(s, i) for s in seeds for i in range(samples)]
    best_seed, best_i, best_score = max(rows[1:], key=lambda r: float(r[2]))
    assert summary["ranking_score"] == round(float(best_score), 2)
    best_dir = job / f"seed-{best_seed}_sample-{best_i}"
    assert (best_dir / f"{name}_seed-{best_seed}_sample-{best_i}_confidences.json").read_text() == conf_text

    data = json.loads((job / f"{name}_data.json").read_text())
    assert list(data) == ["dialect", "version", "name", "sequences", "modelSeeds", "bondedAtomPairs", "userCCD"]
    assert data["version"] == 4 and data["modelSeeds"] == seeds
    assert "SIMULATOR" in (job / "TERMS_OF_USE.md").read_text()
    assert "SIMULATOR" in (job / f"{name}_model.cif").read_text().splitlines()[0]
    return conf


# -- outputs for the three kinds of input ------------------------------------------------------


def test_protein_only_layout_and_shapes(tmp_path):
    job, proc = fold(tmp_path, "protein_only.json")
    assert job.name == "Single_protein_demo_01"
    conf = check_job(job, [1], 5, ["A"], tokens=32)
    assert conf["token_res_ids"] == list(range(1, 33))
    assert "SIMULATOR" in proc.stderr.splitlines()[0] and proc.stderr.startswith("W")
    assert "Got bucket size 128 for input with 32 tokens, resulting in 96 padded tokens." in proc.stderr


def test_protein_ligand_tokens_and_merged_entities(tmp_path):
    job, _ = fold(tmp_path, "protein_ligand.json", "--num_seeds=2", "--num_diffusion_samples=3")
    ptm_tokens = heavy("SEP") - 1  # in-chain phosphoserine, one token per heavy atom
    aspirin = heavy_atoms_in_smiles("CC(=O)Oc1ccccc1C(=O)O")
    tokens = 2 * (21 + ptm_tokens) + heavy("ATP") + 2 + aspirin
    conf = check_job(job, [7, 8], 3, ["A", "B", "C", "D", "E", "F"], tokens)
    a_res = [r for c, r in zip(conf["token_chain_ids"], conf["token_res_ids"], strict=True) if c == "A"]
    assert a_res.count(13) == ptm_tokens and a_res.count(12) == 1
    sites = atom_sites(job / f"{job.name}_model.cif")
    assert sum(1 for s in sites if s["chain"] == "A" and s["auth_seq"] == 13) == ptm_tokens  # atoms = tokens
    assert {s["comp"] for s in sites if s["chain"] == "F"} == {"LIG_F"}
    assert all(s["group"] == "HETATM" for s in sites if s["chain"] in "CDEF")
    data = json.loads((job / f"{job.name}_data.json").read_text())
    assert [next(iter(e.values()))["id"] for e in data["sequences"]] == [["A", "B"], "C", ["D", "E"], "F"]
    assert data["bondedAtomPairs"] == [[["A", 1, "N"], ["C", 1, "PG"]]]
    protein = data["sequences"][0]["protein"]
    assert protein["unpairedMsa"].startswith(">query\nMKTAYIAKQRQISFVKSHFSRQ\n")
    assert isinstance(protein["templates"], list)


def test_nucleic_acid_input(tmp_path):
    job, _ = fold(tmp_path, "nucleic.json", "--num_diffusion_samples=2")
    tokens = 11 + (heavy("PSU") - 1) + 8 + 8
    conf = check_job(job, [1, 2], 2, ["R", "S", "T"], tokens)
    sites = atom_sites(job / f"{job.name}_model.cif")
    assert {s["comp"] for s in sites if s["chain"] == "S"} == {"DG", "DA", "DC", "DT"}
    assert conf["token_res_ids"][:4] == [1, 2, 3, 4]
    data = json.loads((job / f"{job.name}_data.json").read_text())
    assert data["sequences"][1] == {"dna": {"id": "S", "sequence": "GACTTAGC", "modifications": []}}


def test_inference_off_writes_only_data_json_and_folder_collision(tmp_path):
    job, proc = fold(tmp_path, "protein_only.json", "--norun_inference")
    assert [p.name for p in job.iterdir()] == ["Single_protein_demo_01_data.json"]
    assert "Skipping model inference..." in proc.stdout and "Found local GPU devices" not in proc.stdout
    again = run_sim(f"--json_path={FIXTURES / 'protein_only.json'}", f"--output_dir={tmp_path}", "--speed=0",
                    "--run_inference=false")
    assert re.search(rf"Output will be written in {job}_\d{{8}}_\d{{6}} since {job} is non-empty\.", again.stdout)
    forced = run_sim(f"--json_path={FIXTURES / 'protein_only.json'}", f"--output_dir={tmp_path}", "--speed=0",
                     "--run_inference", "false", "--force_output_dir")
    assert f"Output will be written in {job}\n" in forced.stdout


def test_stage_lines_in_af3_order_and_streams(tmp_path):
    _, proc = fold(tmp_path, "protein_only.json")
    order = ["Running AlphaFold 3. Please note that standard AlphaFold 3 model parameters are",
             "Found local GPU devices: [SimulatedDevice(id=0)]", "Running fold job Single protein (demo 01)...",
             "Running data pipeline for chain A...", "Running data pipeline for chain A took",
             "Writing model input JSON to", "Featurising data with seed 1 took", "Running model inference with seed 1",
             "Extracting 5 inference samples with seed 1 took", "Writing outputs with 1 seed(s)...",
             "Fold job Single protein (demo 01) done", "Done running 1 fold jobs."]
    positions = [proc.stdout.index(line) for line in order]
    assert positions == sorted(positions)
    assert "use the model parameters.\n" in proc.stdout
    prefix = re.compile(r"^[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w.]+\.\w+:\d+\] ")
    assert all(prefix.match(line) for line in proc.stderr.splitlines())
    assert "Finished Jackhmmer (uniref90_2022_05.fa)" in proc.stderr
    assert "Getting protein MSAs for sequence MSTEKLRQAVEDALGHPNWYFTKSGEVLRIDM" in proc.stderr


# -- pacing -------------------------------------------------------------------------------------


def test_speed_zero_is_fast(tmp_path):
    start = time.monotonic()
    fold(tmp_path, "protein_only.json")
    assert time.monotonic() - start < 1.0


def test_speed_paces_the_realistic_timings(tmp_path):
    # ~270 s of modelled AF3 time for 32 residues (Jackhmmer dominant), at 400x -> ~0.7 s of sleeping.
    start = time.monotonic()
    _, proc = fold(tmp_path, "protein_only.json", "--speed=400")
    elapsed = time.monotonic() - start
    # sleep never returns early, so the lower bound holds on any box; the upper bound only rules out a run that
    # ignores --speed (that would take minutes) and leaves room for a loaded 2-core CI machine.
    assert 0.55 < elapsed < 10.0
    jackhmmer = [float(x) for x in re.findall(r"Finished Jackhmmer \(\S+\) in ([\d.]+) seconds", proc.stderr)]
    assert len(jackhmmer) == 4 and 0.3 < max(jackhmmer) < 0.8


# -- failures like AF3's -------------------------------------------------------------------------


def test_invalid_input_traceback_exact_text(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dialect": "alphafold3", "version": 1, "name": "x", "modelSeeds": [1],
                               "sequences": [{"protein": {"id": "a", "sequence": "MK"}}]}))
    proc = run_sim(f"--json_path={bad}", f"--output_dir={tmp_path / 'out'}", "--speed=0")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == f"ValueError: Failed to load input from {bad} (AlphaFold 3 dialect): IDs must be upper case " \
                        "letters, got: ['a']"
    assert "ValueError: IDs must be upper case letters, got: ['a']" in lines and CAUSE in lines
    assert "Traceback (most recent call last):" in lines
    assert not (tmp_path / "out" / "x").exists()


def test_impossible_ccd_code_fails_at_featurisation(tmp_path):
    bad = tmp_path / "ccd.json"
    bad.write_text(json.dumps({"dialect": "alphafold3", "version": 1, "name": "lig", "modelSeeds": [1],
                               "sequences": [{"protein": {"id": "A", "sequence": "MKV"}},
                                             {"ligand": {"id": "B", "ccdCodes": ["atp"]}}]}))
    proc = run_sim(f"--json_path={bad}", f"--output_dir={tmp_path}", "--speed=0")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "ValueError: atp not found in CCD and no SMILES string"
    assert "Featurising data with seed 1." in proc.stdout and (tmp_path / "lig" / "lig_data.json").exists()


def test_any_ccd_code_is_sized_and_named_as_the_ccd_does(tmp_path):
    # Ethanol (EOH) and selenomethionine (MSE) were outside the old hand-written table; the PTM sits at the C
    # terminus (keeps OXT) and the RNA modification at the 5' end (keeps OP3): simulator and count_tokens agree.
    doc = {"dialect": "alphafold3", "version": 1, "name": "rare", "modelSeeds": [1],
           "sequences": [{"protein": {"id": "A", "sequence": "MKVS", "modifications": [
                              {"ptmType": "SEP", "ptmPosition": 4}, {"ptmType": "MSE", "ptmPosition": 2}]}},
                         {"rna": {"id": "B", "sequence": "UAG", "modifications": [
                             {"modificationType": "PSU", "basePosition": 1}]}},
                         {"ligand": {"id": "C", "ccdCodes": ["EOH"]}}, {"ligand": {"id": "D", "ccdCodes": ["MG"]}}]}
    path = tmp_path / "rare.json"
    path.write_text(json.dumps(doc))
    proc = run_sim(f"--json_path={path}", f"--output_dir={tmp_path}", "--speed=0")
    assert proc.returncode == 0, proc.stderr
    tokens, approximate = count_tokens(doc)
    assert not approximate and tokens == 2 + (heavy("MSE") - 1) + heavy("SEP") + 2 + heavy("PSU") + heavy("EOH") + 1
    conf = json.loads((tmp_path / "rare" / "rare_confidences.json").read_text())
    assert len(conf["token_res_ids"]) == tokens and "approximate" not in proc.stderr
    block = gemmi.cif.read(str(tmp_path / "rare" / "rare_model.cif")).sole_block()
    names = [(r[0], r[1], r[2]) for r in block.find("_atom_site.", ["label_asym_id", "label_seq_id",
                                                                    "label_atom_id"])]
    assert [n for c, _, n in names if c == "C"] == list(ccd.get_ccd().get("EOH").atoms) == ["C1", "C2", "O"]
    assert [n for c, _, n in names if c == "D"] == ["MG"]
    mse = [a for a in ccd.get_ccd().get("MSE").atoms if a != "OXT"]  # in-chain: OXT left out, as AF3 does
    assert [n for c, seq, n in names if c == "A" and seq == "2"] == mse and "SE" in mse


def test_glycan_o1_is_dropped_unless_bonded_like_af3(tmp_path):
    doc = {"dialect": "alphafold3", "version": 1, "name": "glyc", "modelSeeds": [1],
           "sequences": [{"protein": {"id": "A", "sequence": "MNKT"}},
                         {"ligand": {"id": ["G", "H"], "ccdCodes": ["NAG"]}}],
           "bondedAtomPairs": [[["A", 2, "ND2"], ["G", 1, "C1"]], [["A", 3, "NZ"], ["H", 1, "O1"]]]}
    path = tmp_path / "glyc.json"
    path.write_text(json.dumps(doc))
    proc = run_sim(f"--json_path={path}", f"--output_dir={tmp_path}", "--speed=0")
    assert proc.returncode == 0, proc.stderr
    block = gemmi.cif.read(str(tmp_path / "glyc" / "glyc_model.cif")).sole_block()
    names = [(r[0], r[1]) for r in block.find("_atom_site.", ["label_asym_id", "label_atom_id"])]
    nag = list(ccd.get_ccd().get("NAG").atoms)
    assert [n for c, n in names if c == "G"] == [a for a in nag if a != "O1"]  # bonded at C1: O1 leaves
    assert [n for c, n in names if c == "H"] == nag  # bonded at O1: it stays
    assert count_tokens(doc) == (4 + 2 * len(nag) - 1, False)


def test_code_outside_the_ccd_fails_at_featurisation_like_af3(tmp_path):
    bad = tmp_path / "q.json"
    bad.write_text(json.dumps({"dialect": "alphafold3", "version": 1, "name": "q", "modelSeeds": [1],
                               "sequences": [{"protein": {"id": "A", "sequence": "MKV"}},
                                             {"ligand": {"id": "B", "ccdCodes": ["QQQ9"]}}]}))
    proc = run_sim(f"--json_path={bad}", f"--output_dir={tmp_path}", "--speed=0")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "ValueError: QQQ9 not found in CCD and no SMILES string"


def test_missing_name_is_an_unwrapped_key_error(tmp_path):
    bad = tmp_path / "noname.json"
    bad.write_text(json.dumps({"dialect": "alphafold3", "version": 1, "modelSeeds": [1],
                               "sequences": [{"protein": {"id": "A", "sequence": "MK"}}]}))
    proc = run_sim(f"--json_path={bad}", f"--output_dir={tmp_path}", "--speed=0")
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == "KeyError: 'name'"
    assert CAUSE not in proc.stderr


def test_fail_at_inference_prints_jax_oom(tmp_path):
    proc = run_sim(f"--json_path={FIXTURES / 'protein_only.json'}", f"--output_dir={tmp_path}", "--speed=0",
                   "--fail-at=inference")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying "
                           "to allocate ")
    assert "Traceback (most recent call last):" in proc.stderr
    assert "Running model inference with seed 1..." in proc.stdout
    assert not list(tmp_path.glob("*/*_model.cif"))


@pytest.mark.parametrize("stage", [s.value for s in Stage])
def test_fail_at_every_stage_exits_non_zero_with_traceback(tmp_path, stage):
    proc = run_sim(f"--json_path={FIXTURES / 'protein_only.json'}", f"--output_dir={tmp_path}", "--speed=0",
                   "--fail_at", stage)
    assert proc.returncode == 1 and "Traceback (most recent call last):" in proc.stderr
    assert "Done running" not in proc.stdout


def test_unknown_flag_and_missing_output_dir():
    proc = run_sim("--json_path=x.json", "--output_dir=/tmp/none", "--bogus=1")
    assert proc.returncode == 1
    assert proc.stderr.startswith("FATAL Flags parsing error: Unknown command line flag 'bogus'")
    proc = run_sim("--json_path=x.json")
    assert proc.returncode == 1 and "Flag --output_dir must have a value other than None." in proc.stderr


# -- the loader's AF3 texts, in process (fast) ---------------------------------------------------


def _job(**over):
    doc = {"dialect": "alphafold3", "version": 1, "name": "j", "modelSeeds": [1],
           "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}
    doc.update(over)
    return doc


@pytest.mark.parametrize("doc, message", [
    (_job(userCcd="x"), "Unexpected JSON keys in: userCcd"),
    ({"version": 1, "name": "j"}, "AlphaFold 3 input JSON must contain `dialect` and `version` fields."),
    (_job(dialect="alphafoldserver"), "AlphaFold 3 input JSON has unsupported dialect: alphafoldserver, expected "
                                      "alphafold3."),
    (_job(version="4"), "AlphaFold 3 input JSON has unsupported version: 4, expected one of (1, 2, 3, 4)."),
    (_job(modelSeeds=[]), "AlphaFold 3 input JSON must specify at least one rng seed in `modelSeeds`."),
    (_job(sequences=[{"protein": {"sequence": "MK"}}]), "AlphaFold 3 input JSON contains sequences with unset IDs."),
    (_job(sequences=[{"protein": {"id": "A", "sequence": "MK"}, "rna": {"id": "B"}}]),
     "Chain ['A'] has more than 1 sequence."),
    (_job(sequences=[{"protein": {"id": "A", "sequence": "M1K"}}]), 'Protein must contain only letters, got "M1K"'),
    (_job(sequences=[{"protein": {"id": "A", "sequence": "MK", "modifications": [{"ptmType": "SEP",
                                                                                  "ptmPosition": 3}]}}]),
     "Invalid protein modification index: [('SEP', 3)]"),
    (_job(sequences=[{"dna": {"id": "A", "sequence": "ACGT", "unpairedMsa": ""}}]), "Unexpected JSON keys in: "
                                                                                     "unpairedMsa"),
    (_job(sequences=[{"ligand": {"id": "L", "ccdCodes": ["EOH"], "smiles": "CCO"}}]),
     "Ligand cannot have both CCD code and SMILES set at the same time, got CCD: ['EOH'] and SMILES: CCO"),
    (_job(sequences=[{"ligand": {"id": "L", "ccdCodes": "ATP"}}]), "CCD codes must be a list of strings, got str "
                                                                    "instead: ATP"),
    (_job(sequences=[{"ligand": {"id": "L"}}]), "Unknown ligand type: {'id': 'L'}"),
    (_job(sequences=[{"protein": {"id": "A", "sequence": "MK"}}, {"ligand": {"id": "B", "smiles": "CCO"}}],
          bondedAtomPairs=[[["A", 1, "N"], ["B", 1, "C1"]]]),
     "Bond [['A', 1, 'N'], ['B', 1, 'C1']] involves an unsupported SMILES ligand B"),
    (_job(modelSeeds=[2**32]), "RNG seeds must be 32-bit unsigned integers, got [4294967296]"),
    (_job(name="***"), "Input name must be non-empty and contain at least one valid character (letters, numbers, "
                       "dots, dashes, underscores)."),
    (_job(sequences=[{"protein": {"id": ["A", "A"], "sequence": "MK"}}]),
     "Input JSON contains sequences with duplicate IDs."),
])
def test_loader_messages_match_af3(tmp_path, doc, message):
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError) as info:
        list(load_fold_inputs_from_path(path))
    assert str(info.value) == f"Failed to load input from {path} (AlphaFold 3 dialect): {message}"
    assert str(info.value.__cause__) == message


def test_loader_is_lenient_where_af3_is(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps(_job(modelSeeds=["5", 1.7], sequences=[{"protein": {"id": "Ab", "sequence": "MXK"}}])))
    (job,) = load_fold_inputs_from_path(path)
    assert job.rng_seeds == [5, 1] and job.chains[0].id == "Ab"


def test_server_dialect_ids_and_wrapping(tmp_path):
    path = tmp_path / "server.json"
    path.write_text(json.dumps([{"name": "s", "modelSeeds": ["3"], "sequences": [
        {"proteinChain": {"sequence": "MKV", "count": 2}}, {"ion": {"ion": "MG", "count": 2}}]},
        _job()]))
    jobs = load_fold_inputs_from_path(path)
    first = next(jobs)
    assert [c.id for c in first.chains] == ["A", "B", "C", "D"] and first.rng_seeds == [3]
    with pytest.raises(ValueError) as info:
        next(jobs)
    assert str(info.value) == (f"Failed to load fold job 1 from {path} (AlphaFold Server dialect): AlphaFold Server "
                               "input JSON has unsupported dialect: alphafold3, expected alphafoldserver.")


def test_flag_forms_like_absl():
    flags = parse_flags(["--json_path", "a.json", "--output_dir=o", "--norun_data_pipeline", "--save_embeddings",
                         "--db_dir=/x", "--db_dir", "/y", "--fail-at=msa", "--speed=0"])
    assert flags["json_path"] == "a.json" and flags["run_data_pipeline"] is False
    assert flags["save_embeddings"] is True and flags["db_dir"] == ["/x", "/y"]
    assert flags["fail_at"] == "msa" and flags["speed"] == 0.0 and flags["num_diffusion_samples"] == 5
    assert parse_flags(["--output_dir=o", "--force_output_dir=false"])["force_output_dir"] is False
    with pytest.raises(FlagsError, match="value should be one of <gpu|cpu|mps>"):
        parse_flags(["--output_dir=o", "--jax_backend=tpu"])


def test_input_dir_runs_every_json_sorted_including_server_lists(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "b.json").write_text((FIXTURES / "protein_only.json").read_text())
    (inputs / "a.json").write_text(json.dumps([{"name": "srv", "modelSeeds": [], "sequences": [
        {"proteinChain": {"sequence": "MKVL", "count": 2}}, {"ion": {"ion": "ZN", "count": 1}}]}]))
    proc = run_sim(f"--input_dir={inputs}", f"--output_dir={tmp_path / 'out'}", "--speed=0",
                   "--num_diffusion_samples=1", "--save_embeddings", "--save_distogram")
    assert proc.returncode == 0, proc.stderr
    assert f"Loading 1 fold jobs from {inputs / 'a.json'}" in proc.stderr
    assert proc.stdout.index("Running fold job srv...") < proc.stdout.index("Running fold job Single protein")
    assert "Done running 2 fold jobs." in proc.stdout
    srv = tmp_path / "out" / "srv"
    (seed,) = json.loads((srv / "srv_data.json").read_text())["modelSeeds"]  # one random seed, as AF3 draws
    conf = check_job(srv, [seed], 1, ["A", "B", "C"], tokens=4 + 4 + 1)
    assert conf["atom_chain_ids"][-1] == "C"
    numpy = pytest.importorskip("numpy")
    emb = numpy.load(srv / f"seed-{seed}_embeddings" / f"srv_seed-{seed}_embeddings.npz")
    assert emb["single_embeddings"].shape == (9, 384) and emb["pair_embeddings"].shape == (9, 9, 128)
    dist = numpy.load(srv / f"seed-{seed}_distogram" / f"srv_seed-{seed}_distogram.npz")
    assert dist["distogram"].shape == (9, 9, 64) and dist["distogram"].dtype == numpy.float16


def test_data_json_reruns_without_the_data_pipeline(tmp_path):
    (tmp_path / "first").mkdir()
    job, _ = fold(tmp_path / "first", "protein_only.json", "--norun_inference")
    data = job / f"{job.name}_data.json"
    proc = run_sim(f"--json_path={data}", f"--output_dir={tmp_path / 'second'}", "--speed=0", "--norun_data_pipeline",
                   "--num_diffusion_samples=1")
    assert proc.returncode == 0, proc.stderr
    assert "Skipping data pipeline..." in proc.stdout
    check_job(tmp_path / "second" / job.name, [1], 1, ["A"], tokens=32)
    bare = run_sim(f"--json_path={FIXTURES / 'protein_only.json'}", f"--output_dir={tmp_path / 'third'}",
                   "--speed=0", "--norun_data_pipeline")
    assert bare.returncode == 1 and bare.stderr.strip().endswith("ValueError: Protein chain 1 is missing unpaired MSA.")
