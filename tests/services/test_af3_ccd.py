"""The whole CCD: index, lookup, search, exact sizes by AF3's rule, and the validation rules that use it."""
from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dash_app import builder as B
from dash_app import upload_state as U
from services.af3.chem import ccd
from services.af3.jobs import load_jobs
from services.af3.size import count_tokens, estimate_size
from services.af3.validate import validate
from services.platform.errors import SettingsError
from services.platform.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _formula_heavy(formula: str) -> int:
    """AF3's token rule for a free ligand, written independently: every non-hydrogen atom of the formula."""
    return sum(int(n or 1) for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula) if el not in ("H", "D"))


def _job(*seqs, **top) -> dict:
    return {"dialect": "alphafold3", "version": 1, "name": "t", "modelSeeds": [1], "sequences": list(seqs), **top}


def _errors(doc) -> dict[str, str]:
    return {p.path: p.message for p in validate(doc) if p.is_error}


USER_LIG = """data_LIG-1
_chem_comp.id LIG-1
_chem_comp.name 'my ligand'
_chem_comp.type non-polymer
_chem_comp.formula 'C2 O'
_chem_comp.mon_nstd_parent_comp_id ?
_chem_comp.pdbx_synonyms ?
_chem_comp.formula_weight 40.0
loop_
_chem_comp_atom.comp_id
_chem_comp_atom.atom_id
_chem_comp_atom.type_symbol
_chem_comp_atom.charge
_chem_comp_atom.pdbx_model_Cartn_x_ideal
_chem_comp_atom.pdbx_model_Cartn_y_ideal
_chem_comp_atom.pdbx_model_Cartn_z_ideal
LIG-1 C1 C 0 0.0 0.0 0.0
LIG-1 C2 C 0 1.5 0.0 0.0
LIG-1 O1 O 0 2.0 1.0 0.0
LIG-1 H1 H 0 -0.5 0.5 0.0
loop_
_chem_comp_bond.atom_id_1
_chem_comp_bond.atom_id_2
_chem_comp_bond.value_order
_chem_comp_bond.pdbx_aromatic_flag
C1 C2 SING N
C2 O1 SING N
"""


# -- index, lookup, search -------------------------------------------------------------------------


def test_index_is_the_whole_ccd_cached_under_the_data_dir(ccd_data_dir):
    index = ccd.get_ccd()
    assert len(index) > 45_000 and "biotite" in index.source and re.fullmatch(r"\d{4}-\d\d-\d\d", index.date)
    assert list((ccd_data_dir / "cache" / "ccd").glob("ccd-*.idx"))
    sep = index.get("SEP")
    assert sep.polymer_type == "protein" and sep.parent == "SER" and sep.one_letter == "S"
    assert sep.leaving == ("OXT",) and "OXT" in sep.atoms and sep.heavy_atoms == 11
    assert index.get("QQQ9") is None and "HEM" in index
    assert "CCD:" in ccd.ccd_info() and index.date in ccd.ccd_info()


def test_search_by_name_words_and_code():
    index = ccd.get_ccd()
    assert index.search("heme")[0].code == "HEM"
    assert index.search("adenosine triphosphate")[0].code == "ATP"
    assert index.search("ATP")[0].code == "ATP" and index.search("nad")[0].code == "NAD"
    hit = index.search("heme")[0]
    assert (hit.formula, hit.heavy_atoms) == ("C34 H32 Fe N4 O4", 43)
    ions = index.search("zinc", ions=True)
    assert ions[0].code == "ZN" and all(h.heavy_atoms == 1 for h in ions)
    assert "CL" in [h.code for h in index.search("ch", ions=True)]  # two letters reach ion names too
    assert "MG" in index.single_atom_codes() and "HOH" not in index.single_atom_codes()


