"""The command line: python -m services.jobs submit FILE --accept-terms [--user U]
     | list | show ID | log ID [--follow] | cancel ID | retry ID
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from enum import Enum
from pathlib import Path

from services.jobs import joblog
from services.jobs.actions import cancel_job, retry_job
from services.jobs.model import Job, JobState
from services.jobs.queries import get_job, list_jobs
from services.jobs.rules import waiting, wording
from services.jobs.submission import TERMS_URL, submit_document
from services.jobs.workers import list_workers
from services.people.users import User
from services.platform import defaults
from services.platform.errors import InvalidInput, TermsNotAccepted
from services.platform.settings import Settings


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _print_job(job: Job, why: str = "") -> None:
    for key in ("id", "name", "owner", "state", "tokens", "attempts", "host", "executor", "exit_code", "error",
                "output_path", "remote_output", "stage", "progress", "progress_detail"):
        value = getattr(job, key)
        value = value.value if isinstance(value, Enum) else value
        print(f"{key:<16} {'-' if value in (None, '') else value}")
    for key in ("submitted_at", "started_at", "finished_at"):
        print(f"{key:<16} {_fmt_time(getattr(job, key))}")
    reused = wording.reused_notes(wording.reused_groups(job))
    print(f"{'msa_reused':<16} {reused or '-'}")
    if why:  # a queued job: the claim's own verdict (services.jobs.rules.waiting), as the job page says it
        print(f"{'waiting':<16} {why}")


def _follow(conn: sqlite3.Connection, caller: User, job_id: int, follow: bool) -> None:
    since = 0
    while True:
        lines = joblog.read_log(conn, job_id, since, 5000)
        for line in lines:
            print(line.text, flush=False)
        sys.stdout.flush()
        since = lines[-1].seq if lines else since
        if lines:
            continue
        if not follow or get_job(conn, caller, job_id).is_finished:
            if not joblog.read_log(conn, job_id, since, 1):
                return
        time.sleep(0.3)


EXIT_REFUSED, EXIT_UNREADABLE = 1, 2  # as `python -m services.af3 validate`: 1 invalid or refused, 2 unreadable


def problem_lines(problems: list, limit: int = defaults.CLI_MAX_PROBLEMS_SHOWN) -> list[str]:
    """Return problems as "path: message" lines, the first `limit` and then "… and N more"."""
    lines = []
    for p in problems[:limit]:
        path, message = getattr(p, "path", None), getattr(p, "message", None)
        lines.append(f"{path or '(top level)'}: {message}" if message is not None else str(p))
    if len(problems) > limit:
        lines.append(f"… and {len(problems) - limit:,} more")
    return lines


def _cli_submit(conn: sqlite3.Connection, settings: Settings, caller: User, path: Path, accept_terms: bool) -> int:
    """Read, check and queue one file; print the jobs made, or why not (exit 2: the file cannot be read)."""
    from services.af3 import input_files, load_json_text

    try:
        size = path.stat().st_size
        if size > defaults.CLI_SUBMIT_MAX_BYTES:  # checked before reading: a 5 GB file must not fill the memory
            raise InvalidInput(f"The file is {size:,} bytes, more than the {defaults.CLI_SUBMIT_MAX_BYTES:,} allowed.")
        doc = load_json_text(path.read_bytes(), defaults.CLI_SUBMIT_MAX_BYTES)
    except OSError as exc:
        print(f"error: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except InvalidInput as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        files = input_files.files_beside(doc, path)  # MSAs, templates, user CCD next to the JSON (issue 22)
        made = submit_document(conn, settings, caller, doc, accept_terms=accept_terms, via="cli", files=files)
    except TermsNotAccepted as exc:
        print(f"error: {exc} Read them, then submit again with --accept-terms.", file=sys.stderr)
        return EXIT_REFUSED
    for job in made:
        print(f"submitted job {job.id} ({job.name}, {job.tokens} tokens)")
    if made and not list_workers(conn):
        print("note: no worker is running yet: start FoldDeck with `make run` (or "
              "`python -m services.running.worker`) and "
              "the job starts.", file=sys.stderr)  # stderr: stdout lists only the jobs, for scripts
    return 0


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.jobs", description="Submit and inspect FoldDeck jobs.")
    parser.add_argument("--user", default="admin", help="act as this user (default: admin)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("submit", help="submit an input JSON file (either dialect)")
    p.add_argument("file", type=Path)
    p.add_argument("--user", dest="sub_user", help="owner of the new jobs")
    p.add_argument("--accept-terms", action="store_true",
                   help=f"accept the AlphaFold 3 model-parameter terms of use ({TERMS_URL}); required")
    p = sub.add_parser("list", help="list jobs")
    p.add_argument("--state", choices=[s.value for s in JobState])
    p.add_argument("--limit", type=int, default=50)
    for verb in ("show", "cancel", "retry"):
        sub.add_parser(verb, help=f"{verb} a job").add_argument("id", type=int)
    p = sub.add_parser("log", help="print a job's log")
    p.add_argument("id", type=int)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job finishes")
    return parser


def main(argv: list[str] | None = None) -> int:
    from services.people.users import ensure_admin, first_admin_banner, get_by_name
    from services.platform import boot
    from services.platform.db import connect
    from services.platform.errors import FoldDeckError, SettingsError

    args = _cli_parser().parse_args(argv)
    try:
        settings = boot.boot("jobs")  # the env file's CCD judges ligands here exactly as `services.af3 validate`
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    conn = connect(settings.db_path)
    # A fresh install used from the command line before `make run`: the admin it acts as is made here,
    # exactly as the first web start would (its password shown once, on stderr: stdout stays parseable).
    if password := ensure_admin(conn):
        print(first_admin_banner(password), file=sys.stderr)
    try:
        caller = get_by_name(conn, getattr(args, "sub_user", None) or args.user)
        if args.cmd == "submit":
            return _cli_submit(conn, settings, caller, args.file, args.accept_terms)
        elif args.cmd == "list":
            jobs, total = list_jobs(conn, caller, state=args.state, all_users=True, limit=args.limit)
            print(f"{'ID':>6} {'STATE':<10} {'OWNER':<12} {'SUBMITTED':<19} NAME")
            for j in jobs:
                print(f"{j.id:>6} {j.state.value:<10} {j.owner:<12} {_fmt_time(j.submitted_at):<19} {j.name}")
            print(f"({len(jobs)} of {total})")
        elif args.cmd == "show":
            job = get_job(conn, caller, args.id)
            _print_job(job, waiting.reason(conn, settings, job))
        elif args.cmd == "log":
            get_job(conn, caller, args.id)
            _follow(conn, caller, args.id, args.follow)
        elif args.cmd == "cancel":
            print(f"job {args.id} is {cancel_job(conn, caller, args.id).state.value}"
                  + (" (stopping)" if get_job(conn, caller, args.id).state is JobState.RUNNING else ""))
        elif args.cmd == "retry":
            print(f"job {args.id} is {retry_job(conn, caller, args.id, settings).state.value}")
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        for line in problem_lines(exc.problems):
            print(f"  - {line}", file=sys.stderr)
        return 1
    except (FoldDeckError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
