"""The MSA and template cache (issue 16): keys, store from a real _data.json, reuse, scope, eviction, CLI."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.af3 import load_jobs, load_json_text
from services.msa import msa_cache
from services.msa.msa_cache import Reused, chain_key, search_keys
from services.operations import retention
from services.platform import defaults

ROOT = Path(__file__).resolve().parents[2]
# The real AF3 v3.0.1 _data.json (the same bytes as /work/shared/af3_outputs/local_v301_pdl1_binder/).
REAL_DATA = ROOT / "tests/fixtures/af3_outputs/local_v301_pdl1_binder/pdl1_binder/pdl1_binder_data.json"
SEARCHED = ("unpairedMsa", "unpairedMsaPath", "pairedMsa", "pairedMsaPath", "templates")
TEMPLATE = {"mmcif": "data_tmpl\n#\n", "queryIndices": [0, 1], "templateIndices": [3, 4]}


def af3(*sequences: dict) -> dict:
    return {"dialect": "alphafold3", "version": 3, "name": "t", "sequences": list(sequences), "modelSeeds": [1]}


def protein(ids, sequence: str, **fields) -> dict:
    return {"protein": {"id": ids, "sequence": sequence, **fields}}


def rna(ids, sequence: str, **fields) -> dict:
    return {"rna": {"id": ids, "sequence": sequence, **fields}}


def searched(doc: dict, msa_chars: int = 20) -> dict:
    """Return `doc` as a data pipeline would write it: every polymer chain with MSAs (and proteins templates)."""
    data = copy.deepcopy(doc)
    for entity in data["sequences"]:
        for kind, body in entity.items():
            if kind in ("protein", "rna"):
                body.setdefault("unpairedMsa", f">query\n{body['sequence']}\n" + "A" * msa_chars)
            if kind == "protein":
                body.setdefault("pairedMsa", f">query\n{body['sequence']}\n")
                body.setdefault("templates", [TEMPLATE])
    return data


def entries(conn, owner_id=None) -> list:
    sql = "SELECT * FROM msa_cache" + ("" if owner_id is None else " WHERE owner_id = ?") + " ORDER BY id"
    return conn.execute(sql, () if owner_id is None else (owner_id,)).fetchall()


@pytest.fixture
def ctx(settings) -> str:
    return msa_cache.search_context(settings, settings.af3_command)


@pytest.fixture
def real(tmp_path) -> tuple[dict, dict]:
    """Return (original, data): the real _data.json (copied into tmp) and it stripped of searched fields."""
    path = tmp_path / "pdl1_binder_data.json"
    shutil.copy(REAL_DATA, path)
    data = json.loads(path.read_text())
    original = copy.deepcopy(data)
    for entity in original["sequences"]:
        for body in entity.values():
            for field in SEARCHED:
                body.pop(field, None)
    return original, data


# -- keys ---------------------------------------------------------------------------------------------------

def test_search_keys_of_the_bundled_samples():
    keys = {}
    for path in sorted((ROOT / "data/samples").glob("*.json")):
        for job in load_jobs(load_json_text(path.read_text())):
            keys[job.name] = search_keys(job.af3)
    kinase = "GSHMSRKLSEIEFKKLGEGTFGVVYKAKNRETGEIVALKKIRLDTETEGVPSTAIREISLLKELNHPNIV"
    ubiquitin = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
    assert keys == {
        "Kinase fragment with ATP and Mg": [f"p:{chain_key('protein', kinase)}"],
        "Ubiquitin homodimer": [f"p:{chain_key('protein', ubiquitin)}"],  # a homomer: one key
        "DNA duplex and RNA hairpin": [f"r:{chain_key('rna', 'GGCGCUUCGGCGCC')}"],  # DNA is never searched
        "Server job 1: dimer with ATP": [f"p:{chain_key('protein', 'MSTEKLRQAVEDALGHPNWYFTKSGEVLRIDM')}"],
        "Server job 2: protein-DNA": [f"m:{chain_key('protein', 'MKTAYIAKQRQISFVKSHFSRQ')}"],  # no templates: []
    }


def test_search_keys_of_partial_inputs():
    p = chain_key("protein", "MKV")
    assert search_keys(af3(protein("A", "MKV"))) == [f"p:{p}"]
    assert search_keys(af3(protein("A", "MKV", templates=[]))) == [f"m:{p}"]
    assert search_keys(af3(protein("A", "MKV", unpairedMsa="", pairedMsa=""))) == [f"x:{p}"]
    assert search_keys(af3(protein("A", "MKV", unpairedMsa="", pairedMsa="", templates=[]))) == []
    assert search_keys(af3(protein("A", "MKV", unpairedMsaPath="/a.a3m", pairedMsa="", templates=[]))) == []
    assert search_keys(af3(rna("A", "GGCU", unpairedMsa=">q\nGGCU\n"))) == []
    assert search_keys(af3(rna("A", "GGCU"))) == [f"r:{chain_key('rna', 'GGCU')}"]
    assert search_keys(af3(protein(["A", "B"], "MKV"), protein("C", "MKV"))) == [f"p:{p}"]
    assert search_keys(af3({"dna": {"id": "A", "sequence": "ACGT"}}, {"ligand": {"id": "B", "ccdCodes": ["ATP"]}})) \
        == []


def test_search_context_counts_only_the_flags_that_change_a_search(settings):
    base = "run_alphafold.py --json_path={input} --output_dir={output}"
    ctx = msa_cache.search_context(settings, base + " --db_dir=/a --db_dir /b --max_template_date=2021-09-30")
    assert len(ctx) == 16 and int(ctx, 16) >= 0
    assert ctx == msa_cache.search_context(settings, base + " --max_template_date 2021-09-30 --db_dir /a --db_dir=/b")
    assert ctx == msa_cache.search_context(settings, "other.py --speed=5 --db_dir=/a --db_dir=/b "
                                                     "--max_template_date=2021-09-30 --jackhmmer_n_cpu=8")
    assert ctx != msa_cache.search_context(settings, base + " --db_dir=/a --max_template_date=2021-09-30")
    assert ctx != msa_cache.search_context(settings, base + " --db_dir=/a --db_dir /b --max_template_date=2020-01-01"
                                                            " --pdb_database_path=/x/mmcif")
    assert ctx != msa_cache.search_context(settings.with_overrides(af3_db_dir="/dbs"), base + " --db_dir=/a "
                                           "--db_dir /b --max_template_date=2021-09-30")
    sim = msa_cache.search_context(settings, settings.af3_command)
    assert sim == msa_cache.search_context(settings, settings.af3_command.replace("--speed=50", "--speed=1"))


# -- store and reuse ------------------------------------------------------------------------------------------

def test_store_from_a_real_data_json_then_reuse_it_with_another_ligand(conn, settings, alice, real, ctx):
    original, data = real
    assert msa_cache.store(conn, settings, alice.id, 12, original, data, ctx) == 2  # chains A and B
    rows = entries(conn)
    assert {(r["chain_type"], r["length"], r["has_templates"], r["source_job_id"]) for r in rows} \
        == {("protein", 94, 1, 12), ("protein", 115, 1, 12)}
    for row in rows:
        path = settings.data_dir / row["path"]
        assert path.parent == settings.data_dir / defaults.MSA_CACHE_DIR / str(alice.id)
        assert path.name == f"{row['key']}-{ctx}.json" and path.stat().st_size == row["bytes"]
    chain_b = data["sequences"][1]["protein"]
    assert len(chain_b["unpairedMsa"]) > 900_000

    new = af3(protein("A", chain_b["sequence"]), {"ligand": {"id": "L", "ccdCodes": ["HEM"]}})
    assert msa_cache.coverable(conn, settings, alice.id, search_keys(new), ctx) == set(search_keys(new))
    before = copy.deepcopy(new)
    injected, reused = msa_cache.prepare(conn, settings, alice.id, new, ctx)
    assert new == before  # the input given is not changed
    body = injected["sequences"][0]["protein"]
    for field in ("unpairedMsa", "pairedMsa", "templates"):
        assert body[field] == chain_b[field]
    assert injected["sequences"][1] == {"ligand": {"id": "L", "ccdCodes": ["HEM"]}}
    assert search_keys(injected) == []  # AF3 has nothing left to search
    assert reused == [Reused(["A"], 12, "protein")]
    used = conn.execute("SELECT hits FROM msa_cache WHERE key = ?", (chain_key("protein", chain_b["sequence"]),))
    assert used.fetchone()[0] == 1

    # The same job's data again (e.g. after its chains were injected): nothing new is written.
    assert msa_cache.store(conn, settings, alice.id, 13, original, data, ctx) == 0


def test_prepare_injects_by_need_and_keeps_the_users_templates(conn, settings, alice, ctx):
    doc = af3(protein(["A", "B"], "MKVL"), rna("C", "GGCU"), protein("D", "WWWW", templates=[]))
    data = searched(doc)
    assert msa_cache.store(conn, settings, alice.id, 5, doc, data, ctx) == 3
    own = dict(TEMPLATE, mmcif="data_mine\n")
    new = af3(protein(["A", "B"], "MKVL", templates=[own]), rna("X", "GGCU"), protein("D", "WWWW"))
    injected, reused = msa_cache.prepare(conn, settings, alice.id, new, ctx)
    a, c, d = (next(iter(e.values())) for e in injected["sequences"])
    assert a["templates"] == [own] and a["unpairedMsa"] == data["sequences"][0]["protein"]["unpairedMsa"]
    assert c["unpairedMsa"] == data["sequences"][1]["rna"]["unpairedMsa"] and "pairedMsa" not in c
    assert "unpairedMsa" not in d  # D's entry has no templates (the job gave []): it cannot serve "p"
    assert [(r.chains, r.job_id) for r in reused] == [(["A", "B"], 5), (["X"], 5)]
    assert msa_cache.prepare(conn, settings, alice.id, new, ctx, reuse=False) == (new, [])
    off = settings.with_overrides(msa_cache_mb=0)
    assert msa_cache.prepare(conn, off, alice.id, new, ctx) == (new, [])
    assert msa_cache.store(conn, off, alice.id, 6, new, searched(new), ctx) == 0


def test_a_broken_entry_file_is_dropped_and_the_chain_searched(conn, settings, alice, ctx):
    doc = af3(protein("A", "MKVL"), protein("B", "WWWW"))
    msa_cache.store(conn, settings, alice.id, 5, doc, searched(doc), ctx)
    broken, gone = entries(conn)
    (settings.data_dir / broken["path"]).write_text("{not json")
    (settings.data_dir / gone["path"]).unlink()
    injected, reused = msa_cache.prepare(conn, settings, alice.id, doc, ctx)
    assert injected == doc and reused == []
    assert entries(conn) == [] and not (settings.data_dir / broken["path"]).exists()


def test_user_scope_keeps_chains_to_their_owner_and_lab_scope_shares(conn, settings, alice, bob, ctx):
    doc = af3(protein("A", "MKVL"))
    msa_cache.store(conn, settings, alice.id, 7, doc, searched(doc), ctx)
    keys = search_keys(doc)
    assert msa_cache.coverable(conn, settings, bob.id, keys, ctx) == set()
    assert msa_cache.prepare(conn, settings, bob.id, doc, ctx) == (doc, [])
    lab = settings.with_overrides(msa_cache_scope="lab")
    assert msa_cache.coverable(conn, lab, bob.id, keys, ctx) == set(keys)
    injected, reused = msa_cache.prepare(conn, lab, bob.id, doc, ctx)
    assert reused == [Reused(["A"], 7, "protein")] and "unpairedMsa" in injected["sequences"][0]["protein"]
    # Bob's run of it stores no copy: alice's entry serves the lab.
    assert msa_cache.store(conn, lab, bob.id, 8, doc, searched(doc), ctx) == 0


def test_lab_scope_prefers_the_owners_own_entry(conn, settings, alice, bob, ctx):
    lab = settings.with_overrides(msa_cache_scope="lab")
    doc = af3(protein("A", "MKVL"))
    msa_cache.store(conn, settings, bob.id, 1, doc, searched(doc, 10), ctx)
    msa_cache.store(conn, settings, alice.id, 2, doc, searched(doc, 30), ctx)
    msa_cache.prepare(conn, lab, alice.id, doc, ctx)  # alice's is now the most recently used
    assert msa_cache.prepare(conn, lab, bob.id, doc, ctx)[1][0].job_id == 1


def test_coverable_by_need_and_context(conn, settings, alice, ctx):
    x, y = chain_key("protein", "MKVL"), chain_key("protein", "WWWW")
    r = chain_key("rna", "GGCU")
    msa_only = af3(protein("A", "MKVL", templates=[]))  # stored without templates
    full = af3(protein("A", "WWWW"), rna("B", "GGCU"))
    msa_cache.store(conn, settings, alice.id, 1, msa_only, searched(msa_only), ctx)
    msa_cache.store(conn, settings, alice.id, 2, full, searched(full), ctx)
    keys = [f"p:{x}", f"m:{x}", f"p:{y}", f"m:{y}", f"r:{r}", f"x:{y}", f"p:{chain_key('protein', 'AAAA')}"]
    assert msa_cache.coverable(conn, settings, alice.id, keys, ctx) == {f"m:{x}", f"p:{y}", f"m:{y}", f"r:{r}"}
    other = msa_cache.search_context(settings, settings.af3_command + " --db_dir=/elsewhere")
    assert msa_cache.coverable(conn, settings, alice.id, keys, other) == set()
    assert msa_cache.coverable(conn, settings.with_overrides(msa_cache_mb=0), alice.id, keys, ctx) == set()

    # A search with templates replaces the MSA-only entry; an MSA-only one never replaces it back.
    plain = af3(protein("A", "MKVL"))
    assert msa_cache.store(conn, settings, alice.id, 3, plain, searched(plain), ctx) == 1
    assert msa_cache.coverable(conn, settings, alice.id, [f"p:{x}"], ctx) == {f"p:{x}"}
    assert msa_cache.store(conn, settings, alice.id, 4, msa_only, searched(msa_only), ctx) == 0
    row = conn.execute("SELECT has_templates, source_job_id FROM msa_cache WHERE key = ?", (x,)).fetchone()
    assert tuple(row) == (1, 3)
    file = json.loads((settings.data_dir / entries(conn)[0]["path"]).read_text())
    assert file["templates"] == [TEMPLATE]


def test_store_skips_chains_missing_from_the_data(conn, settings, alice, ctx):
    doc = af3(protein("A", "MKVL"), protein("B", "WWWW"), rna("C", "GGCU"))
    data = searched(doc)
    del data["sequences"][0]["protein"]["templates"]
    data["sequences"][1]["protein"]["sequence"] = "WWWK"  # not the chain the job asked for
    data["sequences"][2]["rna"]["unpairedMsaPath"] = data["sequences"][2]["rna"].pop("unpairedMsa")
    assert msa_cache.store(conn, settings, alice.id, 1, doc, data, ctx) == 0


# -- size, clearing, deleting a user ---------------------------------------------------------------------------

def test_eviction_keeps_the_limit_and_drops_the_least_recently_used(conn, settings, alice, ctx):
    small = settings.with_overrides(msa_cache_mb=1)
    docs = [af3(protein("A", seq)) for seq in ("MKVL", "WWWW", "GGGG")]
    for i, doc in enumerate(docs[:2]):
        assert msa_cache.store(conn, small, alice.id, i, doc, searched(doc, 400_000), ctx) == 1
    first, second = entries(conn)
    assert first["bytes"] > 400_000
    msa_cache.prepare(conn, small, alice.id, docs[0], ctx)  # the first is now used more recently
    assert msa_cache.store(conn, small, alice.id, 2, docs[2], searched(docs[2], 400_000), ctx) == 1
    left = entries(conn)
    assert [r["id"] for r in left] == [first["id"], left[1]["id"]] and left[1]["source_job_id"] == 2
    assert sum(r["bytes"] for r in left) <= 1024 * 1024
    assert not (settings.data_dir / second["path"]).exists()
    assert all((settings.data_dir / r["path"]).exists() for r in left)
    assert msa_cache.stats(conn, small) == msa_cache.CacheStats(2, sum(r["bytes"] for r in left), 1, 1,
                                                                1024 * 1024, "user")


def test_clear_one_owner_then_all(conn, settings, alice, bob, ctx):
    doc = af3(protein("A", "MKVL"), rna("B", "GGCU"))
    for owner in (alice, bob):
        msa_cache.store(conn, settings, owner.id, 1, doc, searched(doc), ctx)
    root = settings.data_dir / defaults.MSA_CACHE_DIR
    assert msa_cache.clear(conn, settings, bob.id) == 2
    assert not (root / str(bob.id)).exists() and entries(conn, bob.id) == []
    assert len(entries(conn, alice.id)) == 2 and len(list((root / str(alice.id)).iterdir())) == 2
    assert msa_cache.clear(conn, settings) == 2
    assert entries(conn) == [] and not root.exists()


def test_deleting_my_data_removes_my_cache_files(conn, settings, alice, bob, ctx):
    doc = af3(protein("A", "MKVL"))
    for owner in (alice, bob):
        msa_cache.store(conn, settings, owner.id, 1, doc, searched(doc), ctx)
    root = settings.data_dir / defaults.MSA_CACHE_DIR
    retention.erase_user_data(conn, settings, alice, "alice")
    assert entries(conn, alice.id) == [] and not (root / str(alice.id)).exists()
    assert len(entries(conn, bob.id)) == 1 and (root / str(bob.id)).exists()


def test_cli_stats_and_clear(conn, settings, alice, bob, ctx, tmp_path):
    doc = af3(protein("A", "MKVL"))
    for owner in (alice, bob):
        msa_cache.store(conn, settings, owner.id, 1, doc, searched(doc), ctx)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDDECK_")}
    env.update(FOLDDECK_DATA_DIR=str(settings.data_dir), PYTHONPATH=str(ROOT))

    def cli(*args):  # run from tmp_path: no stray .env is read
        return subprocess.run([sys.executable, "-m", "services.msa.msa_cache", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    out = cli("stats")
    assert out.returncode == 0, out.stderr
    assert "entries  2 (2 users, 0 reuses)" in out.stdout and "limit    2,048.0 MB" in out.stdout
    assert "scope    user" in out.stdout
    out = cli("clear", "--user", "alice")
    assert out.returncode == 0 and out.stdout.strip() == "Removed 1 cached chain of alice."
    assert entries(conn, alice.id) == [] and len(entries(conn, bob.id)) == 1
    assert cli("clear", "--user", "nobody").returncode == 1
    out = cli("clear")
    assert out.returncode == 0 and out.stdout.strip() == "Removed 1 cached chain."
    assert entries(conn) == []