def test_ccd_path_setting_wins(tmp_path, ccd_data_dir):
    cif = tmp_path / "components.cif.gz"
    block = USER_LIG.replace("LIG-1", "ZQ1").replace("_chem_comp.formula_weight 40.0",
                                                     "_chem_comp.formula_weight 40.0\n_chem_comp.pdbx_modified_date "
                                                     "2024-05-01")
    cif.write_bytes(gzip.compress(block.encode()))
    assert load_settings(environ={"FOLDDECK_AF3_CCD_PATH": str(cif)}, dotenv=None,
                         data_dir=tmp_path).af3_ccd_path == cif
    with pytest.raises(SettingsError, match="FOLDDECK_AF3_CCD_PATH=.*is not a file"):
        load_settings(environ={"FOLDDECK_AF3_CCD_PATH": str(tmp_path / "nope.cif")}, dotenv=None, data_dir=tmp_path)
    try:
        ccd.configure(tmp_path / "data", cif)
        index = ccd.get_ccd()
        assert len(index) == 1 and index.get("ZQ1").atoms == ("C1", "C2", "O1") and index.date == "2024-05-01"
        assert "components.cif.gz" in ccd.ccd_info()
        assert "sequences[0].ligand.ccdCodes[0]" in _errors(_job({"ligand": {"id": "A", "ccdCodes": ["ATP"]}}))
        ccd.configure(tmp_path / "data", tmp_path / "missing.cif")
        assert "No CCD available" in ccd.ccd_info() and "missing.cif" in ccd.ccd_info()
    finally:
        ccd.configure(ccd_data_dir)


# -- exact sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["EOH", "STI", "BEN", "TRS", "0G6", "PG4", "CLR", "SF4", "FES", "IOD", "CD"])
def test_ligand_tokens_outside_the_old_table_follow_afs_rule(code):
    comp = ccd.get_ccd().get(code)
    tokens, approximate = count_tokens(_job({"ligand": {"id": "L", "ccdCodes": [code]}}))
    assert (tokens, approximate) == (_formula_heavy(comp.formula), False)


def test_component_without_atoms_is_refused():
    errors = _errors(_job({"ligand": {"id": "L", "ccdCodes": ["UNL"]}}))  # "unknown ligand": no atoms to model
    assert "has no atoms" in errors["sequences[0].ligand.ccdCodes[0]"]


def test_modified_residues_lose_oxt_or_op3_inside_the_chain():
    mse = _formula_heavy(ccd.get_ccd().get("MSE").formula)  # selenomethionine, never in the old table
    mid = _job({"protein": {"id": "A", "sequence": "MMM", "modifications": [{"ptmType": "MSE", "ptmPosition": 2}]}})
    end = _job({"protein": {"id": "A", "sequence": "MMM", "modifications": [{"ptmType": "MSE", "ptmPosition": 3}]}})
    assert count_tokens(mid) == (2 + mse - 1, False) and count_tokens(end) == (2 + mse, False)
    one_ma = _formula_heavy(ccd.get_ccd().get("1MA").formula)  # 1-methyladenosine monophosphate (RNA)
    first = _job({"rna": {"id": "R", "sequence": "AGC", "modifications": [{"modificationType": "1MA",
                                                                            "basePosition": 1}]}})
    second = _job({"rna": {"id": "R", "sequence": "AGC", "modifications": [{"modificationType": "1MA",
                                                                             "basePosition": 2}]}})
    assert count_tokens(first) == (2 + one_ma, False) and count_tokens(second) == (2 + one_ma - 1, False)


def test_user_ccd_component_is_sized_exactly():
    est = estimate_size(_job({"ligand": {"id": "L", "ccdCodes": ["LIG-1"]}}, userCCD=USER_LIG))
    assert (est.tokens, est.approximate, est.warnings) == (3, False, [])


# -- validation ------------------------------------------------------------------------------------


def test_unknown_ligand_code_is_an_error_at_its_field():
    errs = _errors(_job({"protein": {"id": "A", "sequence": "MK"}}, {"ligand": {"id": "B", "ccdCodes": ["QQQ9"]}}))
    msg = errs["sequences[1].ligand.ccdCodes[0]"]
    assert "'QQQ9'" in msg and "SMILES" in msg and "userCCD" in msg
    assert _errors(_job({"ligand": {"id": "B", "ccdCodes": ["QQQ9"]}}, userCCD=USER_LIG.replace("LIG-1", "QQQ9")),
                   ) == {}


