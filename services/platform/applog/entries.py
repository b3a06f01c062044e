"""The application log's entries: levels, one entry, the filters a reader asks with, the CSV columns."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Level(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class LogEntry:
    id: int
    ts: float
    level: str
    source: str
    username: str | None
    job_id: int | None
    address: str | None
    message: str


@dataclass(frozen=True)
class LogFilters:
    """What to show; empty fields do not filter. `since`/`until` are unix seconds, inclusive."""

    levels: tuple[str, ...] = ()
    source: str | None = None
    username: str | None = None
    job_id: int | None = None
    text: str | None = None
    since: float | None = None
    until: float | None = None


CSV_HEADER = ("id", "time", "level", "source", "user", "job", "address", "message")
