"""One simulated run: its flags and the console and pacer every stage writes and waits with."""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from services.af3sim import timing
from services.af3sim.console import Console, Pacer
from services.af3sim.flags import Stage


@dataclasses.dataclass
class Run:
    """The flags of this run and its output helpers."""

    flags: dict[str, Any]
    console: Console
    pacer: Pacer
    compiled: set[tuple[int, int, int]] = dataclasses.field(default_factory=set)  # shapes jitted in this process

    def compile_seconds(self, bucket: int) -> float:
        """Return the JIT seconds a seed at `bucket` pays: a full compile the first time this process sees
        the shape, a load when --jax_compilation_cache_dir already holds it, 0 once it is compiled here.

        The model's shape is the bucket, the samples per seed and the recycles, as in AF3 (one jitted
        model per padded size). A fresh compile is written to the cache dir, as JAX's persistent cache does.
        """
        key = (bucket, self.flags["num_diffusion_samples"], self.flags["num_recycles"])
        if key in self.compiled:
            return 0.0
        self.compiled.add(key)
        cache = self.flags["jax_compilation_cache_dir"]
        if not cache:
            return timing.JIT_COMPILE_S
        entry = Path(cache).expanduser() / f"folddeck-sim-{key[0]}-{key[1]}-{key[2]}"
        if entry.is_file():
            return timing.JIT_CACHE_LOAD_S
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
        tmp.write_text("compiled by the FoldDeck AF3 simulator\n")
        os.replace(tmp, entry)
        return timing.JIT_COMPILE_S

    def fail_at(self, stage: Stage) -> bool:
        """Tell whether --fail-at names `stage`."""
        return self.flags["fail_at"] == stage.value

    def took(self, start: float) -> float:
        """Return wall seconds since `start`."""
        return time.monotonic() - start
