"""File paths in AF3 input (issue 22): a path may only name a file sent with the job or one inside a
shared input folder. Tried as a second user (bob) against alice's input, the server's secret key and
system files, for every path field and every way to reach them (absolute, `../`, a symlink, through
the shared folder); and on the worker for rows written before the rule, retries and clones.

The oracle is a canary text planted in each file: it must never come back in bob's outputs, log,
error or refusal."""
from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import pytest

from services import jobs
from services.af3 import input_files
from services.jobs import JobState, joblog
from services.platform import db
from services.platform.errors import InvalidInput
from services.running.worker import Worker

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
SEQ = "MKVLAAGIVALLLAAGCSS"
CANARY = "CANARY-7f3a-secret"
MSA = f">query\n{SEQ}\n>hit1\n{SEQ[:-2]}AA\n"
TEMPLATE = ("data_tpl\n_entry.id tpl\nloop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n"
            "_atom_site.label_atom_id\n_atom_site.label_alt_id\n_atom_site.label_comp_id\n"
            "_atom_site.label_asym_id\n_atom_site.label_entity_id\n_atom_site.label_seq_id\n"
            "_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n"
            "ATOM 1 C CA . MET A 1 1 0.0 0.0 0.0\n")
FIELDS = ("unpairedMsaPath", "pairedMsaPath", "mmcifPath", "userCCDPath")


def doc(field: str, value: str, name: str = "files") -> dict:
    """An AF3 input whose `field` names `value` (the other MSA fields inline, as AF3 requires)."""
    protein = {"id": "A", "sequence": SEQ, "unpairedMsa": MSA, "pairedMsa": "", "templates": []}
    out = {"name": name, "modelSeeds": [1], "dialect": "alphafold3", "version": 3, "sequences": [{"protein": protein}]}
    if field in ("unpairedMsaPath", "pairedMsaPath"):
        del protein[field.removesuffix("Path")]
        protein[field] = value
    elif field == "mmcifPath":
        protein["templates"] = [{"mmcifPath": value, "queryIndices": [0], "templateIndices": [0]}]
    else:
        out["userCCDPath"] = value
    return out


@pytest.fixture
def victims(settings, conn, alice, tmp_path):
    """Alice's job input and the server's secret key, each holding the canary, and a shared folder."""
    mine = jobs.submit(conn, settings, alice, {**doc("unpairedMsaPath", "x"), "sequences": [
        {"protein": {"id": "A", "sequence": SEQ, "description": CANARY}}], "version": 4})
    jobs.cancel_job(conn, alice, mine.id)  # only its input matters; the workers below run bob's jobs
    (settings.data_dir / "secret_key").write_text(CANARY)
    shared = tmp_path / "shared"
    (shared / "msas").mkdir(parents=True)
    (shared / "msas" / "ok.a3m").write_text(MSA)
    (shared / "msas" / "escape.a3m").symlink_to(settings.data_dir / "secret_key")
    return {"alice_input": Path(mine.input_path), "secret": settings.data_dir / "secret_key", "shared": shared,
            "alice_job": mine}


def attacks(settings, v) -> dict[str, str]:
    aid = v["alice_job"].id
    return {"absolute alice input": str(v["alice_input"]),
            "absolute secret key": str(v["secret"]),
            "/etc/passwd": "/etc/passwd",
            "/proc/self/environ": "/proc/self/environ",
            "relative ../": f"../{aid}/input.json",
            "files/../..": f"files/../../{aid}/input.json",
            "shared/..": str(v["shared"] / ".." / "data" / "secret_key"),
            "symlink in shared": str(v["shared"] / "msas" / "escape.a3m")}


def test_every_field_and_every_path_form_is_refused_at_submit_naming_the_field(settings, conn, bob, victims):
    s = settings.with_overrides(shared_input_dirs=(victims["shared"],), submit_rate_per_minute=0)
    before = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    for field in FIELDS:
        for how, value in attacks(s, victims).items():
            with pytest.raises(InvalidInput) as err:
                jobs.submit_document(conn, s, bob, doc(field, value), accept_terms=True, via="api")
            text = " ".join(err.value.problems)
            assert field in text and "is not a file of this job" in text, (field, how, text)
            assert CANARY not in text and CANARY not in str(err.value)
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == before


