"""Import results made elsewhere (an AlphaFold Server download, a zipped AF3 output folder) as a
read-only job: state `succeeded`, host `imported`, the same results view as a job run here.

A zip is checked before and while it is unpacked: member names that leave the folder, links,
too many files, too many bytes, a compression ratio only a zip bomb has (every member, however
small), more than the owner's disk quota leaves, and models larger than the owner's tokens-per-job
limit (a 155 MB model once took a minute and 4 GB of web-worker memory per view) are refused with
a clear message, and nothing is left behind — neither files nor a job row.
"""
from __future__ import annotations

import json
import shutil
import stat
import time
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from services import results
from services.af3 import server_to_af3
from services.jobs import Job, effective_limits, get_job
from services.jobs.rules import quota
from services.people.users import User
from services.platform import defaults
from services.platform.db import transaction
from services.platform.errors import InvalidInput, LimitExceeded
from services.platform.settings import Settings

IMPORTED_HOST = "imported"  # the jobs.host of an imported job: shown in its header, never a real host
_LOCAL_HEADER_BYTES = 30  # a member's fixed local header; with its name, what it costs in the zip at least


def _check_members(zf: zipfile.ZipFile, max_bytes: int, max_files: int, max_ratio: float) -> list[zipfile.ZipInfo]:
    """Return the zip's files after refusing unsafe names, links, and bomb-like sizes (InvalidInput)."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > max_files:
        raise InvalidInput(f"The zip holds {len(infos):,} files; at most {max_files:,} are accepted.")
    total = 0
    for info in infos:
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise InvalidInput(f"The zip member {info.filename!r} points outside the folder; the zip was refused.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidInput(f"The zip member {info.filename!r} is a link; links are not accepted.")
        # Every member, however small: a thousand 1 MB members of zeros once unpacked 1.3 MB into 0.98 GB.
        ratio = info.file_size / (info.compress_size + _LOCAL_HEADER_BYTES + len(info.filename))
        if ratio > max_ratio:
            raise InvalidInput(f"The zip member {info.filename!r} expands {ratio:,.0f} times: "
                               "this looks like a zip bomb and was refused.")
        total += info.file_size
    if total > max_bytes:
        raise InvalidInput(f"The zip unpacks to {total / 1024 ** 3:.1f} GB; at most "
                           f"{max_bytes / 1024 ** 3:.1f} GB are accepted.")
    return infos


def _unpack(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], dest: Path, max_bytes: int) -> None:
    """Write the members under `dest`, counting real bytes: headers that lie about sizes stop it."""
    written = 0
    for info in infos:
        target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, target.open("wb") as out:
            while block := src.read(defaults.RESULTS_ZIP_CHUNK_BYTES):
                written += len(block)
                if written > max_bytes:
                    raise InvalidInput("The zip unpacks to more than it declares: refused as a zip bomb.")
                out.write(block)


def _input_document(contents: results.FolderContents) -> tuple[object, str | None]:
    """Return the job input to keep and its name: AF3's `_data.json`, else the server's job request
    converted to the AF3 dialect (so Clone can run it here), else nothing."""
    for path in (contents.data_json, contents.job_request):
        try:
            doc = json.loads(path.read_text()) if path else None
        except (OSError, ValueError):
            doc = None
        job = doc[0] if isinstance(doc, list) and doc else doc
        if not isinstance(job, dict):
            continue
        name = job.get("name") if isinstance(job.get("name"), str) else None
        if path == contents.job_request:
            try:
                job = server_to_af3(job)
            except (KeyError, TypeError, ValueError):
                pass  # kept as the server wrote it: still the record of what was folded
        return job, name
    return None, None


def has_input(job: Job) -> bool:
    """Return whether an imported job kept an input to clone or download (the zip held one)."""
    try:
        doc = json.loads(Path(job.input_path).read_text())
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(doc, dict) and bool(doc.get("sequences"))


def _tokens(contents: results.FolderContents) -> int:
    """Return the token count of the first sample (0 when unknown), without parsing its PAE."""
    files = contents.samples[0] if contents.samples else None
    if files is None or files.confidences is None:
        return 0
    text = results.array_text(files.confidences.read_bytes(), "token_chain_ids", nested=False)
    try:
        return len(json.loads(text)) if text else 0
    except ValueError:
        return 0


def model_tokens(path: Path, stop_above: int) -> int:
    """Return the AF3 tokens of an mmCIF model, counting up to `stop_above` + 1 at most.

    One token per polymer residue (ATOM rows), one per atom of a ligand or ion (HETATM), as AF3
    tokenises; only the first model of the `_atom_site` loop counts.
    """
    columns: list[bytes] = []
    tokens, last, ix = 0, None, None
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"_atom_site."):
                columns.append(line.strip().split(b".", 1)[1])
                continue
            if not columns or not line.startswith((b"ATOM", b"HETATM")):
                if tokens and line.startswith((b"#", b"loop_", b"_")):
                    break
                continue
            if ix is None:
                col = {name: i for i, name in enumerate(columns)}
                ix = (col.get(b"label_asym_id", 0), col.get(b"label_seq_id", 0), col.get(b"pdbx_PDB_model_num"))
            parts = line.split()
            if ix[2] is not None and len(parts) > ix[2] and parts[ix[2]] != b"1":
                break
            key = tuple(parts[i] for i in ix[:2] if i < len(parts))
            if line.startswith(b"HETATM") or key != last:
                tokens += 1
            last = key
            if tokens > stop_above:
                break
    return tokens


def _check_models(contents: results.FolderContents, limit: int) -> None:
    """Refuse models over the owner's tokens-per-job limit, by size first (no huge file is read) then tokens."""
    max_bytes = limit * defaults.RESULTS_IMPORT_MODEL_BYTES_PER_TOKEN
    if (tokens := _tokens(contents)) > limit:
        raise LimitExceeded(_too_large(f"These results have {tokens:,} tokens", limit))
    for files in contents.samples:
        if files.model is None:
            continue
        name = files.model.name
        if (size := files.model.stat().st_size) > max_bytes:
            raise LimitExceeded(_too_large(f"The model {name} is {size / 1024 ** 2:,.1f} MB, more than "
                                           f"{max_bytes / 1024 ** 2:,.1f} MB for", limit, per_token=True))
        if (tokens := model_tokens(files.model, limit)) > limit:
            raise LimitExceeded(_too_large(f"The model {name} has more than {limit:,} tokens", limit))


