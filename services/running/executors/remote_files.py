"""Which files an attempt takes to a machine that is not this one, and which it brings back (issue 29).

One rule for the remote executors: an AlphaFold 3 input travels as `input.json`; another engine's keeps
its own name (Boltz reads `.yaml`, Chai-1 `.fasta`) and takes its side files (the MSAs it names
relative to itself) to the same places beside it, where its command runs. Results come back as the
viewer's files; an engine's reader also needs its arrays (Chai-1's scores, Boltz's PAE are `.npz`),
which AlphaFold 3's embeddings and distograms are not brought back as.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

from services.running.executors.base import RunSpec

AF3 = "af3"
FETCH_SUFFIXES = (".cif", ".json", ".csv", ".md")  # the viewer's files; AF3's embeddings and distograms stay there
ENGINE_FETCH_SUFFIXES = (*FETCH_SUFFIXES, ".npz", ".pdb")  # what the engines' readers take besides


def input_name(spec: RunSpec) -> str:
    """Return the input's file name in the attempt's remote folder."""
    return spec.input_path.name if spec.engine != AF3 else "input.json"


def uploads(spec: RunSpec) -> list[tuple[Path, str]]:
    """Return (file here, path relative to the attempt's remote folder) of every file the run needs there."""
    return [(Path(spec.input_path), input_name(spec))] + \
        [(Path(spec.input_path).parent / name, name) for name in spec.side_files]


def folders(run_dir: str, spec: RunSpec) -> list[str]:
    """Return the remote folders below `run_dir` the uploads go into (side files may sit in subfolders)."""
    return sorted({posixpath.dirname(posixpath.join(run_dir, name)) for _local, name in uploads(spec)} - {run_dir})


def fetch_suffixes(engine: str) -> tuple[str, ...]:
    """Return the endings of the result files brought back for a run of `engine`."""
    return FETCH_SUFFIXES if engine == AF3 else ENGINE_FETCH_SUFFIXES
