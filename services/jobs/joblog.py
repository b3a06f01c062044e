"""Job log store: numbered lines with time, stream and level, read by cursor.

`append_lines` and `append_attempt_lines` are the writers. The worker writes a job's output with
`append_attempt_lines`, which drops the lines of an attempt that no longer owns the job (its lease
went to another attempt) in the same transaction that checks ownership. Each writer classifies
each line (AF3's absl `I/W/E` prefixes, Python tracebacks, stage lines), keeps per-level counts
and the job's progress on the job row, all in one transaction per batch. Readers use the (job_id, seq) primary key, so
every read costs O(limit) however long the log is.
"""
from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from services.af3.runlog.progress import Tracker
from services.platform import defaults, stored_paths
from services.platform.db import transaction
from services.platform.errors import JobNotFound


class Level(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    PROGRESS = "progress"
    SUCCESS = "success"


class Stream(str, Enum):
    OUTPUT = "output"  # the process's stdout and stderr, merged in order
    SYSTEM = "system"  # lines FoldDeck itself writes (attempt started, cancelled...)


@dataclass(frozen=True)
class LogLine:
    seq: int
    ts: float
    stream: str
    level: str
    text: str


_ABSL_LEVEL = {"I": Level.INFO, "W": Level.WARNING, "E": Level.ERROR, "F": Level.ERROR}
_SUCCESS_STARTS = ("Done running", "Fold job ")
_ERROR_WORDS = ("Error: ", "Exception: ", "FATAL", "RESOURCE_EXHAUSTED")


# XLA / TSL's C++ logging, as AF3 runs print it: "2024-12-14 19:57:44.462633: W external/xla/..."
_TSL = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) ")


def _is_absl(text: str) -> bool:
    return len(text) > 6 and text[0] in _ABSL_LEVEL and text[1:5].isdigit() and text[5] == " "


def _is_exception_line(text: str) -> bool:
    """Return True for the last line of a traceback, e.g. `ValueError: bad input`."""
    head = text.split(":", 1)[0]
    return bool(head) and " " not in head and head[0].isalpha() and (
        head.endswith(("Error", "Exception", "Exit", "Interrupt", "Failure")) or head == "KeyboardInterrupt")


def classify(text: str, in_traceback: bool, tracker: Tracker) -> tuple[Level, bool]:
    """Return the level of one line and whether a traceback continues after it."""
    if text.startswith("Traceback (most recent call last)"):
        return Level.ERROR, True
    if in_traceback:
        if text.startswith((" ", "\t")) or not text or text.startswith("The above exception") or \
                text.startswith("During handling of"):
            return Level.ERROR, True
        if _is_exception_line(text):
            return Level.ERROR, True  # chained tracebacks follow; a non-matching line ends it
    moved = tracker.feed(text)
    if moved and (text.startswith(_SUCCESS_STARTS) and (" done" in text or text.startswith("Done"))):
        return Level.SUCCESS, False
    if _is_absl(text):
        level = _ABSL_LEVEL[text[0]]
        return (Level.PROGRESS if moved and level is Level.INFO else level), False
    if moved:
        return Level.PROGRESS, False
    if m := _TSL.match(text):
        return _ABSL_LEVEL[m.group(1)], False
    if _is_exception_line(text) or any(w in text for w in _ERROR_WORDS):
        return Level.ERROR, False
    return Level.INFO, False


def clip(text: str, limit: int = defaults.MAX_LOG_LINE_CHARS) -> str:
    """Return the line cut to `limit` characters with a visible marker."""
    if len(text) <= limit:
        return text
    return text[:limit] + f" …[truncated {len(text) - limit} chars]"


def append_lines(conn: sqlite3.Connection, job_id: int, lines: Iterable[str | tuple[str, ...]],
                 ts: float | None = None) -> int:
    """Append lines to a job's log; return the last sequence number.

    Each line is its text (process output), or (stream, text), or (stream, text, level) for
    FoldDeck's own lines whose level is known.

    Raises:
        JobNotFound: no job with this id.
    """
    with transaction(conn):
        return write_lines(conn, job_id, lines, ts)


def append_attempt_lines(conn: sqlite3.Connection, job_id: int, worker_id: str, attempt: int,
                         lines: Iterable[str | tuple[str, ...]], ts: float | None = None) -> int | None:
    """Append an attempt's lines if it still owns the job; return the last sequence number, or None.

    None means nothing was written (neither lines nor progress): the job is no longer running as
    attempt `attempt` of worker `worker_id` (it was reaped and re-queued, claimed again, or ended).
    A worker that was stopped past its lease and then resumed can therefore never interleave its
    stale output with the next attempt's log.
    """
    with transaction(conn):
        if not owns(conn, job_id, worker_id, attempt):
            return None
        return write_lines(conn, job_id, lines, ts)


def owns(conn: sqlite3.Connection, job_id: int, worker_id: str | None, attempt: int) -> bool:
    """Return True if the job is running as attempt `attempt` of worker `worker_id`."""
    return conn.execute("SELECT 1 FROM jobs WHERE id = ? AND state = 'running' AND worker_id = ? AND attempts = ?",
                        (job_id, worker_id, attempt)).fetchone() is not None


