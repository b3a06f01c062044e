"""Screens (issue 26): members read with RDKit and the CCD, expanded into jobs, watched, cancelled, retried."""
from __future__ import annotations

import shutil
import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from services import jobs, screens
from services.jobs import JobState
from services.platform.errors import InvalidInput, JobStateError, LimitExceeded
from services.screens import ranking
from services.screens.archive import iter_screen_zip
from services.screens.members import ccd_members, mutation_members, sdf_members, smiles_members

ROOT = Path(__file__).resolve().parents[2]
PROTEIN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVV"
SHARED = {"modelSeeds": [1], "dialect": "alphafold3", "version": 1,
          "sequences": [{"protein": {"id": "A", "sequence": PROTEIN}}, {"ligand": {"id": "B", "ccdCodes": ["MG"]}}]}
# Aspirin and caffeine from PubChem, an SDF written by RDKit's own writer below (names on the first line).
SMILES = "CC(=O)Oc1ccccc1C(=O)O aspirin\nCn1cnc2c1c(=O)n(C)c(=O)n2C caffeine\n"


def _sdf() -> str:
    from rdkit import Chem

    out = []
    for smiles, name in (("CCO", "ethanol"), ("c1ccccc1O", "phenol")):
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        out.append(Chem.MolToMolBlock(mol) + "$$$$\n")
    return "".join(out)


def test_smiles_are_read_as_af3_reads_them_with_rdkit():
    members, problems = smiles_members(SMILES + "C1CC\nc1ccccc1 benzene\n# a comment\n")
    assert [m.label for m in members] == ["aspirin", "caffeine", "benzene"]
    # An unclosed ring: RDKit makes no molecule of it, and AF3's own words say so.
    assert problems == ["SMILES line 3: Unable to make RDKit Mol from SMILES: C1CC"]


def test_sdf_records_keep_their_names_and_a_bad_record_is_named():
    text = _sdf()
    broken = "broken\n  RDKit\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\nnot an atom line\nM  END\n$$$$\n"
    members, problems = sdf_members(text + broken)
    assert [(m.label, m.smiles) for m in members] == [("ethanol", "CCO"), ("phenol", "Oc1ccccc1")]
    assert problems and problems[0].startswith("SDF record 3:")


def test_ccd_items_and_point_mutations_are_checked_where_they_stand():
    members, problems = ccd_members("ATP, HEM\nNAG+NAG\nnot-a-code")
    assert [m.ccd_codes for m in members] == [("ATP",), ("HEM",), ("NAG", "NAG")]
    assert problems == ["CCD item 4: 'NOT-A-CODE' is not a CCD code (1 to 5 letters or digits, e.g. ATP)."]
    members, problems = mutation_members("K2A\nT3G, Y5F\nA2G\nK999A", PROTEIN)
    assert [m.value for m in members] == ["K2A", "T3G,Y5F"]
    assert problems == ["Mutation line 3: A2G: residue 2 of the chain is K, not A.",
                        "Mutation line 4: K999A: position 999 is outside the chain (1 to 70)."]


def _spec(**kw) -> screens.ScreenSpec:
    return screens.ScreenSpec(name=kw.pop("name", "pocket"), shared=kw.pop("shared", SHARED), **kw)


def test_a_screen_queues_one_job_per_member_with_the_shared_part(settings, conn, alice):
    screen = screens.create_screen(conn, settings, alice, _spec(smiles=SMILES, ccd="ATP", sdf=_sdf()), via="api")
    assert [m.label for m in screen.members] == ["aspirin", "caffeine", "ATP", "ethanol", "phenol"]
    assert screen.counts == {"queued": 5}
    first = jobs.input_file(settings, screen.members[0].job)
    af3 = __import__("json").loads(first.read_text())
    # The shared chains, then the member's ligand on the first free chain id.
    assert [next(iter(e)) for e in af3["sequences"]] == ["protein", "ligand", "ligand"]
    assert af3["sequences"][2]["ligand"] == {"id": "C", "smiles": "CC(=O)Oc1ccccc1C(=O)O"}
    assert screen.members[2].value == "ATP" and screen.members[0].chain_id == "C"
    assert screens.list_screens(conn, alice)[0][4] == {"queued": 5}


def test_an_unknown_ccd_code_is_refused_naming_the_member_and_nothing_is_queued(settings, conn, alice):
    with pytest.raises(InvalidInput) as err:
        screens.create_screen(conn, settings, alice, _spec(smiles=SMILES, ccd="ATP, ZZZZ9"))
    assert any(p.startswith("ZZZZ9: ") and "CCD" in p for p in err.value.problems), err.value.problems
    assert jobs.list_jobs(conn, alice)[1] == 0 and screens.list_screens(conn, alice) == []


def test_mutations_vary_the_chain_and_drop_its_wild_type_msa(settings, conn, alice):
    shared = {**SHARED, "sequences": [{"protein": {"id": "A", "sequence": PROTEIN, "unpairedMsa": f">q\n{PROTEIN}\n",
                                                   "pairedMsa": "", "templates": []}}]}
    screen = screens.create_screen(conn, settings, alice, _spec(shared=shared, mutations="K2A\nT3G+Y5F",
                                                                mutate_chain="A"))
    assert screen.kind == "mutations"
    af3 = __import__("json").loads(jobs.input_file(settings, screen.members[1].job).read_text())
    body = af3["sequences"][0]["protein"]
    assert body["sequence"][:5] == "MKGAF" and "unpairedMsa" not in body