def test_unknown_code_in_upload_builder_and_server_dialect():
    jobs = load_jobs(_job({"ligand": {"id": "B", "ccdCodes": ["QQQ9"]}}))
    assert not jobs[0].valid and jobs[0].problems[0].path == "sequences[0].ligand.ccdCodes[0]"
    body = json.dumps(_job({"protein": {"id": "A", "sequence": "MK"}}, {"ligand": {"id": "B", "ccdCodes": ["QQQ9"]}}))
    [upload] = U.read_uploads(["q.json"], ["data:application/json;base64," + base64.b64encode(body.encode()).decode()],
                              10_000_000)
    assert upload.rows[0].table_row()["status"].startswith("sequences[1].ligand.ccdCodes[0]: 'QQQ9' is not in")
    state = B.update_entity(B.add_entity(B.empty_state(), "ligand", ccd="QQQ9"), 0, sequence="MK")
    ev = B.evaluate({**state, "name": "x"})
    where = {(B.locate(p.path).card, B.locate(p.path).field): p.message for p in ev.problems if p.is_error}
    assert "QQQ9" in where[(1, "ccd")] and not ev.valid
    server = [{"name": "s", "modelSeeds": [], "sequences": [{"ligand": {"ligand": "CCD_QQQ9", "count": 1}}]}]
    assert "QQQ9" in {p.path: p.message for p in validate(server)}["[0].sequences[0].ligand.ligand"]


def test_modification_must_be_a_residue_of_the_chain_type():
    doc = _job({"protein": {"id": "A", "sequence": "MKS", "modifications": [{"ptmType": "ATP", "ptmPosition": 2}]}},
               {"rna": {"id": "R", "sequence": "ACGU", "modifications": [{"modificationType": "SEP",
                                                                          "basePosition": 1}]}},
               {"dna": {"id": "D", "sequence": "ACGT", "modifications": [{"modificationType": "PSU",
                                                                          "basePosition": 1}]}},
               {"protein": {"id": "P", "sequence": "MKS", "modifications": [{"ptmType": "QQQ9", "ptmPosition": 1}]}})
    errs = _errors(doc)
    assert "not an amino-acid residue" in errs["sequences[0].protein.modifications[0].ptmType"]
    assert "not an RNA nucleotide" in errs["sequences[1].rna.modifications[0].modificationType"]
    assert "not a DNA nucleotide" in errs["sequences[2].dna.modifications[0].modificationType"]
    assert "QQQ9" in errs["sequences[3].protein.modifications[0].ptmType"]
    ok = _job({"protein": {"id": "A", "sequence": "MKS", "modifications": [{"ptmType": "MSE", "ptmPosition": 1}]}},
              {"dna": {"id": "D", "sequence": "ACGT", "modifications": [{"modificationType": "5CM",
                                                                         "basePosition": 2}]}})
    assert _errors(ok) == {}


def test_bond_atom_names_must_exist_in_the_component():
    doc = _job({"protein": {"id": "A", "sequence": "MCK"}}, {"ligand": {"id": "L", "ccdCodes": ["ATP"]}},
               {"ligand": {"id": "U", "ccdCodes": ["LIG-1"]}}, userCCD=USER_LIG,
               bondedAtomPairs=[[["A", 2, "SG"], ["L", 1, "PG"]], [["A", 2, "XX"], ["L", 1, "PG"]],
                                [["A", 3, "NZ"], ["L", 1, "C99"]], [["A", 1, "SD"], ["U", 1, "O1"]],
                                [["A", 1, "CE"], ["U", 1, "O7"]]])
    errs = _errors(doc)
    assert set(errs) == {"bondedAtomPairs[1][0][2]", "bondedAtomPairs[2][1][2]", "bondedAtomPairs[4][1][2]"}
    assert "CYS" in errs["bondedAtomPairs[1][0][2]"] and "'C99'" in errs["bondedAtomPairs[2][1][2]"]
    assert "LIG-1" in errs["bondedAtomPairs[4][1][2]"]


