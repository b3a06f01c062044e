"""The `Problem` record every check returns, and small helpers to build paths and messages."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How bad a problem is: errors block submission, warnings only inform."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input document, where it is (JSON path) and what to do about it."""

    path: str
    message: str
    severity: str = Severity.ERROR.value

    @property
    def is_error(self) -> bool:
        """Tell whether this problem makes the document invalid."""
        return self.severity == Severity.ERROR.value


def join(base: str, key: str | int) -> str:
    """Return the JSON path of `key` inside `base` (`sequences[2].ligand.smiles`)."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def kind_of(value: Any) -> str:
    """Name a JSON value's type the way a non-programmer would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def show(value: Any, limit: int = 40) -> str:
    """Return a short, quoted rendering of a value for a message."""
    text = repr(value) if isinstance(value, str) else _compact(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact(value: Any) -> str:
    """Render a non-string value compactly (JSON-like)."""
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def is_int(value: Any) -> bool:
    """Tell whether a JSON value is an integer (true/false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def has_errors(problems: list[Problem]) -> bool:
    """Tell whether any problem is an error."""
    return any(p.is_error for p in problems)