def test_approval_weighs_the_gpu_time_of_all_members(settings, conn, alice):
    one = screens.create_screen(conn, settings, alice, _spec(smiles="CCO ethanol"))
    threshold = one.gpu_seconds * 2.5 / 3600  # one member is far below it, three together are above
    s = settings.with_overrides(approval_gpu_hours=threshold)
    small = screens.create_screen(conn, s, alice, _spec(smiles="CCO a\nCCN b"))
    big = screens.create_screen(conn, s, alice, _spec(smiles="CCO a\nCCN b\nCCC c"))
    assert {m.job.approval for m in small.members} == {None}
    assert {m.job.approval for m in big.members} == {"pending"}


def test_a_screen_over_the_queued_limit_is_refused_whole(settings, conn, alice):
    jobs.set_limits(conn, alice.id, jobs.UserLimits(max_queued=3))
    with pytest.raises(LimitExceeded):
        screens.create_screen(conn, settings, alice, _spec(smiles=SMILES + "CCO\nCCN\n"))
    assert jobs.list_jobs(conn, alice)[1] == 0


def test_the_same_idempotency_key_returns_the_first_screen(settings, conn, alice):
    a = screens.create_screen(conn, settings, alice, _spec(smiles=SMILES), idempotency_key="k1")
    b = screens.create_screen(conn, settings, alice, _spec(smiles=SMILES), idempotency_key="k1")
    assert a.id == b.id and jobs.list_jobs(conn, alice)[1] == 2


def test_cancel_and_retry_act_on_the_whole_screen_and_others_see_nothing(settings, conn, alice, bob):
    screen = screens.create_screen(conn, settings, alice, _spec(smiles=SMILES + "CCO ethanol\n"))
    conn.execute("UPDATE jobs SET state = 'succeeded', finished_at = ? WHERE id = ?",
                 (time.time(), screen.members[0].job.id))
    conn.commit()
    with pytest.raises(screens.ScreenNotFound):
        screens.cancel_screen(conn, bob, screen.id)
    after = screens.cancel_screen(conn, alice, screen.id)
    assert [m.job.state for m in after.members] == [JobState.SUCCEEDED, JobState.CANCELLED, JobState.CANCELLED]
    with pytest.raises(JobStateError):
        screens.cancel_screen(conn, alice, screen.id)
    again = screens.retry_screen(conn, settings, alice, screen.id)
    assert [m.job.state for m in again.members] == [JobState.SUCCEEDED, JobState.QUEUED, JobState.QUEUED]


def _finish_with(conn, job_id: int, folder: Path) -> None:
    conn.execute("UPDATE jobs SET state = 'succeeded', output_path = ?, finished_at = ? WHERE id = ?",
                 (str(folder), time.time(), job_id))
    conn.commit()


def test_ranked_table_reads_the_varied_chain_from_real_af3_outputs(settings, conn, alice, tmp_path):
    # Real AF3 runs stand in for two members' outputs: 7RCE (6 chains; its chain E is an ion) and a
    # two-chain binder. Every figure is checked against the files AF3 wrote, not against our reader.
    import json

    screen = screens.create_screen(conn, settings, alice, _spec(smiles=SMILES + "CCO ethanol\n"))
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(ROOT / "tests/fixtures/af3_outputs/local_v300_7rce_best_only", a)
    shutil.copytree(ROOT / "tests/fixtures/af3_outputs/local_v301_pdl1_binder", b)
    _finish_with(conn, screen.members[0].job.id, a)
    _finish_with(conn, screen.members[1].job.id, b)
    conn.execute("UPDATE screen_members SET chain_id = 'E' WHERE job_id = ?", (screen.members[0].job.id,))
    conn.execute("UPDATE screen_members SET chain_id = 'B' WHERE job_id = ?", (screen.members[1].job.id,))
    conn.commit()
    rows = ranking.ranked_rows(screens.get_screen(conn, alice, screen.id))
    summary = json.loads(next(a.rglob("*_summary_confidences.json")).read_text())
    conf = json.loads(next(p for p in a.rglob("*_confidences.json") if "summary" not in p.name).read_text())
    e = 4  # chain E is the fifth chain AF3 wrote
    binder = json.loads((b / "pdl1_binder/pdl1_binder_summary_confidences.json").read_text())
    assert [r.label for r in rows] == (["caffeine", "aspirin", "ethanol"]
                                       if binder["ranking_score"] > summary["ranking_score"]
                                       else ["aspirin", "caffeine", "ethanol"])
    row = next(r for r in rows if r.label == "aspirin")
    assert row.ranking_score == summary["ranking_score"] and row.chain_iptm == summary["chain_iptm"][e]
    pairs = [v for j in range(6) if j != e for v in (summary["chain_pair_iptm"][e][j], summary["chain_pair_iptm"][j][e])
             if v is not None]
    assert row.iptm_pair == max(pairs)
    paes = [v for j in range(6) if j != e for v in (summary["chain_pair_pae_min"][e][j],
                                                    summary["chain_pair_pae_min"][j][e]) if v is not None]
    assert row.pae_min == min(paes)
    atoms = [p for c, p in zip(conf["atom_chain_ids"], conf["atom_plddts"], strict=True) if c == "E"]
    assert row.plddt == round(sum(atoms) / len(atoms), 2)
    assert rows[-1].rank is None and rows[-1].state == "queued"
    text = ranking.rows_csv(rows)
    assert text.splitlines()[0].startswith("rank,label,value,job_id") and len(text.splitlines()) == 4
    archive = zipfile.ZipFile(BytesIO(b"".join(iter_screen_zip(screens.get_screen(conn, alice, screen.id)))))
    names = archive.namelist()
    assert "pocket/screen.csv" in names and archive.read("pocket/screen.csv").decode() == text
    assert any(n.startswith("pocket/00") and n.endswith("_model.cif") for n in names)
