"""The files of an attempt's output folder: the listing (capped) and safe paths for downloads."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.platform import defaults


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, with forward slashes
    size: int


def list_files(folder: Path, cap: int = defaults.RESULTS_MAX_FILES) -> tuple[list[OutputFile], int]:
    """Return up to `cap` files under `folder` (sorted) and how many more there are."""
    if not folder.is_dir():
        return [], 0
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    files = [OutputFile(p.relative_to(folder).as_posix(), p.stat().st_size) for p in paths[:cap]]
    return files, max(0, len(paths) - cap)


def job_folders(output_path: str | Path | None) -> list[Path]:
    """Return the AF3 job folders inside an attempt's output folder (one per fold job)."""
    folder = Path(output_path) if output_path else None
    return sorted(d for d in folder.iterdir() if d.is_dir()) if folder and folder.is_dir() else []


def relative_to_output(output_path: str | Path, path: Path | None) -> str | None:
    """Return `path` relative to the output folder with forward slashes (for download URLs)."""
    if path is None:
        return None
    try:
        return path.resolve().relative_to(Path(output_path).resolve()).as_posix()
    except ValueError:
        return None


def resolve_file(output_path: str | Path | None, relative: str) -> Path | None:
    """Return the file `relative` inside the output folder, or None if it is outside or missing."""
    if not output_path:
        return None
    root = Path(output_path).resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        return None
    return target