def write_lines(conn: sqlite3.Connection, job_id: int, lines: Iterable[str | tuple[str, ...]],
                ts: float | None = None) -> int:
    """Append lines like `append_lines`, inside the caller's transaction (with a state change they belong to).

    Raises:
        JobNotFound: no job with this id.
    """
    now = time.time() if ts is None else ts
    row = conn.execute("SELECT log_seq, log_in_traceback, progress_state, fd_abs('jobs/' || id) AS job_dir, "
                       "fd_abs('.') AS data_dir FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(f"No job {job_id}.")
    seq, in_tb = row["log_seq"], bool(row["log_in_traceback"])
    job_dir, data_dir = row["job_dir"], row["data_dir"]
    tracker = Tracker.from_json(row["progress_state"])
    before = tracker.snapshot()
    rows, counts = [], Counter()
    for item in lines:
        if isinstance(item, str):
            stream, text, forced = Stream.OUTPUT.value, item, None
        else:
            stream, text, forced = item[0], item[1], (item[2] if len(item) > 2 else None)
        text = clip(stored_paths.hide(text, job_dir, data_dir))  # users see paths relative to the job
        if forced is None:
            level, in_tb = classify(text, in_tb, tracker)
        else:
            level = Level(forced)
        seq += 1
        counts[level.value] += 1
        rows.append((job_id, seq, now, stream, level.value, text))
    if not rows:
        return seq
    conn.executemany("INSERT INTO job_log (job_id, seq, ts, stream, level, text) VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO job_log_levels (job_id, level, n) VALUES (?, ?, ?) "
                     "ON CONFLICT (job_id, level) DO UPDATE SET n = n + excluded.n",
                     [(job_id, lv, n) for lv, n in counts.items()])
    _store_progress(conn, job_id, seq, in_tb, tracker, tracker.snapshot() != before, now)
    return seq


def _store_progress(conn: sqlite3.Connection, job_id: int, seq: int, in_tb: bool, tracker: Tracker,
                    changed: bool, now: float) -> None:
    if changed:
        p = tracker.snapshot()
        conn.execute("UPDATE jobs SET log_seq = ?, log_in_traceback = ?, progress_state = ?, stage = ?, "
                     "progress = ?, progress_detail = ?, updated_at = ? WHERE id = ?",
                     (seq, int(in_tb), tracker.to_json(), p.stage, p.fraction, p.detail, now, job_id))
    else:
        # updated_at is left alone: a page polls job rows for state, the console polls last_seq.
        conn.execute("UPDATE jobs SET log_seq = ?, log_in_traceback = ?, progress_state = ? WHERE id = ?",
                     (seq, int(in_tb), tracker.to_json(), job_id))


def _rows(cur: sqlite3.Cursor) -> list[LogLine]:
    return [LogLine(r[0], r[1], r[2], r[3], r[4]) for r in cur]


def read_log(conn: sqlite3.Connection, job_id: int, since_seq: int = 0, limit: int = 1000) -> list[LogLine]:
    """Return up to `limit` lines after `since_seq`, oldest first."""
    return _rows(conn.execute("SELECT seq, ts, stream, level, text FROM job_log WHERE job_id = ? AND seq > ? "
                              "ORDER BY seq LIMIT ?", (job_id, since_seq, limit)))


def read_log_before(conn: sqlite3.Connection, job_id: int, before_seq: int, limit: int = 1000) -> list[LogLine]:
    """Return up to `limit` lines before `before_seq`, oldest first (for scrolling back)."""
    lines = _rows(conn.execute("SELECT seq, ts, stream, level, text FROM job_log WHERE job_id = ? AND seq < ? "
                               "ORDER BY seq DESC LIMIT ?", (job_id, before_seq, limit)))
    return lines[::-1]


def last_seq(conn: sqlite3.Connection, job_id: int) -> int:
    """Return the sequence number of the last line (0 when the log is empty)."""
    row = conn.execute("SELECT log_seq FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else 0


def level_counts(conn: sqlite3.Connection, job_id: int) -> dict[str, int]:
    """Return the number of lines per level (every level present, zeros included)."""
    counts = {lv.value: 0 for lv in Level}
    for level, n in conn.execute("SELECT level, n FROM job_log_levels WHERE job_id = ?", (job_id,)):
        counts[level] = n
    return counts


def error_tail(conn: sqlite3.Connection, job_id: int, n: int = 20) -> list[LogLine]:
    """Return the last `n` error lines, oldest first (the failure a user wants to see)."""
    lines = _rows(conn.execute("SELECT seq, ts, stream, level, text FROM job_log INDEXED BY job_log_errors "
                               "WHERE job_id = ? AND level = 'error' ORDER BY seq DESC LIMIT ?", (job_id, n)))
    return lines[::-1]


def error_summary(conn: sqlite3.Connection, job_id: int, limit: int = 300) -> str:
    """Return the last error line without its absl prefix, one line, for the job's error field."""
    tail = error_tail(conn, job_id, 1)
    if not tail:
        return ""
    text = tail[0].text.strip()
    if _is_absl(text) and "] " in text:
        text = text.split("] ", 1)[1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iter_log_text(conn: sqlite3.Connection, job_id: int, chunk: int = 5000) -> Iterator[str]:
    """Yield the whole log as text lines ending in newline, in chunks of bounded memory."""
    since = 0
    while True:
        lines = read_log(conn, job_id, since, chunk)
        if not lines:
            return
        for line in lines:
            yield line.text + "\n"
        since = lines[-1].seq
