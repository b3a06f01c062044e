"""Files an AlphaFold 3 input names: which a job may read, and how they reach AlphaFold 3 (issue 22).

AF3 reads `unpairedMsaPath`, `pairedMsaPath`, `templates[].mmcifPath` and `userCCDPath` on the machine
that runs it and copies the text into `<name>_data.json`, which the submitter downloads. So a path a
user writes may only name a file of that job:

- one **sent with the job** (the upload page, a file part of the API request, a file next to the JSON
  for the command line). It is kept in the job's `files/` folder and the field says `files/<name>`;
- or one inside a folder the admin lists in `FOLDDECK_SHARED_INPUT_DIRS` (read-only input every job may
  use; none by default).

Symlinks and `..` are resolved before the check. `bind` applies the rule when a job is submitted;
`inline` applies it again on the worker, right before AF3 runs, and puts each file's text into the
input in place of its path, so AF3 itself never opens a path a user wrote (and SSH and Slurm hosts
need no copy of the files). Rows written before the rule cannot leak either way.
"""
from __future__ import annotations

import copy
import gzip
import io
import lzma
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from services.platform import defaults

FILES_DIR = "files"  # the job folder's subfolder for files sent with it
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class InputFileRefused(ValueError):
    """A path in the input names a file the job may not read; the message names the field and the rule."""


@dataclass(frozen=True)
class FileField:
    """One path field of an alphafold3-dialect input: where it is, and the inline field that replaces it."""

    where: str  # "sequences[0].protein.unpairedMsaPath"
    holder: dict  # the object holding the key (a chain, a template, the document)
    key: str  # "unpairedMsaPath"
    inline_key: str  # "unpairedMsa"

    @property
    def value(self) -> str:
        return self.holder[self.key]


def file_fields(doc: dict) -> Iterator[FileField]:
    """Yield every non-empty path field of an alphafold3-dialect input (AF3 ignores empty ones)."""
    if isinstance(doc.get("userCCDPath"), str) and doc["userCCDPath"]:
        yield FileField("userCCDPath", doc, "userCCDPath", "userCCD")
    for i, entry in enumerate(doc.get("sequences") or []):
        if not isinstance(entry, dict):
            continue
        for kind, chain in entry.items():
            if kind not in ("protein", "rna") or not isinstance(chain, dict):
                continue
            base = f"sequences[{i}].{kind}"
            for key in ("unpairedMsaPath", "pairedMsaPath"):
                if isinstance(chain.get(key), str) and chain[key]:
                    yield FileField(f"{base}.{key}", chain, key, key.removesuffix("Path"))
            for j, tpl in enumerate(chain.get("templates") or [] if kind == "protein" else []):
                if isinstance(tpl, dict) and isinstance(tpl.get("mmcifPath"), str) and tpl["mmcifPath"]:
                    yield FileField(f"{base}.templates[{j}].mmcifPath", tpl, "mmcifPath", "mmcif")


def _inline_fields(doc: dict) -> Iterator[tuple[str, str]]:
    """Yield (where, value) for every inline text field that AF3 would also try as a file path."""
    if isinstance(doc.get("userCCD"), str):
        yield "userCCD", doc["userCCD"]
    for i, entry in enumerate(doc.get("sequences") or []):
        for kind, chain in (entry.items() if isinstance(entry, dict) else []):
            if kind not in ("protein", "rna") or not isinstance(chain, dict):
                continue
            for key in ("unpairedMsa", "pairedMsa"):
                if isinstance(chain.get(key), str):
                    yield f"sequences[{i}].{kind}.{key}", chain[key]
            for j, tpl in enumerate(chain.get("templates") or [] if kind == "protein" else []):
                if isinstance(tpl, dict) and isinstance(tpl.get("mmcif"), str):
                    yield f"sequences[{i}].{kind}.templates[{j}].mmcif", tpl["mmcif"]


