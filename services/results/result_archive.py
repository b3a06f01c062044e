"""A job's output folder as a zip written while it is sent: memory stays flat for any folder size."""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from services.platform import defaults


class ZipSink:
    """A write-only, unseekable file: zipfile then writes data descriptors and never seeks back."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.size += len(data)
        return len(data)

    def tell(self) -> int:  # zipfile asks where it is to record local header offsets
        return self.size

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def iter_zip(folder: str | Path, root: str, chunk: int = defaults.RESULTS_ZIP_CHUNK_BYTES) -> Iterator[bytes]:
    """Yield a zip of every regular file under `folder` (inside `root/`), a chunk at a time.

    Symlinks are left out (they could point outside the folder); each file is read in `chunk`
    pieces, so at most about one chunk is held in memory at any moment.
    """
    base = Path(folder)
    sink = ZipSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=defaults.RESULTS_ZIP_LEVEL, allowZip64=True) as zf:
        for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.is_symlink()):
            info = zipfile.ZipInfo.from_file(path, f"{root}/{path.relative_to(base).as_posix()}")
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                while block := src.read(chunk):
                    dst.write(block)
                    if sink.size and sink.chunks:
                        yield sink.take()
            yield sink.take()
    yield sink.take()