def test_user_ccd_rules_follow_af3():
    lig = {"ligand": {"id": "L", "ccdCodes": ["LIG-1"]}}
    assert _errors(_job(lig, userCCD=USER_LIG)) == {}
    assert "empty string" in _errors(_job({"ligand": {"id": "L", "ccdCodes": ["ATP"]}}, userCCD=""))["userCCD"]
    assert "userCCDPath" in _errors(_job(lig, userCCD="ligands/lig.cif"))["userCCD"]
    assert "not both" in _errors(_job(lig, version=3, userCCD=USER_LIG, userCCDPath="x.cif"))["userCCDPath"]
    missing = USER_LIG.replace("_chem_comp.formula_weight 40.0\n", "")
    assert "lacks 1 required field" in _errors(_job(lig, userCCD=missing))["userCCD"]
    assert "never closed" in _errors(_job(lig, userCCD=USER_LIG + ";\nopen text\n"))["userCCD"]
    warned = [p for p in validate(_job(lig, userCCD=USER_LIG.replace("_chem_comp.id LIG-1", "_chem_comp.id XYZ")))]
    assert [p.severity for p in warned] == ["warning"] and "data_ block" in warned[0].message
    broken = USER_LIG.replace("C2 O1 SING N", "C2 O9 SING X").replace("LIG-1 C1 C 0", "LIG-1 C1 C ?")
    [warning] = validate(_job(lig, userCCD=broken))
    assert warning.severity == "warning" and "'O9'" in warning.message and "Y or N" in warning.message
    assert "charge" in warning.message
    # A userCCDPath file may define anything: FoldDeck cannot see it, so codes are not refused.
    assert _errors(_job(lig, version=3, userCCDPath="/gpu/lig.cif")) == {}


def test_cli_validate_names_the_field_and_the_ccd(tmp_path, ccd_data_dir):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_job({"ligand": {"id": "B", "ccdCodes": ["QQQ9"]}})))
    out = subprocess.run([sys.executable, "-m", "services.af3", "validate", "--verbose", str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, FOLDDECK_DATA_DIR=str(ccd_data_dir)))
    assert out.returncode == 1
    assert out.stdout.startswith("CCD: wwPDB CCD bundled with biotite")
    assert f"{bad}: sequences[0].ligand.ccdCodes[0]: 'QQQ9' is not in" in out.stdout


def test_cli_reads_user_ccd_path_next_to_the_json_as_af3_does(tmp_path, ccd_data_dir):
    (tmp_path / "ligands").mkdir()
    (tmp_path / "ligands" / "lig.cif.gz").write_bytes(gzip.compress(USER_LIG.encode()))
    lig = {"ligand": {"id": "L", "ccdCodes": ["LIG-1"]}}
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_job({"protein": {"id": "A", "sequence": "MC"}}, lig, version=3,
                                    userCCDPath="ligands/lig.cif.gz",
                                    bondedAtomPairs=[[["A", 2, "SG"], ["L", 1, "C2"]]])))
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps(_job(lig, version=3, userCCDPath="nowhere.cif")))
    other = tmp_path / "other.json"  # the file is known, so a code it lacks is an error again
    other.write_text(json.dumps(_job({"ligand": {"id": "L", "ccdCodes": ["LIG-2"]}}, version=3,
                                     userCCDPath=str(tmp_path / "ligands" / "lig.cif.gz"))))
    out = subprocess.run([sys.executable, "-m", "services.af3", "validate", str(good), str(missing), str(other)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, FOLDDECK_DATA_DIR=str(ccd_data_dir)))
    assert out.returncode == 1
    assert f"{good}: OK (1 job)" in out.stdout
    assert f"{missing}: userCCDPath: userCCDPath 'nowhere.cif' does not exist" in out.stdout
    assert f"{other}: sequences[0].ligand.ccdCodes[0]: 'LIG-2' is not in" in out.stdout
    size = subprocess.run([sys.executable, "-m", "services.af3", "size", str(good)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, FOLDDECK_DATA_DIR=str(ccd_data_dir)))
    assert size.stdout.startswith("t: 5 tokens, bucket 128")  # 2 residues + LIG-1's 3 heavy atoms, exact


