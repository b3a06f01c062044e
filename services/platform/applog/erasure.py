"""Erasing a user from the application log: their name and their jobs' names become pseudonyms."""
from __future__ import annotations

import json
import re
import sqlite3

_RENAMED = re.compile(r"^job \d+ renamed from ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") to ")
_MIN_RAW_NAME_CHARS = 3  # shorter job names are replaced only where quoted or in brackets: "a" is in every word


def pseudonymise(conn: sqlite3.Connection, username: str, job_names: dict[int, str], alias: str) -> int:
    """Put `alias` for a user's name and "job #<id>" for their job names in every entry; return how many changed.

    The user's own entries (their name in `username`, or one of their jobs) get the name replaced
    wherever it stands as a word; every other entry only where it is quoted (admins' audit lines).
    Job names (including the ones a rename logged) go in the entries of that job. Run it in the
    transaction that erases the account, after `flush()` so queued records are in the table.
    """
    ids = json.dumps(list(job_names))
    like = "%" + username.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute("SELECT id, username, job_id, message FROM app_log WHERE username = ? "
                        "OR job_id IN (SELECT value FROM json_each(?)) OR message LIKE ? ESCAPE '\\'",
                        (username, ids, like)).fetchall()
    names = _logged_names(rows, job_names)
    word = re.compile(rf"(?<![\w.@-]){re.escape(username)}(?![\w@-])")
    changed = 0
    for row_id, who, job_id, message in rows:
        new = message
        for name in names.get(job_id, ()):
            new = new.replace(repr(name), f"'job #{job_id}'").replace(f"({name})", f"(job #{job_id})")
            if len(name) >= _MIN_RAW_NAME_CHARS:
                new = new.replace(name, f"job #{job_id}")
        for quoted in (repr(username), f'"{username}"'):
            new = new.replace(quoted, repr(alias))
        if who == username or job_id in job_names:
            new = word.sub(alias, new)
        if new != message or who == username:
            conn.execute("UPDATE app_log SET message = ?, username = CASE WHEN username = ? THEN ? ELSE username END "
                         "WHERE id = ?", (new, username, alias, row_id))
            changed += 1
    return changed


def _logged_names(rows: list, job_names: dict[int, str]) -> dict[int, list[str]]:
    """Return every name each job had (now, and before each logged rename), longest first."""
    import ast

    names = {job_id: {name} for job_id, name in job_names.items() if name}
    for _, _, job_id, message in rows:
        if job_id in names and (m := _RENAMED.match(message)):
            try:
                names[job_id].add(ast.literal_eval(m.group(1)))
            except (ValueError, SyntaxError):
                pass
    return {job_id: sorted(found, key=len, reverse=True) for job_id, found in names.items()}
