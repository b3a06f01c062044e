"""A screen as one zip, written while it is sent: the ranked table and every member's output folder."""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from services.af3.names import safe_filename
from services.platform import defaults
from services.results.result_archive import ZipSink
from services.screens.ranking import ranked_rows, rows_csv
from services.screens.store import Screen


def iter_screen_zip(screen: Screen, chunk: int = defaults.RESULTS_ZIP_CHUNK_BYTES) -> Iterator[bytes]:
    """Yield `<screen>/screen.csv` and `<screen>/<rank or member>_<label>/...` for members with results.

    Symlinks are left out; each file is read a chunk at a time, so memory stays flat for any screen.
    """
    root = safe_filename(screen.name) or f"screen-{screen.id}"
    sink = ZipSink()
    rank_of = {r.job_id: r.rank for r in ranked_rows(screen)}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=defaults.RESULTS_ZIP_LEVEL,
                         allowZip64=True) as zf:
        zf.writestr(f"{root}/screen.csv", rows_csv(ranked_rows(screen)))
        yield sink.take()
        for m in screen.members:
            folder = Path(m.job.output_path) if m.job.output_path else None
            if folder is None or not folder.is_dir() or m.job.state.value != "succeeded":
                continue
            rank = rank_of.get(m.job.id)
            sub = f"{root}/{(f'{rank:03d}' if rank else 'x')}_{safe_filename(m.label) or m.job.id}"
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
                info = zipfile.ZipInfo.from_file(path, f"{sub}/{path.relative_to(folder).as_posix()}")
                info.compress_type = zipfile.ZIP_DEFLATED
                with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    while block := src.read(chunk):
                        dst.write(block)
                        yield sink.take()
    yield sink.take()
