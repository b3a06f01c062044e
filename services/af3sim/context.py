"""One simulated run: its flags and the console and pacer every stage writes and waits with."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from services.af3sim.console import Console, Pacer
from services.af3sim.flags import Stage


@dataclasses.dataclass
class Run:
    """The flags of this run and its output helpers."""

    flags: dict[str, Any]
    console: Console
    pacer: Pacer

    def fail_at(self, stage: Stage) -> bool:
        """Tell whether --fail-at names `stage`."""
        return self.flags["fail_at"] == stage.value

    def took(self, start: float) -> float:
        """Return wall seconds since `start`."""
        return time.monotonic() - start