def path_like_inline(doc: dict) -> list[str]:
    """Return problems for inline texts that look like a file path.

    AF3 refuses a short inline text naming an existing file ("Set the ... path using the ...Path
    field") and reads on otherwise, so such a value would tell a user which server files exist. Real
    MSA, mmCIF and CCD text has several lines; one short line with a slash in it is refused, exists or not.
    """
    return [f"{where}: {value!r} looks like a file path, not the file's text; name it in the field's Path "
            "variant and send the file with the job." for where, value in _inline_fields(doc)
            if value and len(value) < 1024 and "\n" not in value and "/" in value]


def names_files(doc: dict) -> bool:
    """True when the input names at least one file."""
    return next(file_fields(doc), None) is not None


def rule(field: FileField, shared: Sequence[Path]) -> str:
    """Return the refusal for a path that the rule does not allow, naming the field and the rule."""
    where = ("a file sent with the job, or one inside a shared input folder (" +
             ", ".join(str(d) for d in shared) + ")") if shared else "a file sent with the job"
    return (f"{field.where}: {field.value!r} is not a file of this job. A file path may only name {where}: "
            f"send the file with the job (beside the JSON on the upload page, as a file part of the API request, "
            f"or next to the JSON for the command line), or put its text in {field.inline_key}.")


def safe_name(name: str) -> str | None:
    """Return `name` as a relative POSIX path of plain parts (letters, digits, . _ + -), or None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or len(parts) > 8 or not all(_SAFE_PART.match(p) and p not in (".", "..") for p in parts):
        return None
    return "/".join(parts)


def files_beside(doc: object, json_path: Path) -> dict[str, bytes]:
    """Return the files an input names by a relative path that stays inside the JSON file's folder
    (resolved as AF3 resolves it), to send with it from the command line; other paths are left to `bind`."""
    folder, out = json_path.parent, {}
    for one in doc if isinstance(doc, list) else [doc]:
        for field in file_fields(one) if isinstance(one, dict) else []:
            name = safe_name(field.value) if not field.value.startswith("/") else None
            if name and name not in out and _inside(folder / name, folder) and (folder / name).is_file():
                out[name] = (folder / name).read_bytes()
    return out


def _inside(path: Path, folder: Path) -> bool:
    """True when `path`, with every symlink and `..` resolved, lies inside `folder` (also resolved)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except (OSError, ValueError):
        return False


def _shared_file(value: str, shared: Sequence[Path]) -> Path | None:
    """Return the real path of `value` when it is an absolute path to a file inside a shared folder."""
    if not value.startswith("/") or not shared:
        return None
    real = Path(os.path.realpath(value))
    if any(_inside(real, d) for d in shared) and real.is_file():
        return real
    return None


def bind(doc: dict, uploads: Mapping[str, bytes], shared: Sequence[Path]) -> tuple[dict, dict[str, bytes], list[str]]:
    """Point every path field of one input at a file sent with it or a shared one; refuse the others.

    `uploads` maps a safe relative name (see `safe_name`) to its bytes. A field matches an upload by
    its whole relative path, else by its file name when exactly one upload has that name. Returns
    the input with such fields rewritten to `files/<name>`, the uploads it uses, and the problems
    (one per refused field, naming it); the input is unchanged when there are problems.
    """
    out = copy.deepcopy(doc)
    by_base: dict[str, list[str]] = {}
    for name in uploads:
        by_base.setdefault(PurePosixPath(name).name, []).append(name)
    used: dict[str, bytes] = {}
    problems = path_like_inline(out)
    for field in list(file_fields(out)):
        value = field.value
        own = safe_name(value.removeprefix(FILES_DIR + "/")) if not value.startswith("/") else None
        match = own if own in uploads else None
        if match is None and len(by_base.get(PurePosixPath(value).name, [])) == 1:
            match = by_base[PurePosixPath(value).name][0]
        if match is not None and uploads[match][:4] == _ZSTD_MAGIC:
            problems.append(f"{field.where}: {match} is zstd-compressed; send it plain, gzip or xz.")
        elif match is not None:
            field.holder[field.key] = f"{FILES_DIR}/{match}"
            used[match] = uploads[match]
        elif (real := _shared_file(value, shared)) is not None:
            field.holder[field.key] = str(real)
        else:
            problems.append(rule(field, shared))
    return (doc, {}, problems) if problems else (out, used, [])