def _everything_bob_sees(settings, conn, job) -> str:
    row = conn.execute("SELECT error FROM jobs WHERE id = ?", (job.id,)).fetchone()
    text = "\n".join(line.text for line in joblog.read_log(conn, job.id, limit=100_000)) + (row[0] or "")
    for path in (settings.jobs_dir / str(job.id)).rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != "input.json":
            text += path.read_bytes().decode("utf-8", "replace")
    return text


@pytest.mark.parametrize("field", FIELDS)
def test_a_row_written_before_the_rule_fails_on_the_worker_and_leaks_nothing(field, settings, conn, bob, victims):
    """The input on disk names the secret key (as rows queued before the fix could): the worker
    checks again where the file would be read, fails the job naming the field, and AF3 never runs.
    A retry fails the same way; a clone is refused at submit."""
    s = settings.with_overrides(af3_command=SIM)
    job = jobs.submit(conn, s, bob, doc("unpairedMsaPath", "ok.a3m"), files={"ok.a3m": MSA.encode()})
    Path(job.input_path).write_text(json.dumps(doc(field, str(victims["secret"]))))
    Worker(s, concurrency=1).run(once=True)
    failed = jobs.get_job(conn, bob, job.id)
    assert failed.state is JobState.FAILED and field in failed.error and "is not a file of this job" in failed.error
    assert CANARY not in _everything_bob_sees(s, conn, failed)
    assert not list((s.jobs_dir / str(job.id)).glob("attempt-*/*/*_data.json"))
    jobs.retry_job(conn, bob, job.id)
    Worker(s, concurrency=1).run(once=True)
    again = jobs.get_job(conn, bob, job.id)
    assert again.state is JobState.FAILED and field in again.error
    assert CANARY not in _everything_bob_sees(s, conn, again)
    with pytest.raises(InvalidInput):
        jobs.clone_job(conn, s, bob, job.id)


def test_a_symlink_planted_in_the_jobs_files_is_refused_on_the_worker(settings, conn, bob, victims):
    s = settings.with_overrides(af3_command=SIM)
    job = jobs.submit(conn, s, bob, doc("unpairedMsaPath", "a.a3m"), files={"a.a3m": MSA.encode()})
    planted = s.jobs_dir / str(job.id) / "files" / "a.a3m"
    planted.unlink()
    planted.symlink_to(victims["alice_input"])
    Worker(s, concurrency=1).run(once=True)
    failed = jobs.get_job(conn, bob, job.id)
    assert failed.state is JobState.FAILED and "unpairedMsaPath" in failed.error
    assert CANARY not in _everything_bob_sees(s, conn, failed)


def test_files_sent_with_the_job_reach_af3_inline_and_a_clone_carries_them(settings, conn, bob):
    """An MSA sent with the job (gzip, as labs keep them), matched by its file name wherever the
    user's JSON said it lived: the job runs, and AF3 gets the text, not a path."""
    s = settings.with_overrides(af3_command=SIM)
    sent = {"a.a3m.gz": gzip.compress(MSA.encode())}
    job = jobs.submit(conn, s, bob, doc("unpairedMsaPath", "/home/bob/msas/a.a3m.gz"), files=sent)
    assert job.read_input()["sequences"][0]["protein"]["unpairedMsaPath"] == "files/a.a3m.gz"
    Worker(s, concurrency=1).run(once=True)
    done = jobs.get_job(conn, bob, job.id)
    assert done.state is JobState.SUCCEEDED, done.error
    ran = json.loads(next((s.jobs_dir / str(job.id)).glob("input-attempt-*.json")).read_text())
    assert ran["sequences"][0]["protein"]["unpairedMsa"] == MSA and "unpairedMsaPath" not in ran["sequences"][0][
        "protein"]
    clone = jobs.clone_job(conn, s, bob, job.id)
    assert (s.jobs_dir / str(clone.id) / "files" / "a.a3m.gz").read_bytes() == sent["a.a3m.gz"]


