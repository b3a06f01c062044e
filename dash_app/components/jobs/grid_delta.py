"""Send a grid only the rows that changed: AG Grid row transactions worked out from a cursor.

The dashboard's cursor lists the rows the grid shows, in order, each with a short token of the
job columns its row is drawn from (`job_grid.ROW_COLUMNS`). A tick compares that list with the
page the database holds now and answers with one transaction: `remove` the rows that left the
page, `update` the rows whose token moved (or that the caller marks dirty: queue positions, a run
time's minute), `add` the new rows as one block at `addIndex`. When the new order cannot be reached
that way (a sort moved rows past each other) there is no plan and the page is sent whole.

The cursor and the transaction travel in the same response, so the browser's cursor always names
what its grid shows: a lost or superseded answer leaves both as they were, and the next tick works
from there.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

Keys = list[tuple[int, str]]  # (job id, token), top to bottom


def token(text: str) -> str:
    """Return a short, process-independent token of a row's source values (Python's hash is salted per worker)."""
    return format(zlib.crc32(text.encode()), "x")


def encode(keys: Keys) -> str:
    """Return the cursor's compact form of a page's rows: `id:token,id:token`."""
    return ",".join(f"{i}:{t}" for i, t in keys)


def decode(text: object) -> Keys | None:
    """Return the rows a cursor names, or None when it names none we can trust (then the page is sent whole)."""
    if not isinstance(text, str):
        return None
    if not text:
        return []
    try:
        keys = [(int(i), t) for i, _, t in (part.partition(":") for part in text.split(","))]
    except ValueError:
        return None
    return keys if len({i for i, _ in keys}) == len(keys) else None


@dataclass(frozen=True)
class Plan:
    update: list[int] = field(default_factory=list)
    add: list[int] = field(default_factory=list)  # in page order
    add_index: int = 0
    remove: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.update or self.add or self.remove)


def plan(old: Keys, new: Keys, dirty: set[int] = frozenset()) -> Plan | None:
    """Return the transaction that turns the grid's rows `old` into `new`, or None when the page must be sent whole.

    `dirty`: rows to send again although their token did not move (what they show depends on more
    than their own columns).
    """
    old_tok, new_tok = dict(old), dict(new)
    new_ids = [i for i, _ in new]
    kept_old = [i for i, _ in old if i in new_tok]
    kept_new = [i for i in new_ids if i in old_tok]
    if kept_old != kept_new:
        return None  # rows moved past each other: a transaction cannot reorder them
    added_at = [n for n, i in enumerate(new_ids) if i not in old_tok]
    if added_at and added_at[-1] - added_at[0] + 1 != len(added_at):
        return None  # new rows in more than one place: addIndex takes one block
    update = [i for i in kept_new if old_tok[i] != new_tok[i] or i in dirty]
    remove = [i for i, _ in old if i not in new_tok]
    return Plan(update, [new_ids[n] for n in added_at], added_at[0] if added_at else 0, remove)


def transaction(p: Plan, rows: dict[int, dict]) -> dict:
    """Return the AG Grid rowTransaction of a plan (`rows`: the rendered rows to update and add, by id).

    `async: False`: applied at once, so the grid's rowData (which dash-ag-grid copies back after a
    transaction) already holds it when the next callback reads it.
    """
    tx: dict = {"async": False}
    if p.remove:
        tx["remove"] = [{"id": i} for i in p.remove]
    if p.update:
        tx["update"] = [rows[i] for i in p.update]
    if p.add:
        tx["add"], tx["addIndex"] = [rows[i] for i in p.add], p.add_index
    return tx