def inline_sent(doc: dict, uploads: Mapping[str, bytes]) -> tuple[dict, list[str], list[str]]:
    """Put the text of files sent in the builder into the fields that name them (by file name).

    Returns the input, the names of the uploads used, and the fields that still name a file (the submit
    refuses those, naming the rule).

    Raises:
        InputFileRefused: a matching file cannot be read as text (the message names the field).
    """
    out = copy.deepcopy(doc)
    by_base = {PurePosixPath(name).name: name for name in uploads}
    used, left = [], []
    for field in list(file_fields(out)):
        name = by_base.get(PurePosixPath(field.value).name)
        if name is None:
            left.append(field.where)
            continue
        try:
            text = decode_text(uploads[name])
        except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise InputFileRefused(f"{field.where}: {name} cannot be read as text ({exc}).") from None
        del field.holder[field.key]
        field.holder[field.inline_key] = text
        used.append(name)
    return out, used, left


def inline(doc: dict, job_dir: Path, shared: Sequence[Path]) -> dict:
    """Return a copy of a job's input with each named file's text in place of its path.

    Checked here again, where the files are read: a relative path must lie in the job's `files/`
    folder and an absolute one in a shared folder, both after resolving symlinks and `..`.

    Raises:
        InputFileRefused: a path the rule does not allow, or a file that cannot be read (the message
            names the field; it never quotes the file).
    """
    out = copy.deepcopy(doc)
    own = job_dir / FILES_DIR
    for field in list(file_fields(out)):
        value = field.value
        path = Path(value) if value.startswith("/") else job_dir / value
        allowed = _inside(path, own) if not value.startswith("/") else any(_inside(path, d) for d in shared)
        if not allowed or not Path(os.path.realpath(path)).is_file():
            raise InputFileRefused(rule(field, shared))
        try:
            text = read_text(Path(os.path.realpath(path)))
        except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise InputFileRefused(f"{field.where}: {value!r} cannot be read as text "
                                   f"({type(exc).__name__}).") from None
        del field.holder[field.key]
        field.holder[field.inline_key] = text
    if problems := path_like_inline(out):  # a file whose text is one path line counts too
        raise InputFileRefused(problems[0])
    return out


def read_text(path: Path) -> str:
    """Return a file's text as AF3 reads it: plain, gzip or xz by magic bytes (zstd is refused: the
    standard library cannot read it; recompress with gzip or xz)."""
    return decode_text(path.read_bytes())


def decode_text(raw: bytes) -> str:
    """Return a file's bytes as text as AF3 reads them (see `read_text`)."""
    opener = gzip.GzipFile if raw[:2] == b"\x1f\x8b" else lzma.LZMAFile if raw[:6] == b"\xfd7zXZ\x00" else None
    if raw[:4] == _ZSTD_MAGIC:
        raise ValueError("zstd-compressed; send it plain, gzip or xz")
    if opener is not None:
        # bounded: a small bomb must not fill the worker's memory
        with opener(fileobj=io.BytesIO(raw)) if opener is gzip.GzipFile else opener(io.BytesIO(raw)) as stream:
            raw = stream.read(defaults.INPUT_FILE_TEXT_MAX_BYTES + 1)
        if len(raw) > defaults.INPUT_FILE_TEXT_MAX_BYTES:
            raise ValueError(f"larger than {defaults.INPUT_FILE_TEXT_MAX_BYTES >> 20} MiB decompressed")
    return raw.decode("utf-8")
