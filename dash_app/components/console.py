"""The terminal-style log console: dark, monospace, level-coloured lines, ANSI colours rendered.

The page owns the poll (one Interval per page) and calls `append_patch` with the console cursor;
this module renders lines as plain component dicts (cheap to encode), groups them in blocks of
CONSOLE_CHUNK_LINES keyed by id so React never re-mounts old lines, and trims whole head blocks
when the page holds more than `cap` lines. Filter, level toggles, follow/jump-to-end live in the
browser (assets/console.js). The cursor Store holds seq numbers only, never lines.

The page renders the console empty ("Loading log…"): its first poll loads the tail, so opening a
job with a million log lines sends a small page and then one bounded response.

The cursor's `job` is the one place a console's job id comes from; whoever reads it checks it with
`checked_job` (the caller must be allowed to see that job) and passes the checked id on: the read
functions below take the job id as an argument and ignore the cursor's.
"""
from __future__ import annotations

import re
import sqlite3
import time

import dash_bootstrap_components as dbc
from dash import Patch, dcc, html, no_update

from dash_app.context import conn as db_conn
from dash_app.context import require_account
from services import jobs
from services.jobs import joblog
from services.jobs.joblog import Level, LogLine
from services.people.users import User
from services.platform import defaults
from services.platform.errors import JobNotFound

LEVELS = [lv.value for lv in Level]
LEVEL_LABELS = {"info": "Info", "warning": "Warnings", "error": "Errors", "progress": "Progress",
                "success": "Success"}
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


def cid(kind: str, key: str) -> dict:
    """Return the id of one part of the console `key` (pattern-matching, so callbacks can MATCH)."""
    return {"type": f"console-{kind}", "key": key}


def count_id(key: str, level: str) -> dict:
    """Return the id of a level counter badge."""
    return {"type": "console-count", "key": key, "level": level}


# -- rendering ----------------------------------------------------------------------------------


def _sgr_classes(codes: str, state: dict) -> dict:
    """Return the ANSI state after one SGR sequence (bold, dim, italic, underline, fg, bg)."""
    for code in (codes or "0").split(";"):
        n = int(code) if code.isdigit() else 0
        if n == 0:
            state = {}
        elif n in (1, 2, 3, 4):
            state = {**state, {1: "bold", 2: "dim", 3: "italic", 4: "underline"}[n]: True}
        elif n in (22, 23, 24):
            state = {k: v for k, v in state.items() if k not in {22: ("bold", "dim"), 23: ("italic",),
                                                                  24: ("underline",)}[n]}
        elif 30 <= n <= 37 or 90 <= n <= 97:
            state = {**state, "fg": n}
        elif n == 39:
            state = {k: v for k, v in state.items() if k != "fg"}
        elif 40 <= n <= 47:
            state = {**state, "bg": n}
        elif n == 49:
            state = {k: v for k, v in state.items() if k != "bg"}
    return state


def _span(text: str, state: dict) -> dict | str:
    classes = [f"ansi-{k}" for k in ("bold", "dim", "italic", "underline") if state.get(k)]
    classes += [f"ansi-fg-{state['fg']}"] if "fg" in state else []
    classes += [f"ansi-bg-{state['bg']}"] if "bg" in state else []
    if not classes:
        return text
    return {"type": "Span", "namespace": "dash_html_components", "props": {"className": " ".join(classes),
                                                                          "children": text}}


def ansi_children(text: str) -> str | list:
    """Return a line's text with ANSI SGR colours as spans (other escapes dropped)."""
    if "\x1b" not in text:
        return text
    text = _OTHER_ESCAPES.sub("", text)
    parts, state, pos = [], {}, 0
    for m in _SGR.finditer(text):
        if m.start() > pos:
            parts.append(_span(text[pos:m.start()], state))
        state, pos = _sgr_classes(m.group(1), state), m.end()
    if pos < len(text):
        parts.append(_span(text[pos:], state))
    return parts if len(parts) != 1 else parts[0]


def render_line(line: LogLine) -> dict:
    """Return one log line as a component dict; its number and time show on hover."""
    stamp = time.strftime("%H:%M:%S", time.localtime(line.ts)) + f".{int(line.ts * 1000) % 1000:03d}"
    return {"type": "Div", "namespace": "dash_html_components",
            "props": {"className": f"fd-l fd-{line.level}", "title": f"line {line.seq} · {stamp}",
                      "data-n": line.seq, "children": ansi_children(line.text) or " "}}


