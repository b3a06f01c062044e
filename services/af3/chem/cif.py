"""Read CCD-style mmCIF text (the wwPDB `components.cif`, a job's `userCCD`) block by block; stdlib only.

Enough of CIF 1.1 for chemical-component files: `data_` blocks, `_key value` pairs, `loop_` tables,
quoted values and `;`-delimited text fields. Each block comes back as {`_category.item`: [values]},
the shape AF3's `cif_dict.parse_multi_data_cif(...).to_dict()` gives.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_TOKEN = re.compile(r"""'(.*?)'(?=\s|$)|"(.*?)"(?=\s|$)|(\S+)""")


class CifError(ValueError):
    """The text is not CIF this reader understands (e.g. an unterminated text field)."""


class _Block:
    """Collects one `data_` block's pairs and loops."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data: dict[str, list[str]] = {}
        self.loop_keys: list[str] | None = None
        self.loop_values: list[str] = []
        self.in_header = False
        self.pending: str | None = None

    def feed(self, token: str, quoted: bool) -> None:
        """Take one token in file order."""
        if not quoted and token == "loop_":
            self.end_loop()
            self.loop_keys, self.in_header = [], True
        elif not quoted and token.startswith("_"):
            if self.loop_keys is not None and self.in_header:
                self.loop_keys.append(token)
                return
            self.end_loop()
            self.pending = token
        elif self.loop_keys is not None:
            self.in_header = False
            self.loop_values.append(token)
        elif self.pending is not None:
            self.data[self.pending] = [token]
            self.pending = None

    def end_loop(self) -> None:
        """Spread a finished loop's values over its columns."""
        keys, values = self.loop_keys, self.loop_values
        if keys:
            width = len(keys)
            for i, key in enumerate(keys):
                self.data[key] = values[i::width]
        self.loop_keys, self.loop_values, self.in_header = None, [], False


def parse_blocks(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """Yield (block name, {key: values}) for every `data_` block of CIF text given line by line.

    Raises:
        CifError: a `;` text field is never closed.
    """
    block: _Block | None = None
    text: list[str] | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if text is not None:
            if line.startswith(";"):
                if block is not None:
                    block.feed("\n".join(text), True)
                text, line = None, line[1:]
            else:
                text.append(line)
                continue
        elif line.startswith(";"):
            text = [line[1:]]
            continue
        if line.startswith("data_"):
            if block is not None:
                block.end_loop()
                yield block.name, block.data
            block = _Block(line[5:].strip())
            continue
        if block is None or not line or line.lstrip().startswith("#"):
            continue
        for match in _TOKEN.finditer(line):
            if match.lastindex == 3 and match.group(3).startswith("#"):
                break
            block.feed(match.group(match.lastindex), match.lastindex != 3)
    if text is not None:
        raise CifError("a text field opened with ';' is never closed")
    if block is not None:
        block.end_loop()
        yield block.name, block.data


def parse_text(text: str) -> dict[str, dict[str, list[str]]]:
    """Return {block name: {key: values}} for CIF text (later blocks of the same name win)."""
    return dict(parse_blocks(text.splitlines()))
