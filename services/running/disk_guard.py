"""A worker's guard against a full disk: the reserve it frees, and whether it may claim.

When a write fails because the disk is full, the worker frees its reserve (`services.platform.disk`)
so the failures can still be recorded, stops and fails its running jobs with the reason, tells the
admin once, and claims nothing until the reserve can be made again.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from services.platform import disk

log = logging.getLogger("folddeck.worker")
_EXTRA = {"source": "worker", "username": None, "job_id": None}


class DiskGuard:
    """The disk reserve of one worker and the `full` event its slots and attempts watch."""

    def __init__(self, data_dir: Path, worker_id: str):
        self.data_dir = data_dir
        self.worker_id = worker_id
        self.reserve = disk.Reserve(data_dir)
        self.full = threading.Event()  # set from a write that failed for space until the reserve is back
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def make_reserve(self) -> None:
        """Make the reserve at the worker's start; without room for it, say so and run on."""
        if not self.reserve.ensure():
            log.warning("worker %s: less than %s MiB free under %s, so no disk reserve was made", self.worker_id,
                        2 * disk.reserve_bytes() >> 20, self.data_dir, extra=_EXTRA)

    def filled(self, exc: BaseException) -> None:
        """Free the reserve, stop claiming and the running jobs, and tell the admin once: a write found no space."""
        with self._lock:
            if self.full.is_set():
                return
            self.error = exc
            self.full.set()
            freed = self.reserve.release()
        # Logged after the release: the application log lives in the same full database.
        log.error("Disk full under %s (%s): worker %s fails its running jobs and starts no new ones until %s MiB "
                  "are free there again%s.", self.data_dir, exc, self.worker_id, 2 * disk.reserve_bytes() >> 20,
                  "" if freed else " (it had no reserve to free: the failures may not be recorded)", extra=_EXTRA)

    def space_back(self) -> bool:
        """Make the reserve again if there is room; True (and claiming resumes) if there is."""
        with self._lock:
            if not self.full.is_set():
                return True
            if not self.reserve.ensure():
                return False
            self.full.clear()
        log.info("disk space is back under %s: worker %s claims jobs again", self.data_dir, self.worker_id,
                 extra=_EXTRA)
        return True

    def raise_if_full(self) -> None:
        """Raise DiskFull when a write of this worker found the disk full: a running attempt stops on it."""
        if self.full.is_set():
            raise disk.DiskFull(str(self.error)) from self.error