def _block(key: str, lines: list[LogLine]) -> dict:
    """Return a block of lines; its id (from its first seq) keeps React from re-mounting it."""
    return {"type": "Div", "namespace": "dash_html_components",
            "props": {"id": f"console-{key}-b{lines[0].seq}", "className": "fd-block",
                      "children": [render_line(x) for x in lines]}}


def _split(lines: list[LogLine], chunk: int) -> list[list[LogLine]]:
    """Split consecutive lines at multiples of `chunk` (so live blocks line up across polls)."""
    groups: list[list[LogLine]] = []
    for line in lines:
        if not groups or (line.seq - 1) // chunk != (groups[-1][-1].seq - 1) // chunk:
            groups.append([])
        groups[-1].append(line)
    return groups


# -- cursor logic (pure: tests call these directly) -------------------------------------------


def fresh_cursor(job_id: int, cap: int) -> dict:
    """Return the cursor of a console that has not loaded any line yet (`last` None)."""
    return {"job": job_id, "blocks": [], "last": None, "cap": cap}


def clean_cursor(cursor) -> dict:
    """Return the cursor with only well-typed fields (it comes from the browser); raise JobNotFound if unusable."""
    if not isinstance(cursor, dict):
        raise JobNotFound("No job.")
    try:
        job = int(cursor.get("job"))
        blocks = [int(b) for b in cursor.get("blocks") or []]
        last = None if cursor.get("last") is None else max(0, int(cursor["last"]))
        cap = min(max(int(cursor.get("cap") or defaults.CONSOLE_MAX_LINES), 1), 10_000_000)
    except (TypeError, ValueError):
        raise JobNotFound("No job.") from None
    return {"job": job, "blocks": blocks, "last": last, "cap": cap}


def checked_job(conn: sqlite3.Connection, caller: User, cursor) -> tuple[jobs.Job, dict]:
    """Return the console's job, if `caller` may see it, and the cleaned cursor.

    Raises:
        JobNotFound: the cursor names no job the caller may see (or is malformed).
    """
    cursor = clean_cursor(cursor)
    return jobs.get_job(conn, caller, cursor["job"]), cursor


def initial(conn: sqlite3.Connection, key: str, job_id: int, cap: int,
            chunk: int = defaults.CONSOLE_CHUNK_LINES) -> tuple[list[dict], dict]:
    """Return the blocks holding the last `cap` lines of a job's log and the cursor for them."""
    last = joblog.last_seq(conn, job_id)
    lines = joblog.read_log(conn, job_id, max(0, last - cap), cap) if last else []
    groups = _split(lines, chunk)
    cursor = {"job": job_id, "blocks": [g[0].seq for g in groups], "last": lines[-1].seq if lines else 0,
              "cap": cap}
    return [_block(key, g) for g in groups], cursor


def append_patch(conn: sqlite3.Connection, key: str, job_id: int, cursor: dict,
                 limit: int = defaults.CONSOLE_POLL_MAX_LINES,
                 chunk: int = defaults.CONSOLE_CHUNK_LINES,
                 first: int = defaults.CONSOLE_FIRST_LINES) -> tuple[Patch | list | None, dict]:
    """Return a Patch that appends the lines of job `job_id` after the cursor and trims head blocks over the cap.

    A cursor that has loaded nothing yet (`last` None) gets the whole children instead: the last
    `first` lines (at most the cap), possibly none. Returns (None, cursor) when there is nothing
    new: one indexed read of zero rows.
    """
    if cursor["last"] is None:
        blocks, new = initial(conn, key, job_id, min(first, cursor["cap"]), chunk)
        return blocks, {**new, "cap": cursor["cap"]}
    lines = joblog.read_log(conn, job_id, cursor["last"], limit)
    if not lines:
        return None, cursor
    blocks, patch = list(cursor["blocks"]), Patch()
    groups = _split(lines, chunk)
    if blocks and cursor["last"] and (groups[0][0].seq - 1) // chunk == (cursor["last"] - 1) // chunk:
        patch[len(blocks) - 1]["props"]["children"].extend([render_line(x) for x in groups.pop(0)])
    for group in groups:
        patch.append(_block(key, group))
        blocks.append(group[0].seq)
    last = lines[-1].seq
    while len(blocks) > 1 and last - blocks[0] + 1 > cursor["cap"]:
        del patch[0]
        blocks.pop(0)
    return patch, {**cursor, "job": job_id, "blocks": blocks, "last": last}


