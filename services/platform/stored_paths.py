"""Paths kept in the database are relative to the data dir, so a backup restores into any folder.

A job row names its input, output folder and saved `_data.json` as `jobs/<id>/...`; the database
connection (`services.platform.db`) turns them back into absolute paths under the data dir it lives in. Rows
written before that (absolute paths into some other folder, or `data/jobs/<id>/...` relative to the
folder a submitter ran in) are re-anchored at their `jobs/<id>/` part, which is where a job's files
always live.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

JOBS = "jobs"


def to_stored(data_dir: Path, path: str | None, job_id: int | None = None) -> str | None:
    """Return how `path` is kept in a row: relative to `data_dir` where it lies under it (or under
    `jobs/<job_id>/`), else unchanged (a folder outside the data dir, such as a Slurm work dir)."""
    if not path:
        return path
    parts = PurePosixPath(path).parts
    if job_id is not None:
        for i in range(len(parts) - 2, -1, -1):  # the last jobs/<id> pair: a job name may be "jobs"
            if parts[i] == JOBS and parts[i + 1] == str(job_id):
                return str(PurePosixPath(*parts[i:]))
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(data_dir))
        except ValueError:
            return path
    return path


def hide(text: str, job_dir: str, data_dir: str) -> str:
    """Return `text` with the server's folders out of it: paths in the job's folder relative to it
    (`attempt-1/x`), other paths in the data dir as `<data dir>/...` (issue 22: users see no server paths)."""
    if data_dir not in text:
        return text
    return (text.replace(job_dir + "/", "").replace(job_dir, ".")
            .replace(data_dir + "/", "<data dir>/").replace(data_dir, "<data dir>"))


def to_absolute(data_dir: Path, stored: str | None) -> str | None:
    """Return the absolute path of a stored one (None and absolute paths unchanged)."""
    if not stored or stored.startswith("/"):
        return stored
    return str(data_dir / stored)