def _too_large(what: str, limit: int, per_token: bool = False) -> str:
    tail = f" {limit:,} tokens" if per_token else ""
    return (f"{what}{tail}; your limit is {limit:,} tokens per job. Nothing was imported: such a model would "
            "take minutes and gigabytes of memory to show. Ask an admin for a higher limit if you need it.")


def import_zip(conn, settings: Settings, owner: User, upload: str | Path | BinaryIO, filename: str, **limits) -> Job:
    """Unpack a results zip into read-only jobs and return the first (see `import_zip_all`)."""
    return import_zip_all(conn, settings, owner, upload, filename, **limits)[0]


def import_zip_all(conn, settings: Settings, owner: User, upload: str | Path | BinaryIO, filename: str, *,
                   max_bytes: int = defaults.RESULTS_IMPORT_MAX_BYTES,
                   max_files: int = defaults.RESULTS_IMPORT_MAX_FILES,
                   max_ratio: float = defaults.RESULTS_IMPORT_MAX_RATIO) -> list[Job]:
    """Unpack an AF3 / AlphaFold Server results zip into new read-only jobs owned by `owner`, one per AF3 job
    folder in it (a zip of a whole output folder may hold several), in folder-name order.

    Raises:
        InvalidInput: not a zip, an unsafe or oversized zip, or no AlphaFold 3 results in it.
        LimitExceeded: it would take the owner over their disk quota, or a model is larger than their
            tokens-per-job limit (then nothing is imported).
    """
    staging = settings.jobs_dir / f".import-{uuid.uuid4().hex}"
    try:
        try:
            zf = zipfile.ZipFile(upload)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidInput(f"{filename} is not a zip file ({exc}).") from None
        with zf:
            infos = _check_members(zf, max_bytes, max_files, max_ratio)
            left = quota.check_import(conn, settings, owner.id, sum(i.file_size for i in infos))
            _unpack(zf, infos, staging / "output", max_bytes if left is None else min(max_bytes, left))
        found = results.describe_all(staging / "output")
        if not found:
            raise InvalidInput(f"{filename} holds no AlphaFold 3 results (no model, confidences or scores found).")
        for contents in found:
            _check_models(contents, effective_limits(conn, owner.id).tokens_per_job)
        if len(found) == 1:
            return [_create_job(conn, settings, owner, staging, found[0], filename)]
        jobs = []
        for contents in found:
            own, moved = _own_staging(settings, contents)
            try:
                jobs.append(_create_job(conn, settings, owner, own, moved, filename))
            finally:
                shutil.rmtree(own, ignore_errors=True)  # moved into the job's folder on success
        return jobs
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise InvalidInput(f"{filename} could not be unpacked: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _own_staging(settings: Settings, contents: results.FolderContents) -> tuple[Path, results.FolderContents]:
    """Move one of several job folders into a staging folder of its own; return it and its contents there."""
    staging = settings.jobs_dir / f".import-{uuid.uuid4().hex}"
    (staging / "output").mkdir(parents=True)
    shutil.move(str(contents.folder), staging / "output" / contents.folder.name)
    return staging, results.describe_folder(staging / "output")


def _create_job(conn, settings: Settings, owner: User, staging: Path, contents: results.FolderContents,
                filename: str) -> Job:
    """Insert the succeeded, imported job and move the unpacked folder to its place (all or nothing)."""
    doc, name = _input_document(contents)
    name = (name or contents.name or Path(filename).stem or "imported results")[:200]
    (staging / "input.json").write_text(json.dumps(doc if doc is not None else {"name": name}, indent=2))
    now = time.time()
    with transaction(conn):
        job_id = conn.execute(
            "INSERT INTO jobs (owner_id, name, state, input_path, tokens, submitted_at, queued_at, started_at, "
            "finished_at, updated_at, host, executor, stage, progress) "
            "VALUES (?, ?, 'succeeded', '', ?, ?, ?, ?, ?, ?, ?, 'import', 'imported', 1)",
            (owner.id, name, _tokens(contents), now, now, now, now, now, IMPORTED_HOST)).lastrowid
        folder = settings.jobs_dir / str(job_id)
        if folder.exists():
            raise InvalidInput(f"job folder {folder} already exists")
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(str(staging), folder)
            conn.execute("UPDATE jobs SET input_path = ?, output_path = ? WHERE id = ?",
                         (str(folder / "input.json"), str(folder / "output"), job_id))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # the row is rolled back: its folder goes too
            raise
    return get_job(conn, owner, job_id)
