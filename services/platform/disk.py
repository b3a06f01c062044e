"""A full disk: how to tell one, and a reserve of space to record the failure when it happens.

SQLite reports a full disk (or a full database) as SQLITE_FULL and rolls the statement or the
transaction back; a file write fails with ENOSPC (EDQUOT over a quota). Nothing half-written is
left, but nothing can be written either, the job's log and outcome included. So the worker keeps
a small ballast file in the data dir (`Reserve`), made while space allows and deleted when a
write fails for want of space: its room is enough to record the job's failure and tell the admin.
"""
from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from services.platform import defaults

RESERVE_NAME = ".disk-reserve"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_CHUNK = 1 << 20


class DiskFull(Exception):
    """A write failed for want of space (the original error is its `__cause__`): what was running stops."""


def is_disk_full(exc: BaseException | None) -> bool:
    """True if `exc`, or an error it was raised from or while handling, is a full disk or database."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                                               or "database or disk is full" in str(exc)):
            return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def reserve_bytes() -> int:
    """Return the reserve's size (a function, so a test may patch the constant)."""
    return defaults.DISK_RESERVE_BYTES


def free_bytes(path: Path) -> int:
    """Return the bytes an unprivileged writer may still use on the file system holding `path`."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Reserve:
    """The ballast file `<data dir>/.disk-reserve`: made while space allows, given up when the disk fills."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / RESERVE_NAME

    def ensure(self) -> bool:
        """Make the reserve if it is missing and twice its size is free; True if it is there now.

        Written out in full (a sparse file would free nothing) under a temporary name, so a reserve
        that ran out of space half way is removed rather than left looking complete.
        """
        size = reserve_bytes()
        if self.path.is_file() and self.path.stat().st_size >= size:
            return True
        if free_bytes(self.path.parent) < 2 * size:  # the reserve must not itself be what fills the disk
            return False
        tmp = self.path.with_name(f"{RESERVE_NAME}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                for start in range(0, size, _CHUNK):  # written, so the blocks are taken now (no fsync needed)
                    f.write(b"\0" * min(_CHUNK, size - start))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        return True

    def release(self) -> bool:
        """Delete the reserve to free its space; True if there was one to delete."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
