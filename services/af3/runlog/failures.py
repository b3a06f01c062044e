"""Why a job failed, in words: a plain sentence and the one AlphaFold 3 line that matters.

A failed run leaves a Python traceback in its log and its last line in `jobs.error`. People need
"Out of GPU memory during inference", not `jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED…`;
the traceback stays in the log. Pure functions: the dashboard calls `summarise(job.error)` for every
failed row, the job page adds the log's error lines.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# "jaxlib.xla_extension.XlaRuntimeError: ..." or a bare "MemoryError": a traceback's last line.
_EXCEPTION = re.compile(r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt))"
                        r"(?::\s*(?P<msg>.*))?$")
_ABSL = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] (?P<msg>.*)$")
_LOAD_INPUT = re.compile(r"Failed to load (?:input|fold job \d+) from .*? "
                         r"\((?:AlphaFold 3|AlphaFold Server) dialect\): (?P<msg>.*)$")
_SEARCH_TOOLS = {"jackhmmer": "MSA", "nhmmer": "MSA", "hmmsearch": "template", "hmmbuild": "template"}
_JOB_FAILED_PREFIX = "Job failed: "
MAX_DETAIL = 300  # one line under the headline; the log keeps the rest
LOG_LINES = 40  # error lines to read: a whole AF3 traceback plus the absl E lines just before it


@dataclass(frozen=True)
class FailureSummary:
    """What a person reads first about a failed job."""

    headline: str  # a plain sentence, e.g. "Out of GPU memory during inference."
    detail: str = ""  # the AlphaFold 3 line it comes from (without the module path), or ""
    hint: str = ""  # what to try next, or ""


def summarise(error: str | None, log_lines: Sequence[str] = (), stage: str = "") -> FailureSummary:
    """Return the plain summary of a failure.

    Args:
        error: the job's error field (the worker stores the run's last error line there).
        log_lines: the run's error lines from the log, oldest first (a traceback and absl E lines), if at hand.
        stage: the AF3 stage the job was in when it stopped ("inference", "data pipeline"), if known.
    """
    lines = [line.rstrip() for line in log_lines if line and line.strip()]
    lines = [line[len(_JOB_FAILED_PREFIX):] if line.startswith(_JOB_FAILED_PREFIX) else line for line in lines]
    key = _key_line(error, lines)
    text = "\n".join([*(lines or []), error or ""])
    for rule in _RULES:
        found = rule(key, text)
        if found:
            return found
    return _fallback(key, error, stage)


def _key_line(error: str | None, lines: list[str]) -> str:
    """Return the line that says what went wrong: the last exception line, else the error field."""
    for line in reversed(lines):
        if not line[:1].isspace() and _EXCEPTION.match(line.strip()):
            return line.strip()
    err = (error or "").strip()
    if err.startswith(_JOB_FAILED_PREFIX):
        err = err[len(_JOB_FAILED_PREFIX):]
    return err


def _short(line: str) -> str:
    """Return an exception line without its module path, on one line, capped."""
    m = _EXCEPTION.match(line.strip())
    if m:
        name = m.group("type").rsplit(".", 1)[-1]
        line = f"{name}: {m.group('msg')}" if m.group("msg") else name
    line = " ".join(line.split())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"


def _message(line: str) -> str:
    """Return the message part of an exception line (the whole line when it is not one)."""
    m = _EXCEPTION.match(line.strip())
    return (m.group("msg") or "") if m else line.strip()


def _input_rejected(key: str, text: str) -> FailureSummary | None:
    m = _LOAD_INPUT.search(key) or _LOAD_INPUT.search(text)
    if m:
        return FailureSummary(f"Input rejected by AlphaFold 3: {_clip(m.group('msg'))}", _short(key),
                              "Fix the input (the builder marks the field) and submit it again.")
    if re.match(r"(?:json\.decoder\.)?JSONDecodeError", key):
        return FailureSummary("Input rejected by AlphaFold 3: the file is not valid JSON.", _short(key),
                              "Fix the input and submit it again.")
    return None


def _gpu_oom(key: str, text: str) -> FailureSummary | None:
    if re.search(r"RESOURCE_EXHAUSTED|CUDA(?:_ERROR)?[ _]OUT[ _]OF[ _]MEMORY|CUDA out of memory|"
                 r"ran out of memory trying to allocate", text, re.IGNORECASE):
        return FailureSummary("Out of GPU memory during inference.", _short(key),
                              "The job has too many tokens for this GPU: split it, or run it on a GPU with more "
                              "memory.")
    return None


def _host_oom(key: str, text: str) -> FailureSummary | None:
    if key.endswith("MemoryError") or re.match(r"(?:builtins\.)?MemoryError\b", key) or "Host memory exhausted" in text:
        absl = _absl_errors(text)
        return FailureSummary("Out of host memory (RAM) while preparing the features.",
                              absl[-1] if absl else _short(key), "Fewer tokens or a machine with more RAM would fit.")
    return None


def _no_models(key: str, text: str) -> FailureSummary | None:
    if "No models matched in" in text:
        return FailureSummary("AlphaFold 3 found no model parameters.", _short(key),
                              "An admin must point FOLDDECK_AF3_MODEL_DIR at the AlphaFold 3 weights.")
    return None


def _missing_database(key: str, text: str) -> FailureSummary | None:
    if "${DB_DIR}" in text and "not found in any of" in text:
        return FailureSummary("A genetic database AlphaFold 3 needs is missing.", _short(key),
                              "An admin must point FOLDDECK_AF3_DB_DIR at the AlphaFold 3 databases.")
    return None


def _search_failed(key: str, text: str) -> FailureSummary | None:
    m = re.search(r"\b(Jackhmmer|Nhmmer|Hmmsearch|Hmmbuild) failed", text, re.IGNORECASE)
    if not m:
        return None
    tool = m.group(1)
    what = _SEARCH_TOOLS[tool.lower()]
    absl = _absl_errors(text)
    stderr = [line.strip() for line in text.splitlines() if line.strip().startswith("Error:")]
    detail = absl[-1] if absl else (stderr[-1] if stderr else _short(key))
    return FailureSummary(f"The {what} search ({tool}) failed in the data pipeline.", detail,
                          "Often a missing or unreadable database, or too little memory; retry, or ask an admin.")


def _disk_full(key: str, text: str) -> FailureSummary | None:
    if "No space left on device" in text or "Errno 28" in text:
        return FailureSummary("The disk is full: AlphaFold 3 could not write its output.", _short(key),
                              "Ask an admin to free disk space, then retry.")
    return None


def _bad_flags(key: str, text: str) -> FailureSummary | None:
    m = re.search(r"FATAL Flags parsing error: (.*)", text)
    if m:
        return FailureSummary("The AlphaFold 3 command is set up wrong: it refused its flags.", m.group(1).strip(),
                              "An admin must fix FOLDDECK_AF3_COMMAND.")
    return None


def _worker_lost(key: str, text: str) -> FailureSummary | None:
    if key.startswith("worker lost"):
        return FailureSummary("The worker running this job stopped answering, too many times.", key,
                              "Retry it; if it keeps happening, tell an admin.")
    if re.match(r"AlphaFold killed by signal 9\b", key):
        return FailureSummary("AlphaFold 3 was killed (signal 9), usually because the machine ran out of memory.",
                              key, "Fewer tokens, or a machine with more memory, would fit.")
    return None


def _gpu_launch(key: str, text: str) -> FailureSummary | None:
    if "failed to launch on the GPU" in text:
        return FailureSummary("The GPU could not run AlphaFold 3's compiled model during inference.", _short(key),
                              "Seen on very large jobs (thousands of tokens, past what the GPU holds even with "
                              "unified memory) and on driver/CUDA mismatches: try fewer tokens or a larger GPU; "
                              "if small jobs fail the same way, tell an admin.")
    return None


# What a shell's exit status above 128 means: the process got signal (status - 128).
_SIGNALS = {9: ("was killed (signal 9)", "usually the machine, or the scheduler's memory limit, ran out of memory: "
                "fewer tokens, or a machine with more memory, would fit"),
            15: ("was stopped (signal 15, a request to terminate)", "a scheduler's time limit or an admin stopped it"),
            11: ("crashed (signal 11, a segmentation fault)", "a broken install or GPU driver: tell an admin"),
            6: ("aborted itself (signal 6)", "often a CUDA or XLA error: the log above the exit has it")}


def _exit_status(key: str, text: str) -> FailureSummary | None:
    m = re.search(r"exited with status (\d+)", key)
    if not m:
        return None
    status = int(m.group(1))
    if status > 128 and status - 128 in _SIGNALS:
        what, why = _SIGNALS[status - 128]
        return FailureSummary(f"AlphaFold 3 {what} before it finished.", key, why[:1].upper() + why[1:] + ".")
    if status > 128:
        return FailureSummary(f"AlphaFold 3 was ended by signal {status - 128} before it finished.", key, "")
    return FailureSummary(f"AlphaFold 3 stopped with an error (exit status {status}).", key,
                          "The log below says which: its last lines hold AlphaFold's own message.")


_RULES = (_input_rejected, _gpu_oom, _host_oom, _no_models, _missing_database, _search_failed, _disk_full, _bad_flags,
          _worker_lost, _gpu_launch, _exit_status)


def _absl_errors(text: str) -> list[str]:
    """Return the messages of the absl E/F lines in `text`, oldest first."""
    out = []
    for line in text.splitlines():
        m = _ABSL.match(line.strip())
        if m and line.strip()[0] in "EF":
            out.append(_clip(m.group("msg")))
    return out


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _fallback(key: str, error: str | None, stage: str) -> FailureSummary:
    """Say that AF3 stopped, where, and with which line, when no rule knows the failure."""
    where = f" during {stage}" if stage and stage not in ("queued", "running", "failed") else ""
    if not key:
        return FailureSummary(f"AlphaFold 3 failed{where}.", "", "The log below says more.")
    if _EXCEPTION.match(key):
        return FailureSummary(f"AlphaFold 3 stopped with an error{where}.", _short(key), "The log below has the "
                                                                                          "traceback.")
    return FailureSummary(f"{_clip(key)[:1].upper()}{_clip(key)[1:]}" + ("" if key.endswith(".") else "."), "", "")
