"""Imports are bounded (issue 22, item 6): the compression ratio of every member is checked however small,
a model larger than the owner's tokens-per-job limit is refused (by its tokens, and by its bytes before it is
read), and a per-user disk quota refuses imports and submissions past it, naming the quota."""
from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import replace

import pytest

from services import jobs
from services.jobs import UserLimits
from services.jobs.rules import quota
from services.operations import retention
from services.operations.result_import import import_zip, model_tokens
from services.platform.errors import LimitExceeded, PermissionDenied
from tests.conftest import ROOT

SERVER = ROOT / "tests" / "fixtures" / "af3_outputs" / "server_fold_5b8c" / "Example"
MODEL = "fold_5b8c_model_0.cif"  # 370 tokens, as its confidences say


def _server_members() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in SERVER.iterdir()}


def _zip(members: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def _nothing_left(conn, settings) -> None:
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    assert not settings.jobs_dir.exists() or list(settings.jobs_dir.iterdir()) == []


def _copies(cif: bytes, n: int) -> bytes:
    """Return the model with its atoms repeated under `n` chain-id prefixes: n times the tokens."""
    head, _, rest = cif.partition(b"\nATOM")
    atoms = [line for line in (b"ATOM" + rest).splitlines(keepends=True) if line.startswith((b"ATOM", b"HETATM"))]
    tail = (b"ATOM" + rest)[sum(len(a) for a in atoms):]
    out = [head + b"\n"]
    for k in range(n):
        out += [line.replace(b" A ", f" {k}A ".encode(), 1).replace(b" B ", f" {k}B ".encode(), 1) for line in atoms]
    return b"".join(out) + tail


def test_many_small_bomb_members_are_refused(conn, settings, alice):
    """Members just under the old 1 MiB floor, each deflated ~1000x: refused, nothing written."""
    members = _server_members()
    members.update({f"pad/{i}.json": b"0" * 1_000_000 for i in range(20)})
    with pytest.raises(Exception, match="zip bomb"):
        import_zip(conn, settings, alice, _zip(members), "bomb.zip")
    _nothing_left(conn, settings)


def test_real_af3_members_pass_the_ratio_check(conn, settings, alice):
    folder = ROOT / "tests" / "fixtures" / "af3_outputs" / "local_v301_pdl1_binder"
    zipped = _zip({p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()})
    assert import_zip(conn, settings, alice, zipped, "pdl1.zip").tokens == 209


def test_model_token_count_follows_af3(tmp_path):
    for cif, tokens in ((SERVER / MODEL, 370), (ROOT / "tests/fixtures/af3_outputs/local_v300_7rce_best_only/"
                                                "protein-dna-ion_pdb_7rce/protein-dna-ion_pdb_7rce_model.cif", 330)):
        assert model_tokens(cif, 10_000) == tokens
    big = tmp_path / "big.cif"
    big.write_bytes(_copies((SERVER / MODEL).read_bytes(), 3))
    assert model_tokens(big, 10_000) == 3 * 370
    assert model_tokens(big, 500) == 501  # stops reading once over the limit


def test_a_model_over_the_token_limit_is_refused(conn, settings, alice):
    """Confidences claim 370 tokens; the model holds 15 x 370 = 5,550, over the default 5,000."""
    members = _server_members()
    members[MODEL] = _copies(members[MODEL], 15)
    with pytest.raises(LimitExceeded, match=f"The model {MODEL} has more than 5,000 tokens; your limit is 5,000"):
        import_zip(conn, settings, alice, _zip(members), "huge.zip")
    _nothing_left(conn, settings)


def test_the_owners_own_token_limit_applies_and_a_padded_model_is_refused_by_size(conn, settings, alice):
    jobs.set_limits(conn, alice.id, UserLimits(max_tokens=300))
    with pytest.raises(LimitExceeded, match="have 370 tokens; your limit is 300 tokens per job"):
        import_zip(conn, settings, alice, _zip(_server_members()), "fold.zip")
    jobs.set_limits(conn, alice.id, UserLimits(max_tokens=400))  # 370 tokens fit; 400 x 4 KB = 1.6 MB of mmCIF
    members = _server_members()
    members[MODEL] += b"".join(b"# " + secrets.token_hex(40).encode() + b"\n" for _ in range(25_000))
    with pytest.raises(LimitExceeded, match=f"The model {MODEL} is 2.2 MB, more than 1.6 MB for 400 tokens"):
        import_zip(conn, settings, alice, _zip(members), "padded.zip")
    _nothing_left(conn, settings)
    assert import_zip(conn, settings, alice, _zip(_server_members()), "fold.zip").tokens == 370


def test_the_disk_quota_refuses_an_import_that_would_cross_it(conn, settings, alice, admin):
    small = replace(settings, user_quota_mb=1)  # the server download unpacks to 1.3 MB
    with pytest.raises(LimitExceeded, match=r"This import unpacks to 1.3 MB; with the 0.0 MB your jobs use, that is "
                                            r"over your disk quota of 1.0 MB"):
        import_zip(conn, small, alice, _zip(_server_members()), "fold.zip")
    _nothing_left(conn, settings)
    quota.set_quota_mb(conn, admin, alice.id, 5)  # the admin's per-user quota wins over the setting
    import_zip(conn, small, alice, _zip(_server_members()), "fold.zip")
    assert quota.used_bytes(conn, small, alice.id) > 1024 * 1024
    with pytest.raises(LimitExceeded, match="over your disk quota of 5.0 MB"):
        for _ in range(4):
            import_zip(conn, small, alice, _zip(_server_members()), "fold.zip")
    with pytest.raises(PermissionDenied):
        quota.set_quota_mb(conn, alice, alice.id, 0)


def test_the_disk_quota_refuses_submissions_once_used_up(conn, settings, alice, admin):
    """Counted from the sampler's measurement plus the folders made since: no wait for the next hourly walk."""
    doc = json.loads((ROOT / "tests/fixtures/af3/protein_only.json").read_text())
    small = replace(settings, user_quota_mb=2)
    first = jobs.submit_document(conn, small, alice, doc)[0]
    (settings.jobs_dir / str(first.id) / "big.bin").write_bytes(b"x" * (1024 * 1024))
    retention.measure_disk(conn, settings)  # the sampler's hourly walk: 1 MB
    second = jobs.submit_document(conn, small, alice, doc)[0]
    (settings.jobs_dir / str(second.id) / "big.bin").write_bytes(b"x" * (1024 * 1024))  # made since: counted too
    with pytest.raises(LimitExceeded, match=r"Your jobs use 2.0 MB of disk; your quota is 2.0 MB. Nothing was"):
        jobs.submit_document(conn, small, alice, doc)
    quota.set_quota_mb(conn, admin, alice.id, 0)  # 0: no quota for alice
    jobs.submit_document(conn, small, alice, doc)
    quota.set_quota_mb(conn, admin, alice.id, None)  # back to the setting
    with pytest.raises(LimitExceeded, match="your quota is 2.0 MB"):
        jobs.submit_document(conn, small, alice, doc)