def test_cli_takes_the_ccd_path_from_dot_env(tmp_path):
    cif = tmp_path / "components.cif.gz"
    cif.write_bytes(gzip.compress(USER_LIG.replace("LIG-1", "ZQ1").encode()))
    (tmp_path / ".env").write_text(f"FOLDDECK_AF3_CCD_PATH={cif}\nFOLDDECK_DATA_DIR={tmp_path / 'data'}\n")
    job = tmp_path / "job.json"
    job.write_text(json.dumps(_job({"ligand": {"id": "A", "ccdCodes": ["ZQ1"]}},
                                   {"ligand": {"id": "B", "ccdCodes": ["ATP"]}})))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    out = subprocess.run([sys.executable, "-m", "services.af3", "validate", "--verbose", str(job)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=dict(env, PYTHONPATH=str(ROOT)))
    assert out.stdout.startswith("CCD: components.cif.gz (FOLDDECK_AF3_CCD_PATH)")
    assert "sequences[1].ligand.ccdCodes[0]: 'ATP' is not in" in out.stdout and "sequences[0]" not in out.stdout
    assert not (tmp_path / "data" / "secret_key").exists()


def test_glycan_ligands_lose_o1_unless_bonded_there():
    nag = ccd.get_ccd().get("NAG")  # 2-acetamido-2-deoxy-beta-D-glucopyranose, type "D-saccharide, beta linking"
    assert "O1" in nag.atoms and ccd.is_glycan("NAG") and not ccd.is_glycan("ATP")
    glycan = _job({"ligand": {"id": ["X", "Y"], "ccdCodes": ["NAG", "NAG"]}},
                  bondedAtomPairs=[[["X", 1, "O4"], ["X", 2, "C1"]]])
    assert count_tokens(glycan) == (4 * (nag.heavy_atoms - 1), False)  # AF3 drops O1 even from a standalone glycan
    glycan["bondedAtomPairs"].append([["X", 1, "O1"], ["Y", 2, "C1"]])  # copy X, residue 1 keeps its O1
    assert count_tokens(glycan) == (4 * (nag.heavy_atoms - 1) + 1, False)
    bog = ccd.get_ccd().get("BOG")  # octyl glucoside is a "D-saccharide" too: AF3 drops its O1 all the same
    assert count_tokens(_job({"ligand": {"id": "B", "ccdCodes": ["BOG"]}})) == (_formula_heavy(bog.formula) - 1, False)


def test_concurrent_workers_build_the_index_once(tmp_path):
    cif = tmp_path / "components.cif"
    cif.write_text(USER_LIG.replace("LIG-1", "ZQ1"))
    builds = tmp_path / "builds.log"
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from services.af3.chem import ccd
real = ccd.build_index
def slow(source):
    with open({str(builds)!r}, "a") as fh:
        fh.write("build\\n")
    time.sleep(1.0)  # long enough for the other worker to arrive while this one builds
    return real(source)
ccd.build_index = slow
ccd.configure(Path({str(tmp_path / "data")!r}), Path({str(cif)!r}))
print(sorted(ccd.get_ccd()._codes))
"""
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs == ["['ZQ1']\n"] * 3
    assert builds.read_text() == "build\n"
    [first] = (tmp_path / "data" / "cache" / "ccd").glob("ccd-*.idx")
    cif.write_text(USER_LIG.replace("LIG-1", "ZQ2"))  # a new version of the same file replaces the old index
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert again.stdout == "['ZQ2']\n" and builds.read_text() == "build\nbuild\n"
    assert [p.name for p in (tmp_path / "data" / "cache" / "ccd").glob("ccd-*.idx")] != [first.name]
    assert len(list((tmp_path / "data" / "cache" / "ccd").glob("ccd-*.idx"))) == 1


def test_every_alphafold_server_code_passes_the_new_rules():
    from services.af3 import rules as R

    index = ccd.get_ccd()
    for kind, codes in R.SERVER_MODS.items():
        assert all(index.get(c).polymer_type == kind for c in codes), kind
    assert all(c in index for c in R.SERVER_LIGANDS | R.SERVER_IONS)
    assert all(index.get(c).single_atom for c in R.SERVER_IONS)
