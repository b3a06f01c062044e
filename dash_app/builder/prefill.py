"""Structural edits of the builder form (cards, rows, seeds, bonds) and pre-filling it from FASTA, an AF3 or
AlphaFold Server JSON file, or a copy of one of the user's jobs."""
from __future__ import annotations

import base64
import random
from pathlib import Path

from dash_app import upload_state as U
from dash_app.builder import entity_card as EC
from dash_app.builder import state as B
from dash_app.builder.af3_json import entities_from_fasta, from_af3, from_af3_as_written, to_af3
from dash_app.builder.feedback import error_alert, info_note, loaded_with_problems
from dash_app.builder.ids import (
    ADD,
    BOND_ADD,
    BOND_DEL,
    CLONE_LOAD,
    FASTA_APPLY,
    FASTA_UPLOAD,
    FILES_UPLOAD,
    JSON_UPLOAD,
    SEED_ADD,
    SEED_DEL,
    SEED_INPUT,
    SEED_RANDOM,
)
from dash_app.context import conn, require_account, settings
from services import jobs
from services.af3 import input_files, load_json_text, server_to_af3
from services.platform.errors import FoldDeckError, InvalidInput


def restructure(state: dict, trig, *, fasta=None, seed=None, fasta_file=None, json_file=None, json_name=None,
                clone_id=None, files=None, file_names=None) -> tuple[dict, object]:
    """Return the state after the structural action `trig` (a component id) and a message to show."""
    kind = next((k for k, i in ADD.items() if i == trig), None)
    if kind:
        return B.add_entity(state, kind), None
    if isinstance(trig, dict):
        new = _restructure_pattern(state, trig)
        return (B.touch(new, "seeds") if trig["type"] == SEED_DEL else new), None
    if trig in (SEED_ADD, SEED_INPUT):
        value = B.as_int(seed)
        if value is None or not 0 <= value <= B.MAX_SEED:
            return B.touch(B.add_seed(state), "seeds"), None
        return B.touch({**state, "seeds": [*state["seeds"], value]}, "seeds"), None
    if trig == SEED_RANDOM:
        return B.touch(B.add_seed(state, random.SystemRandom()), "seeds"), None
    if trig == BOND_ADD:
        return {**state, "bonds": [*state["bonds"], {f: "" if "res" not in f else None for f in B.BOND_FIELDS}]}, None
    if trig in (FASTA_APPLY, FASTA_UPLOAD):
        text = fasta if trig == FASTA_APPLY else decode_upload(fasta_file)
        new = entities_from_fasta(state, text or "")
        old_uids = {e["uid"] for e in state["entities"]}
        return B.touch(new, *[f"{e['uid']}:sequence" for e in new["entities"] if e["uid"] not in old_uids]), None
    if trig == JSON_UPLOAD:
        return state_from_upload(json_file, json_name)
    if trig == FILES_UPLOAD:
        return state_with_files(state, files or [], file_names or [])
    if trig == CLONE_LOAD and clone_id:
        return state_from_job(clone_id)
    return state, None


def _restructure_pattern(state: dict, trig: dict) -> dict:
    """Apply a click on a pattern-matching button (card, modification row, seed or bond)."""
    kind, index = trig["type"], trig["index"]
    if kind == EC.DUP:
        return B.duplicate_entity(state, index)
    if kind == EC.DEL:
        return B.remove_entity(state, index)
    if kind == EC.MOD_ADD:
        e = next(e for e in state["entities"] if e["uid"] == index)
        return B.update_entity(state, index, mods=[*e["mods"], {"code": "", "position": None}])
    if kind == EC.MOD_DEL:
        e = next(e for e in state["entities"] if e["uid"] == index)
        return B.update_entity(state, index, mods=[m for r, m in enumerate(e["mods"]) if r != trig["row"]])
    if kind == SEED_DEL:
        return {**state, "seeds": [s for k, s in enumerate(state["seeds"]) if k != index]}
    if kind == BOND_DEL:
        return {**state, "bonds": [b for k, b in enumerate(state["bonds"]) if k != index]}
    return state


def decode_upload(contents: str | None) -> bytes:
    """Return the bytes of a dcc.Upload data URL."""
    if not contents:
        return b""
    return base64.b64decode(contents.split(",", 1)[-1])


