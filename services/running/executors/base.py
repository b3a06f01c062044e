"""The executor interface (start, read lines, poll, cancel, collect) and shared line splitting."""
from __future__ import annotations

import queue
import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from services.platform import defaults
from services.platform.errors import FoldDeckError

TRUNCATED = " …[line truncated]"


class ExecutorError(FoldDeckError):
    """The job could not be started or its results not collected (the message says why)."""


class HostUnavailable(ExecutorError):
    """The host could not be reached before the command started: the job is not at fault.

    `reason` is short ("connection refused"); `config` is True when only an admin can fix it
    (authentication refused, unknown or changed host key, missing key file), and `fix` says how.
    """

    def __init__(self, host: str, reason: str, *, config: bool = False, fix: str = ""):
        super().__init__(f"{host}: {reason}")
        self.host, self.reason, self.config, self.fix = host, reason, config, fix


@dataclass(frozen=True)
class RunSpec:
    job_id: int
    attempt: int
    input_path: Path  # the input JSON on this machine
    output_dir: Path  # where the results end up on this machine
    command: str  # template with {input}, {output}, optional {model_dir}, {db_dir}
    model_dir: str = ""
    db_dir: str = ""
    stage: str = ""  # "" both stages in one run, "data" (data pipeline only) or "inference" (from a _data.json)
    engine: str = "af3"  # another engine (issue 29): `command` is its template, `input_path` keeps its name
    side_files: tuple[str, ...] = ()  # files the input names, relative to its folder: they travel with it
    workdir: Path | None = None  # where the command runs (relative paths in the input resolve there); None: output


# run_alphafold.py's own switches for running one stage (issue 16).
STAGE_FLAGS = {"": "", "data": "--norun_inference", "inference": "--norun_data_pipeline"}


def render_command(template: str, input_path: str, output_dir: str, model_dir: str = "", db_dir: str = "",
                   stage: str = "") -> str:
    """Return the command line with each placeholder replaced by a shell-quoted value.

    The stage's flag goes where the template says `{stage_flags}`, else at the end.
    """
    values = {"input": input_path, "output": output_dir, "model_dir": model_dir, "db_dir": db_dir}
    flags = STAGE_FLAGS[stage]
    command = template.format(stage_flags=flags, **{k: shlex.quote(v) if v else "''" for k, v in values.items()})
    return command if not flags or "{stage_flags}" in template else f"{command} {flags}"


class LineSplitter:
    """Turn a byte stream into text lines: partial lines kept, bad UTF-8 replaced, long lines cut."""

    def __init__(self, max_chars: int = defaults.MAX_LOG_LINE_CHARS):
        self.max_bytes = max_chars  # cut in bytes before decoding: a newline-free flood stays bounded
        self.buf = bytearray()
        self.dropping = False  # inside an over-long line, discarding until its newline

    def feed(self, data: bytes) -> list[str]:
        """Return the complete lines in `data` plus what was buffered before."""
        out = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            part = data[start:] if nl < 0 else data[start:nl]
            self._add(part, out)
            if nl < 0:
                return out
            out.append(self._take())
            start = nl + 1

    def _add(self, part: bytes, out: list[str]) -> None:
        if self.dropping:
            return
        room = self.max_bytes - len(self.buf)
        if len(part) <= room:
            self.buf += part
            return
        self.buf += part[:room]
        self.dropping = True

    def _take(self) -> str:
        text = bytes(self.buf).decode("utf-8", errors="replace").rstrip("\r")
        if self.dropping:
            text += TRUNCATED
        self.buf.clear()
        self.dropping = False
        return text

    def flush(self) -> list[str]:
        """Return the last unterminated line, if any (at end of stream)."""
        return [self._take()] if self.buf or self.dropping else []


def drain(q: queue.Queue, timeout: float, max_lines: int = 20_000) -> list[str]:
    """Return the lines waiting in `q`, blocking up to `timeout` for the first one."""
    out: list[str] = []
    try:
        item = q.get(timeout=timeout) if timeout > 0 else q.get_nowait()
    except queue.Empty:
        return out
    out.extend(item)
    while len(out) < max_lines:
        try:
            out.extend(q.get_nowait())
        except queue.Empty:
            break
    return out


class Executor(ABC):
    """Runs one attempt. Call start, then read_lines until done is True, then collect."""

    kind: str = ""
    pid: int | None = None  # local process group id
    remote_pid: int | None = None
    remote_output: str | None = None

    @abstractmethod
    def start(self, spec: RunSpec) -> None:
        """Start the command; raise ExecutorError if it cannot be started."""

    @abstractmethod
    def read_lines(self, timeout: float) -> list[str]:
        """Return output lines available within `timeout` seconds (maybe none)."""

    @abstractmethod
    def poll(self) -> int | None:
        """Return the exit status once the process ended and all its output was read, else None."""

    @abstractmethod
    def cancel(self, grace: float = defaults.CANCEL_GRACE_SECONDS) -> None:
        """Stop the whole process tree: SIGTERM, then SIGKILL after `grace` seconds."""

    def collect(self) -> None:  # noqa: B027 - optional hook: a no-op where results are already local
        """Bring the result files to `spec.output_dir` (local runs write there already)."""

    def close(self) -> None:  # noqa: B027 - optional hook: executors without connections have nothing to free
        """Release connections and threads."""

