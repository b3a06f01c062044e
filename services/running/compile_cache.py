"""JAX's persistent compilation cache for AF3 runs on the local host (issue 26).

`run_alphafold.py --jax_compilation_cache_dir=DIR` keeps each compiled bucket in DIR, so a later process
loads it instead of compiling again (tens of seconds per bucket). Local runs get `<data dir>/cache/jax`
unless their command names a cache dir already; the flag goes right after `--json_path {input}`.
Commands that are not AF3's own command line (no `--json_path {input}`: a wrapper script) are left
as they are, since they may not take the flag.
"""
from __future__ import annotations

import re
import shlex

from services.hosts import Host
from services.platform.settings import Settings

CACHE_SUBDIR = ("cache", "jax")
_AF3_LINE = re.compile(r"--json_path(=|\s+)\{input\}")


def with_compile_cache(command: str, host: Host, settings: Settings) -> str:
    """Return `command` with --jax_compilation_cache_dir added for a local AF3 command line."""
    if not host.is_local or "--jax_compilation_cache_dir" in command or not _AF3_LINE.search(command):
        return command
    folder = shlex.quote(str(settings.data_dir.joinpath(*CACHE_SUBDIR)))
    # Beside AF3's own --json_path, not at the end: a shell line (`if ...; then ...; fi`) stays whole.
    return _AF3_LINE.sub(lambda m: f"{m[0]} --jax_compilation_cache_dir={folder}", command, count=1)
