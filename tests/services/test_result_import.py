"""Importing results zips: a real AlphaFold Server download and a zipped AF3 folder become read-only jobs;
`../` members, links, zip bombs and non-AF3 zips are refused and leave nothing behind."""
from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from services import jobs, results
from services.jobs import JobState
from services.operations.result_import import IMPORTED_HOST, import_zip
from services.platform.errors import InvalidInput
from tests.conftest import ROOT

REAL = ROOT / "tests" / "fixtures" / "af3_outputs"


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def _folder_zip(folder, prefix: str = "") -> io.BytesIO:
    return _zip({prefix + p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()})


def _nothing_left(conn, settings) -> None:
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    assert not settings.jobs_dir.exists() or list(settings.jobs_dir.iterdir()) == []


def test_alphafold_server_zip_becomes_a_read_only_job(conn, settings, alice):
    server = REAL / "server_fold_5b8c" / "Example"
    members = {p.name: p.read_bytes() for p in server.iterdir()}
    request = [{"name": "5b8c complex", "modelSeeds": ["1234"], "sequences": [{"proteinChain": {"sequence": "MK",
                                                                                                "count": 1}}]}]
    members["fold_5b8c_job_request.json"] = json.dumps(request).encode()
    job = import_zip(conn, settings, alice, _zip(members), "fold_5b8c.zip")
    assert job.state is JobState.SUCCEEDED and job.host == IMPORTED_HOST and job.owner == "alice"
    assert job.name == "5b8c complex" and job.tokens == 370
    kept = json.loads(open(job.input_path).read())  # the server's request, in the AF3 dialect: Clone runs it here
    assert kept["dialect"] == "alphafold3" and kept["modelSeeds"] == [1234]
    assert kept["sequences"] == [{"protein": {"id": "A", "sequence": "MK"}}]
    clone = jobs.clone_job(conn, settings, alice, job.id)  # "run it here too"
    assert clone.state is JobState.QUEUED and clone.cloned_from == job.id
    res = results.read_results(job.output_path)
    assert res.contents.layout is results.Layout.SERVER and res.samples[0].iptm == 0.82
    assert res.samples[0].seed == 1234
    assert jobs.get_job(conn, alice, job.id).output_path == job.output_path
    assert not any(p.name.startswith(".import-") for p in settings.jobs_dir.iterdir())


def test_zipped_af3_output_folder_keeps_every_sample_and_its_input(conn, settings, alice):
    folder = REAL / "local_v301_pdl1_binder"
    job = import_zip(conn, settings, alice, _folder_zip(folder), "pdl1.zip")
    assert job.name == "pdl1_binder" and job.tokens == 209
    assert json.loads(open(job.input_path).read())["dialect"] == "alphafold3"
    res = results.read_results(job.output_path)
    assert res.contents.layout is results.Layout.AF3_V30 and len(res.samples) == 3


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:\\evil.txt"])
def test_members_outside_the_folder_are_refused(conn, settings, alice, name, tmp_path):
    members = {p.name: p.read_bytes() for p in (REAL / "server_fold_5b8c" / "Example").iterdir()}
    members[name] = b"x"
    with pytest.raises(InvalidInput, match="outside the folder"):
        import_zip(conn, settings, alice, _zip(members), "evil.zip")
    _nothing_left(conn, settings)
    assert not (settings.jobs_dir.parent / "evil.txt").exists()


def test_a_zip_bomb_is_refused_before_unpacking(conn, settings, alice):
    bomb = _zip({"fold_x_full_data_0.json": b"0" * (50 * 1024 * 1024)})
    assert len(bomb.getvalue()) < 200_000
    with pytest.raises(InvalidInput, match="zip bomb"):
        import_zip(conn, settings, alice, bomb, "bomb.zip")
    _nothing_left(conn, settings)


def test_sizes_over_the_limit_and_links_are_refused(conn, settings, alice):
    with pytest.raises(InvalidInput, match="unpacks to"):
        import_zip(conn, settings, alice, _zip({"a.bin": b"x" * 5000}, zipfile.ZIP_STORED), "big.zip", max_bytes=1000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.cif")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InvalidInput, match="link"):
        import_zip(conn, settings, alice, io.BytesIO(buf.getvalue()), "link.zip")
    _nothing_left(conn, settings)


def test_non_af3_zips_and_non_zips_get_a_clear_error(conn, settings, alice):
    with pytest.raises(InvalidInput, match="holds no AlphaFold 3 results"):
        import_zip(conn, settings, alice, _zip({"holiday/photo.jpg": b"\xff\xd8", "notes.txt": b"hi"}), "photos.zip")
    with pytest.raises(InvalidInput, match="is not a zip file"):
        import_zip(conn, settings, alice, io.BytesIO(b"{not a zip}"), "x.zip")
    _nothing_left(conn, settings)


def test_a_zip_of_the_whole_af3_output_folder_one_level_more_is_imported(conn, settings, alice):
    """`zip -r out.zip af_output/` holds af_output/<job>/...: one folder level above the job folder."""
    from services.operations.result_import import has_input

    folder = REAL / "local_v301_pdl1_binder"
    job = import_zip(conn, settings, alice, _folder_zip(folder, "af_output/"), "af_output.zip")
    contents = results.describe_folder(job.output_path)
    assert [s.key for s in results.sample_scores(contents)][:1] == ["seed-1_sample-0"] and job.tokens == 209
    assert has_input(job)  # pdl1_binder_data.json came along: Clone and Download input work


def test_results_imported_without_an_input_say_so(conn, settings, alice):
    from services.operations.result_import import has_input

    server = REAL / "server_fold_5b8c" / "Example"  # the repository kept no job request
    job = import_zip(conn, settings, alice, _zip({p.name: p.read_bytes() for p in server.iterdir()}), "f.zip")
    assert not has_input(job)
