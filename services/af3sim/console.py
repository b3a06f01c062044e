"""What a run prints: `print` lines on stdout, absl-formatted logging lines on stderr, both flushed.

absl's prefix is `<L><MMDD> <HH:MM:SS.ffffff> <thread id> <file>:<line>] `; the job runner streams
both pipes line by line, so every line is flushed as soon as it is written.
"""
from __future__ import annotations

import datetime
import os
import sys
import time
from typing import TextIO


class Console:
    """Writes AF3-shaped output; `thread` offsets mimic AF3's worker threads (Jackhmmer pool)."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._tid = 140_000_000_000_000 + os.getpid() * 4096  # shaped like a CPython thread ident

    def print(self, msg: str = "") -> None:
        """Write one `print()` line to stdout."""
        self.out.write(msg + "\n")
        self.out.flush()

    def _log(self, level: str, where: str, line: int, msg: str, thread: int) -> None:
        """Write one absl logging line to stderr."""
        now = datetime.datetime.now()
        prefix = f"{level}{now:%m%d} {now:%H:%M:%S}.{now.microsecond:06d} {self._tid + thread:5d} {where}:{line}] "
        self.err.write(prefix + msg + "\n")
        self.err.flush()

    def info(self, where: str, line: int, msg: str, thread: int = 0) -> None:
        """Log an I line."""
        self._log("I", where, line, msg, thread)

    def warning(self, where: str, line: int, msg: str, thread: int = 0) -> None:
        """Log a W line."""
        self._log("W", where, line, msg, thread)

    def error(self, where: str, line: int, msg: str, thread: int = 0) -> None:
        """Log an E line."""
        self._log("E", where, line, msg, thread)


class Pacer:
    """Sleeps simulated AF3 seconds divided by `speed`; speed 0 never sleeps."""

    def __init__(self, speed: float):
        self.speed = speed

    def scaled(self, simulated_s: float) -> float:
        """Return the wall seconds that `simulated_s` of AF3 time take at this speed."""
        return 0.0 if self.speed <= 0 else simulated_s / self.speed

    def spend(self, simulated_s: float) -> float:
        """Sleep for `simulated_s` of AF3 time; return the wall seconds slept."""
        wall = self.scaled(simulated_s)
        if wall > 0:
            time.sleep(wall)
        return wall