def state_with_files(state: dict, contents: list[str], names: list[str]) -> tuple[dict, object]:
    """Return the form with the text of dropped MSA / template / CCD files in the fields of the loaded JSON
    that name them (issue 22: the builder sends a job's files as their text), and a note.

    Raises:
        InvalidInput: a file is over the upload limit or cannot be read as text.
    """
    cap = settings().upload_max_bytes
    uploads = {}
    for name, body in zip(names, contents, strict=True):
        data = decode_upload(body)
        if len(data) > cap:
            raise InvalidInput(U.too_large_message(len(data), cap, sent=True))
        uploads[name] = data
    try:
        doc, used, left = input_files.inline_sent(to_af3(state), uploads)
    except input_files.InputFileRefused as exc:
        raise InvalidInput(str(exc)) from None
    if not used:
        raise InvalidInput(f"No path in the form names {', '.join(names)}: load the JSON that names them first.")
    new, notes = from_af3(doc)
    unused = [n for n in names if n not in used]
    text = f"Put the text of {', '.join(used)} into the job." + (
        f" Still naming a file: {', '.join(left)}." if left else "") + (
        f" Not named by the job: {', '.join(unused)}." if unused else "")
    return {**new, "attempted": True}, info_note(text, notes)


def state_from_upload(contents: str | None, filename: str | None) -> tuple[dict, object]:
    """Return the form state for an uploaded AF3 / server JSON (its first job) and a note.

    A job with problems is loaded as written with each problem at its field; the note lists them in the
    upload page's words (the same reader: `upload_state.read_file`).
    """
    name = filename or "the file"
    mine = jobs.effective_limits(conn(), require_account().id)
    result = U.read_file(0, name, decode_upload(contents), settings().upload_max_bytes, mine.jobs_per_submit,
                         mine.tokens_per_job)
    if result.error:
        raise InvalidInput(f"{name}: {result.error}")
    first = result.rows[0]
    if first.af3 is not None:
        state, notes = from_af3(first.af3)
    else:
        doc = _as_written_af3(load_json_text(decode_upload(contents), settings().upload_max_bytes))
        if doc is None:
            raise InvalidInput(f"{name}: the first job is not laid out as AlphaFold 3 or AlphaFold Server JSON; "
                               "fix these problems first.", first.problems)
        state, notes = from_af3_as_written(doc)
    state = {**state, "attempted": True}  # a loaded file's problems show at once, at their fields
    if len(result.rows) > 1:
        notes.append(f"The file holds {len(result.rows)} jobs; the first one was loaded. Use Upload to queue them "
                     "all.")
    if first.problems:
        return state, loaded_with_problems(name, first.problems, notes)
    return state, info_note(f"Loaded {name}.", notes)


def _as_written_af3(doc) -> dict | None:
    """Return the first job of a file as AF3-dialect JSON, problems and all; None when its layout is too broken
    to convert (a server job whose fields have the wrong types)."""
    if isinstance(doc, dict):
        return doc
    if not (isinstance(doc, list) and doc and isinstance(doc[0], dict)):
        return None
    try:
        return server_to_af3(doc[0])
    except (TypeError, KeyError, ValueError, AttributeError, IndexError):  # the converter assumes a valid layout
        return None


def state_from_job(job_id) -> tuple[dict, object]:
    """Return the form state for a copy of one of the user's jobs (the caller must see it) and a note."""
    try:
        job = jobs.get_job(conn(), require_account(), int(job_id))
        state, notes = from_af3(_with_files_inline(job))
    except (FoldDeckError, ValueError, OSError) as exc:
        return B.empty_state(), error_alert(f"Could not load job {job_id}: {exc}", [])
    state = {**state, "name": copy_name(job.name), "attempted": True}
    return state, info_note(f"Loaded a copy of job #{job.id} ({job.name}); nothing is queued until you submit.", notes)


def _with_files_inline(job) -> dict:
    """Return a job's input with the text of the files sent with it in place of their paths, so its copy
    carries them (issue 22); a path the rule refuses stays, and the submit names it."""
    doc = job.read_input()
    try:
        return input_files.inline(doc, Path(job.input_path).parent, settings().shared_input_dirs)
    except input_files.InputFileRefused:
        return doc


def copy_name(name: str) -> str:
    """Return the name of a copy: the job's own with " (copy)" added."""
    return f"{name} (copy)"