def earlier_patch(conn: sqlite3.Connection, key: str, job_id: int, cursor: dict,
                  page: int = defaults.CONSOLE_EARLIER_LINES) -> tuple[Patch | None, dict]:
    """Return a Patch that prepends the page of job `job_id`'s lines before the first shown one, raising the cap."""
    first = cursor["blocks"][0] if cursor["blocks"] else (cursor["last"] or 0) + 1
    lines = joblog.read_log_before(conn, job_id, first, page)
    if not lines:
        return None, cursor
    patch = Patch()
    patch.prepend(_block(key, lines))
    return patch, {**cursor, "job": job_id, "blocks": [lines[0].seq] + list(cursor["blocks"]),
                   "cap": cursor["cap"] + len(lines)}


def has_earlier(cursor: dict) -> bool:
    """Return True if lines before the first shown one exist."""
    return bool(cursor["blocks"]) and cursor["blocks"][0] > 1


# -- the component ------------------------------------------------------------------------------


def counter_badges(key: str, counts: dict[str, int]) -> list:
    """Return the level toggle buttons with their counters."""
    return [html.Button([LEVEL_LABELS[lv], dbc.Badge(f"{counts.get(lv, 0):,}", id=count_id(key, lv), pill=True,
                                                     color="dark", className="ms-1")],
                        type="button", className=f"btn btn-sm btn-outline-secondary fd-level-toggle active fd-t-{lv}",
                        **{"data-level": lv, "aria-pressed": "true"}, title=f"Show or hide {lv} lines")
            for lv in LEVELS]


def console(conn: sqlite3.Connection, key: str, job_id: int, cap: int, download_href: str,
            live: bool = True) -> html.Div:
    """Return an empty console for a job's log ("Loading log…"), with its toolbar and cursor Store.

    The page's first poll fills it (`append_patch` with the fresh cursor), so the page itself stays small.
    """
    cursor = fresh_cursor(job_id, cap)
    counts = joblog.level_counts(conn, job_id)
    toolbar = html.Div([
        html.Label("Filter log lines", htmlFor=f"console-filter-{key}", className="visually-hidden"),
        dcc.Input(type="search", placeholder="Filter lines…",
                  className="form-control form-control-sm fd-console-filter",
                  id=f"console-filter-{key}", debounce=True, style={"maxWidth": "16rem"}),  # console.js filters
        html.Div(counter_badges(key, counts), className="btn-group flex-wrap", role="group",
                 **{"aria-label": "Show levels"}),
        html.Div([
            dcc.Clipboard(target_id=cid("lines", key), title="Copy the lines shown", id=cid("copy", key),
                          className="btn btn-sm btn-outline-secondary fd-console-copy"),
            html.A([html.I(className="bi bi-download me-1"), "Download log"], href=download_href,
                   className="btn btn-sm btn-outline-secondary", id=cid("download", key), download=""),
        ], className="ms-auto d-flex gap-2"),
    ], className="fd-console-toolbar")
    earlier = html.Div(html.Button([html.I(className="bi bi-arrow-up me-1"), "Load earlier lines"], type="button",
                                   className="btn btn-sm btn-link text-info", id=cid("earlier", key)),
                       id=cid("earlier-wrap", key), className="fd-console-earlier",
                       hidden=True)
    empty = "Waiting for the first log lines…" if live else "This job wrote no log lines."
    loading = html.Div("Loading log…", className="fd-console-loading", id=cid("loading", key))
    box = html.Div([earlier, html.Div([loading], id=cid("lines", key), className="fd-console-lines"),
                    html.Div(empty, className="fd-console-empty"),
                    html.Div(className="fd-console-nomatch", hidden=True, role="status")],
                   className="fd-console", tabIndex="0", role="log", id=cid("box", key),
                   **{"aria-label": "Job log", "aria-live": "off", "data-follow": "1"})
    jump = html.Button([html.I(className="bi bi-arrow-down me-1"), "Jump to end"], type="button",
                       className="btn btn-sm btn-info fd-console-jump", id=cid("jump", key))
    return html.Div([toolbar, html.Div([box, jump], className="fd-console-frame"),
                     dcc.Store(id=cid("cursor", key), data=cursor)],
                    className="fd-console-wrap", id=cid("wrap", key))


def load_earlier(key: str, cursor) -> tuple:
    """Return (lines patch, cursor, earlier hidden) for a "load earlier" click on console `key`.

    The page registers the callback (pages are set up per app; a component's module only once).
    """
    try:
        job, cursor = checked_job(db_conn(), require_account(), cursor)
    except JobNotFound:
        return no_update, no_update, True
    patch, cursor = earlier_patch(db_conn(), key, job.id, cursor)
    return (patch if patch is not None else no_update), cursor, not has_earlier(cursor)