def test_a_file_in_the_shared_folder_is_read_and_nothing_else_there_escapes(settings, conn, bob, victims):
    s = settings.with_overrides(af3_command=SIM, shared_input_dirs=(victims["shared"],))
    job = jobs.submit(conn, s, bob, doc("unpairedMsaPath", str(victims["shared"] / "msas" / "ok.a3m")))
    Worker(s, concurrency=1).run(once=True)
    assert jobs.get_job(conn, bob, job.id).state is JobState.SUCCEEDED
    # without the setting the same path is refused
    with pytest.raises(InvalidInput):
        jobs.submit(conn, settings, bob, doc("unpairedMsaPath", str(victims["shared"] / "msas" / "ok.a3m")))


def test_bind_refuses_zstd_and_unnamed_uploads_are_not_kept(settings, conn, bob):
    with pytest.raises(InvalidInput) as err:
        jobs.submit(conn, settings, bob, doc("unpairedMsaPath", "a.a3m.zst"),
                    files={"a.a3m.zst": b"\x28\xb5\x2f\xfd" + b"x" * 10})
    assert "zstd" in " ".join(err.value.problems)
    job = jobs.submit(conn, settings, bob, doc("unpairedMsaPath", "a.a3m"),
                      files={"a.a3m": MSA.encode(), "unused.txt": b"x"})
    assert sorted(os.listdir(settings.jobs_dir / str(job.id) / "files")) == ["a.a3m"]
    assert input_files.safe_name("../x") is None and input_files.safe_name("msas/a.a3m") == "msas/a.a3m"
    assert input_files.safe_name("/etc/passwd") is None
    db.close_all()


def test_the_command_line_sends_files_next_to_the_json_and_refuses_the_rest(settings, conn, bob, victims, tmp_path):
    from tests.services.test_jobs_cli import cli

    folder = tmp_path / "mine"
    (folder / "msas").mkdir(parents=True)
    (folder / "msas" / "a.a3m").write_text(MSA)
    (folder / "ok.json").write_text(json.dumps(doc("unpairedMsaPath", "msas/a.a3m")))
    out = cli(settings, "--user", "bob", "submit", str(folder / "ok.json"), "--accept-terms")
    assert out.returncode == 0, out.stderr
    job = jobs.list_jobs(conn, bob, limit=5)[0][0]
    assert (settings.jobs_dir / str(job.id) / "files" / "msas" / "a.a3m").read_text() == MSA
    (folder / "link.a3m").symlink_to(victims["secret"])  # a symlink next to the JSON pointing out of it
    alices = f"../../data/jobs/{victims['alice_job'].id}/input.json"
    for value in (str(victims["secret"]), "../../data/secret_key", "link.a3m", alices):
        (folder / "bad.json").write_text(json.dumps(doc("userCCDPath", value)))
        out = cli(settings, "--user", "bob", "submit", str(folder / "bad.json"), "--accept-terms")
        assert out.returncode == 1 and "userCCDPath" in out.stderr and CANARY not in out.stderr + out.stdout, value
    assert jobs.list_jobs(conn, bob, limit=5)[1] == 1


def test_an_inline_text_that_is_a_path_is_refused_whether_the_file_exists_or_not(settings, conn, bob, victims):
    """AF3 answers "Set the ... path using the ...Path field" only when the file exists: an oracle for
    the server's files. FoldDeck refuses every such one-line value alike, at submit and on the worker."""
    s = settings.with_overrides(af3_command=SIM, submit_rate_per_minute=0)
    answers = set()
    for value in (str(victims["secret"]), str(victims["secret"]) + ".nope"):
        with pytest.raises(InvalidInput) as err:
            jobs.submit(conn, s, bob, {**doc("unpairedMsaPath", "x"), "sequences": [{"protein": {
                "id": "A", "sequence": SEQ, "unpairedMsa": value, "pairedMsa": "", "templates": []}}]})
        answers.add(err.value.problems[0].replace(value, "<value>"))
    assert len(answers) == 1 and "looks like a file path" in answers.pop()
    job = jobs.submit(conn, s, bob, doc("unpairedMsaPath", "a.a3m"), files={"a.a3m": str(victims["secret"]).encode()})
    Worker(s, concurrency=1).run(once=True)
    failed = jobs.get_job(conn, bob, job.id)
    assert failed.state is JobState.FAILED and "looks like a file path" in failed.error
