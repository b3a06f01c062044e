"""Turn uploaded bytes into a JSON value, refusing binary, non-UTF-8, oversized or broken files clearly."""
from __future__ import annotations

import json
from typing import Any

from services.platform.errors import InvalidInput


def load_json_text(data: bytes | str, max_bytes: int | None = None) -> Any:
    """Parse JSON text for an AF3 input.

    Args:
        data: the file's bytes (or already-decoded text).
        max_bytes: refuse anything larger than this; None means no limit.
    Returns:
        the parsed JSON value (any type; validation comes later).
    Raises:
        InvalidInput: too large, binary, invalid UTF-8 (with byte offset) or broken JSON (line, column).
    """
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if max_bytes is not None and size > max_bytes:
        raise InvalidInput(f"The file is {_human(size)}, more than the {_human(max_bytes)} allowed.")
    text = _decode(data) if isinstance(data, (bytes, bytearray)) else data
    if "\x00" in text:
        raise InvalidInput("This looks like a binary file (it contains NUL bytes), not JSON text.")
    text = text.removeprefix("\ufeff")  # a UTF-8 BOM written by Windows editors is harmless
    if not text.strip():
        raise InvalidInput("The file is empty; expected a JSON object or list.")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(_describe_json_error(exc, text)) from None
    except ValueError as exc:  # NaN / Infinity from _reject_constant
        raise InvalidInput(f"The file is not valid JSON: {exc}; write a number or null instead.") from None
    except RecursionError:
        raise InvalidInput("The JSON is nested too deeply to be an AlphaFold 3 input.") from None


def _decode(data: bytes | bytearray) -> str:
    """Decode UTF-8, naming the byte offset of the first bad byte."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput("This looks like a binary file (it contains NUL bytes), not JSON text.")
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"The file is not valid UTF-8 text: byte {exc.start} (0x{data[exc.start]:02x}) cannot be decoded. "
            "Save it as UTF-8 (plain JSON) and try again."
        ) from None


def _reject_constant(name: str) -> Any:
    """Refuse NaN/Infinity, which Python accepts but JSON does not."""
    raise ValueError(f"{name} is not valid JSON")


def _describe_json_error(exc: json.JSONDecodeError, text: str) -> str:
    """Explain a JSON syntax error with line, column and a hint for the usual mistakes."""
    where = f"line {exc.lineno}, column {exc.colno}"
    hint = ""
    tail = text[exc.pos:exc.pos + 1]
    before = text[:exc.pos].rstrip()[-1:]
    if exc.msg.startswith("Expecting property name") and before == ",":
        hint = " A trailing comma before '}' is not allowed in JSON."
    elif exc.msg.startswith("Expecting value") and before == "," and tail in "]}":
        hint = " A trailing comma before ']' or '}' is not allowed in JSON."
    elif exc.msg.startswith("Invalid \\escape"):
        hint = " Backslashes inside text (e.g. in SMILES) must be written twice: \\\\."
    elif tail in ("/", "#"):
        hint = " JSON does not allow comments."
    return f"The file is not valid JSON: {exc.msg.lower()} at {where}.{hint}"


def _human(n: int) -> str:
    """Format a byte count for people."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
